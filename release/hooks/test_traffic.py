"""Test-traffic hook: request the green tasks through the test listener before production shifts.

Runs as a Lambda function in the service's VPC, after test traffic reaches the
green tasks (CodeDeploy's AfterAllowTestTraffic, ECS's POST_TEST_TRAFFIC_SHIFT).
TEST_URL is the test listener's URL with the configured path. The deployment
continues to the production traffic shift only when the URL answers 2xx or 3xx
within ATTEMPTS tries; otherwise it fails and rolls back. Redirects are followed only while they stay on
the test listener (scheme, host and port); one that leads elsewhere, for
example to production and so the blue task set, counts as the answer.
"""

from __future__ import annotations

import os
import time
import urllib.error
import urllib.parse
import urllib.request

ATTEMPTS = 5
PAUSE_SECONDS = 6
TIMEOUT_SECONDS = 10


class _SameListener(urllib.request.HTTPRedirectHandler):
    """Follow a redirect only on the test listener; one elsewhere (production: blue) is the answer."""

    def redirect_request(self, req, fp, code, msg, headers, newurl):  # noqa: PLR0917
        if urllib.parse.urlsplit(newurl)[:2] != urllib.parse.urlsplit(req.full_url)[:2]:
            return None
        return super().redirect_request(req, fp, code, msg, headers, newurl)


_OPENER = urllib.request.build_opener(_SameListener)


def probe(url: str) -> str | None:
    """None when ``url`` answers 2xx/3xx (after redirects on the test listener), else what went wrong."""
    try:
        with _OPENER.open(url, timeout=TIMEOUT_SECONDS) as response:
            status = response.status
    except urllib.error.HTTPError as error:
        status = error.code
    except (urllib.error.URLError, OSError) as error:
        return f"{url}: {error}"
    return None if 200 <= status < 400 else f"{url}: HTTP {status}"


def check(sleep) -> bool:
    """Whether TEST_URL answers 2xx/3xx within ATTEMPTS tries, PAUSE_SECONDS apart."""
    url = os.environ["TEST_URL"]
    problem = "not tried"
    for attempt in range(1, ATTEMPTS + 1):
        problem = probe(url)
        if problem is None:
            break
        print(f"attempt {attempt}/{ATTEMPTS}: {problem}")
        if attempt < ATTEMPTS:
            sleep(PAUSE_SECONDS)
    print(f"test traffic check {'passed' if problem is None else 'failed'}: {url}")
    return problem is None


def handler(event, context, *, client=None, sleep=time.sleep) -> str:
    """CodeDeploy: report Succeeded or Failed for the hook execution."""
    status = "Succeeded" if check(sleep) else "Failed"
    if client is None:
        import boto3  # noqa: PLC0415 (present in the Lambda runtime, not needed to test the logic)

        client = boto3.client("codedeploy")
    client.put_lifecycle_event_hook_execution_status(
        deploymentId=event["DeploymentId"],
        lifecycleEventHookExecutionId=event["LifecycleEventHookExecutionId"],
        status=status,
    )
    return status


def ecs_handler(event, context, *, ecs=None, sleep=time.sleep) -> dict:
    """Amazon ECS: answer SUCCEEDED or FAILED; ECS rolls the deployment back on FAILED.

    ECS also runs hooks in the deployment that creates the service, which runs its first revision
    (the bootstrap image, on a new stack): nothing of a release to check, so it passes.
    """
    if ecs is None:
        import boto3  # noqa: PLC0415 (present in the Lambda runtime, not needed to test the logic)

        ecs = boto3.client("ecs")
    try:
        (deployment,) = ecs.describe_service_deployments(serviceDeploymentArns=[event["resourceArn"]])[
            "serviceDeployments"
        ]
    except Exception as error:  # an exception would roll back too; say why
        print(f"test traffic check failed: {error!r}")
        return {"hookStatus": "FAILED"}
    if not deployment.get("sourceServiceRevisions"):
        print("the deployment that creates the service (its first revision): nothing to check")
        return {"hookStatus": "SUCCEEDED"}
    return {"hookStatus": "SUCCEEDED" if check(sleep) else "FAILED"}
