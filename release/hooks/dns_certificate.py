"""Custom resource (a hosted zone in another account): an ACM certificate validated by DNS in that zone.

CloudFormation validates a certificate by itself only when the domain's hosted zone is in the stack's own
account (AWS::CertificateManager::Certificate, DomainValidationOption). With the zone in another account,
this resource, run by the custom resource provider framework, does what it would:

- ``on_event`` Create (or Update with other names): RequestCertificate (DNS validation) in the stack's
  account and region; the certificate's ARN is the resource's physical ID. Update with the same names:
  nothing. Delete: DeleteCertificate (already gone: nothing to do).
- ``is_complete``: DescribeCertificate. Its validation records, once ACM has made them, are written into
  the zone (UPSERT, CNAME) as the zone account's writer role, which only this stack's DNS roles may assume
  and which may only upsert ``_*`` CNAMEs under this copy's names; then the resource waits until ACM says
  ISSUED. Any other status (FAILED, VALIDATION_TIMED_OUT, ...) fails the resource with ACM's reason.

The validation records are never deleted: ACM renews the certificate with the same records (ACM user guide,
"Managed renewal for ACM's public certificates").
"""

from __future__ import annotations

import contextlib
import hashlib

PENDING = "PENDING_VALIDATION"
ISSUED = "ISSUED"
# How long a validation record is cached; ACM's own examples use 300 seconds.
RECORD_TTL = 300


def boto3_client(name, **credentials):
    import boto3  # noqa: PLC0415 (in Lambda's runtime; tests pass stubbed clients)

    return boto3.client(name, **credentials)


def zone_writer(role_arn: str, clients=boto3_client):
    """Route 53 as the zone account's writer role."""
    credentials = clients("sts").assume_role(RoleArn=role_arn, RoleSessionName="certificate-validation")[
        "Credentials"
    ]
    return clients(
        "route53",
        aws_access_key_id=credentials["AccessKeyId"],
        aws_secret_access_key=credentials["SecretAccessKey"],
        aws_session_token=credentials["SessionToken"],
    )


def names_of(properties: dict) -> list[str]:
    return list(properties["DomainNames"])


def on_event(event, context, *, acm=None):
    acm = acm or boto3_client("acm")
    kind = event["RequestType"]
    properties = event["ResourceProperties"]
    if kind == "Delete":
        arn = event["PhysicalResourceId"]
        if arn.startswith("arn:"):  # a failed create leaves no certificate
            with contextlib.suppress(acm.exceptions.ResourceNotFoundException):
                acm.delete_certificate(CertificateArn=arn)
        return {"PhysicalResourceId": arn}
    if kind == "Update" and names_of(event["OldResourceProperties"]) == names_of(properties):
        return {"PhysicalResourceId": event["PhysicalResourceId"]}
    names = names_of(properties)
    request = {
        "DomainName": names[0],
        "ValidationMethod": "DNS",
        # One certificate per request, however often the framework retries this call.
        "IdempotencyToken": hashlib.sha256(event["RequestId"].encode()).hexdigest()[:32],
    }
    if names[1:]:
        request["SubjectAlternativeNames"] = names[1:]
    arn = acm.request_certificate(**request)["CertificateArn"]
    return {"PhysicalResourceId": arn}


def validation_changes(certificate: dict) -> list[dict] | None:
    """UPSERTs of the certificate's validation CNAMEs (one per distinct record); None until ACM made all."""
    options = certificate.get("DomainValidationOptions", [])
    records = [option.get("ResourceRecord") for option in options]
    if not options or None in records:
        return None
    unique = {record["Name"]: record for record in records}
    return [
        {
            "Action": "UPSERT",
            "ResourceRecordSet": {
                "Name": record["Name"],
                "Type": record["Type"],
                "TTL": RECORD_TTL,
                "ResourceRecords": [{"Value": record["Value"]}],
            },
        }
        for record in unique.values()
    ]


def is_complete(event, context, *, acm=None, route53=None):
    if event["RequestType"] == "Delete":
        return {"IsComplete": True}
    acm = acm or boto3_client("acm")
    properties = event["ResourceProperties"]
    arn = event["PhysicalResourceId"]
    certificate = acm.describe_certificate(CertificateArn=arn)["Certificate"]
    status = certificate["Status"]
    if status == ISSUED:
        return {"IsComplete": True, "Data": {"CertificateArn": arn}}
    if status != PENDING:
        reason = certificate.get("FailureReason", "no reason given")
        raise RuntimeError(f"certificate {arn} for {', '.join(names_of(properties))} is {status}: {reason}")
    changes = validation_changes(certificate)
    if changes:
        writer = route53 or zone_writer(properties["WriterRoleArn"])
        writer.change_resource_record_sets(
            HostedZoneId=properties["HostedZoneId"],
            ChangeBatch={"Comment": f"DNS validation of {arn}", "Changes": changes},
        )
    return {"IsComplete": False}
