"""The answer a Lambda-backed custom resource owes CloudFormation: a PUT of JSON to the request's URL.

The fields are CloudFormation's custom-resource response object (CloudFormation User Guide, "Custom
resource response objects"); the body must stay under 4,096 bytes.
"""

from __future__ import annotations

import json
import urllib.request

SUCCESS, FAILED = "SUCCESS", "FAILED"
# CloudFormation's limit for a response body; a longer reason is cut to fit.
MAX_BODY = 4096


def send(url: str, body: bytes) -> None:
    request = urllib.request.Request(url, data=body, method="PUT", headers={"Content-Type": ""})
    with urllib.request.urlopen(request, timeout=30) as response:
        response.read()


def respond(event, status, *, physical_id, reason="", data=None, put=send):
    """Tell CloudFormation how ``event`` ended: SUCCESS or FAILED, the resource's ID, ``data`` for Fn::GetAtt."""
    answer = {
        "Status": status,
        "Reason": reason or status,
        "PhysicalResourceId": physical_id,
        "StackId": event["StackId"],
        "RequestId": event["RequestId"],
        "LogicalResourceId": event["LogicalResourceId"],
        "Data": data or {},
    }
    body = json.dumps(answer).encode()
    if len(body) > MAX_BODY:
        answer["Reason"] = (
            answer["Reason"][: max(len(answer["Reason"]) - (len(body) - MAX_BODY) - 3, 0)] + "..."
        )
        body = json.dumps(answer).encode()
    print(f"{status}: {answer['Reason']}", flush=True)
    put(event["ResponseURL"], body)
