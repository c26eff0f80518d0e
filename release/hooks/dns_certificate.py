"""Custom resource (a hosted zone in another account): an ACM certificate validated by DNS in that zone.

CloudFormation validates a certificate by itself only when the domain's hosted zone is in the stack's own
account (AWS::CertificateManager::Certificate, DomainValidationOption). With the zone in another account,
this resource, run by the custom resource provider framework, does what it would:

- ``on_event`` Create (or Update with other names than the current certificate's): RequestCertificate (DNS
  validation) in the stack's account and region; the certificate's ARN is the resource's physical ID. Update
  with the current certificate's names (unchanged, or a failed update rolling back): nothing.
- ``is_complete`` on Delete: DeleteCertificate once ACM no longer lists a user of it (``InUseBy``), looked at
  again every 30 seconds (already gone: nothing to do).
- ``is_complete`` otherwise: DescribeCertificate. Its validation records, once ACM has made them, are written into
  the zone (UPSERT, CNAME) as the zone account's writer role, which only this stack's DNS roles may assume
  and which may only upsert ``_*`` CNAMEs under this copy's names; then the resource waits until ACM says
  ISSUED. Any other status (FAILED, VALIDATION_TIMED_OUT, ...) fails the resource with ACM's reason.

The validation records are never deleted: ACM renews the certificate with the same records (ACM user guide,
"Managed renewal for ACM's public certificates").
"""

from __future__ import annotations

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
    if kind == "Delete":  # deleted by is_complete, once nothing uses it
        return {"PhysicalResourceId": event["PhysicalResourceId"]}
    if kind == "Update" and covers(acm, event["PhysicalResourceId"], names_of(properties)):
        # The same names, or a failed update rolled back to the names the current certificate has (CloudFormation
        # then sends an Update with the previous properties): keep it rather than request another.
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


def covers(acm, arn: str, names: list[str]) -> bool:
    """Whether certificate ``arn`` is for exactly ``names`` (its domain name first)."""
    if not arn.startswith("arn:"):
        return False
    try:
        certificate = acm.describe_certificate(CertificateArn=arn)["Certificate"]
    except acm.exceptions.ResourceNotFoundException:
        return False
    alternatives = [
        n for n in certificate.get("SubjectAlternativeNames", []) if n != certificate["DomainName"]
    ]
    return [certificate["DomainName"], *alternatives] == names


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


def deleted(acm, arn: str) -> bool:
    """Delete the certificate once no load balancer uses it; whether it is gone.

    A listener deleted just before still shows in ``InUseBy`` for a while (aws/aws-cdk#4179: "it can take
    around 10s for ACM to acknowledge that the certificate is no longer in use"): wait, and look again.
    """
    if not arn.startswith("arn:"):  # a create that failed before it requested anything
        return True
    try:
        if acm.describe_certificate(CertificateArn=arn)["Certificate"].get("InUseBy"):
            return False
        acm.delete_certificate(CertificateArn=arn)
    except acm.exceptions.ResourceNotFoundException:
        return True
    except acm.exceptions.ResourceInUseException:
        return False
    return True


def is_complete(event, context, *, acm=None, route53=None):
    acm = acm or boto3_client("acm")
    if event["RequestType"] == "Delete":
        return {"IsComplete": deleted(acm, event["PhysicalResourceId"])}
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
