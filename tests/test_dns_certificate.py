"""The certificate of a region whose hosted zone is in another account, as the provider framework runs it.

The framework calls ``on_event`` once per CloudFormation request, then ``is_complete`` every 30 seconds
until it answers ``IsComplete`` (CDK custom-resources, "Provider Framework"). AWS calls go through botocore
clients behind Stubbers, so every request and response is checked against the ACM, Route 53 and STS models.
"""

from __future__ import annotations

import hashlib

import pytest
from botocore.stub import Stubber
from conftest import expect_assume_role, offline_client

from release.hooks import dns_certificate

REGION = "eu-central-1"
ARN = f"arn:aws:acm:{REGION}:222222222222:certificate/0b8e8b2c-1d3a-4f5e-9a7b-123456789abc"
NAMES = ["shop.example.com", "eu-central-1.shop.example.com"]
ZONE = "Z0123456789ABCDEFGHIJ"
WRITER = "arn:aws:iam::555555555555:role/webapp-dns-writer"
PROPERTIES = {"DomainNames": NAMES, "HostedZoneId": ZONE, "WriterRoleArn": WRITER}
REQUEST_ID = "b4e2a0e4-0a6e-4f1e-9d1b-5f3c2d1e0a9b"


def event(kind: str, **more: object) -> dict:
    return {"RequestType": kind, "RequestId": REQUEST_ID, "ResourceProperties": PROPERTIES, **more}


def record(name: str) -> dict:
    return {"Name": f"_a1b2.{name}.", "Type": "CNAME", "Value": f"_c3d4.{name}.acm-validations.aws."}


def described(status: str, *, records: bool = True, **more: object) -> dict:
    options = [
        {"DomainName": n, "ValidationMethod": "DNS", **({"ResourceRecord": record(n)} if records else {})}
        for n in NAMES
    ]
    return {
        "Certificate": {"CertificateArn": ARN, "Status": status, "DomainValidationOptions": options, **more}
    }


def stubbed(service: str):
    """A client of ``service`` and its Stubber, every queued answer used by the end of the test."""
    client = offline_client(service, REGION)
    with Stubber(client) as stub:
        yield client, stub
        stub.assert_no_pending_responses()


@pytest.fixture
def acm():
    yield from stubbed("acm")


@pytest.fixture
def route53():
    yield from stubbed("route53")


def test_a_create_requests_one_dns_validated_certificate_for_the_copys_names(acm):
    client, stub = acm
    stub.add_response(
        "request_certificate",
        {"CertificateArn": ARN},
        {
            "DomainName": NAMES[0],
            "SubjectAlternativeNames": NAMES[1:],
            "ValidationMethod": "DNS",
            "IdempotencyToken": hashlib.sha256(REQUEST_ID.encode()).hexdigest()[:32],
        },
    )
    assert dns_certificate.on_event(event("Create"), None, acm=client) == {"PhysicalResourceId": ARN}


def test_an_update_with_the_certificates_names_keeps_it_and_other_names_request_a_new_one(acm):
    client, stub = acm
    current = {
        "Certificate": {"CertificateArn": ARN, "DomainName": NAMES[0], "SubjectAlternativeNames": NAMES}
    }
    # Unchanged names, or a failed rename rolling back to them (CloudFormation sends the previous properties).
    stub.add_response("describe_certificate", current, {"CertificateArn": ARN})
    same = event(
        "Update",
        PhysicalResourceId=ARN,
        OldResourceProperties={**PROPERTIES, "DomainNames": ["x.example.com"]},
    )
    assert dns_certificate.on_event(same, None, acm=client) == {"PhysicalResourceId": ARN}
    other = {**PROPERTIES, "DomainNames": ["eu-central-1.shop.example.com"]}
    stub.add_response("describe_certificate", current, {"CertificateArn": ARN})
    stub.add_response(
        "request_certificate",
        {"CertificateArn": ARN.replace("0b8e", "1c9f")},
        {
            "DomainName": "eu-central-1.shop.example.com",
            "ValidationMethod": "DNS",
            "IdempotencyToken": hashlib.sha256(REQUEST_ID.encode()).hexdigest()[:32],
        },
    )
    changed = {
        **event("Update", PhysicalResourceId=ARN, OldResourceProperties=PROPERTIES),
        "ResourceProperties": other,
    }
    # A new physical ID: CloudFormation then deletes the old certificate.
    assert dns_certificate.on_event(changed, None, acm=client) == {
        "PhysicalResourceId": ARN.replace("0b8e", "1c9f")
    }


def test_a_delete_waits_until_no_load_balancer_uses_the_certificate_then_deletes_it(acm):
    client, stub = acm
    delete = event("Delete", PhysicalResourceId=ARN)
    # on_event only answers: the deletion is is_complete's, which may look again.
    assert dns_certificate.on_event(delete, None, acm=client) == {"PhysicalResourceId": ARN}
    listener = "arn:aws:elasticloadbalancing:eu-central-1:222222222222:loadbalancer/app/web/0123456789abcdef"
    stub.add_response(
        "describe_certificate", described("ISSUED", InUseBy=[listener]), {"CertificateArn": ARN}
    )
    assert dns_certificate.is_complete(delete, None, acm=client) == {"IsComplete": False}
    stub.add_response("describe_certificate", described("ISSUED", InUseBy=[]), {"CertificateArn": ARN})
    stub.add_client_error(
        "delete_certificate", "ResourceInUseException", expected_params={"CertificateArn": ARN}
    )
    assert dns_certificate.is_complete(delete, None, acm=client) == {"IsComplete": False}
    stub.add_response("describe_certificate", described("ISSUED"), {"CertificateArn": ARN})
    stub.add_response("delete_certificate", {}, {"CertificateArn": ARN})
    assert dns_certificate.is_complete(delete, None, acm=client) == {"IsComplete": True}


def test_a_certificate_already_gone_or_never_requested_is_deleted(acm):
    client, stub = acm
    stub.add_client_error(
        "describe_certificate", "ResourceNotFoundException", expected_params={"CertificateArn": ARN}
    )
    assert dns_certificate.is_complete(event("Delete", PhysicalResourceId=ARN), None, acm=client)[
        "IsComplete"
    ]
    # A create that failed before it requested anything has no certificate to delete.
    never = event("Delete", PhysicalResourceId="framework-generated-id")
    assert dns_certificate.is_complete(never, None, acm=client) == {"IsComplete": True}


def test_until_acm_made_every_validation_record_nothing_is_written(acm):
    client, stub = acm
    stub.add_response(
        "describe_certificate", described("PENDING_VALIDATION", records=False), {"CertificateArn": ARN}
    )
    result = dns_certificate.is_complete(
        event("Create", PhysicalResourceId=ARN), None, acm=client, route53=object()
    )
    assert result == {"IsComplete": False}


def test_the_validation_records_are_upserted_in_the_zone_then_it_waits_for_issued(acm, route53):
    client, stub = acm
    zone, zone_stub = route53
    stub.add_response("describe_certificate", described("PENDING_VALIDATION"), {"CertificateArn": ARN})
    zone_stub.add_response(
        "change_resource_record_sets",
        {"ChangeInfo": {"Id": "/change/C1", "Status": "PENDING", "SubmittedAt": "2026-12-07T17:00:00Z"}},
        {
            "HostedZoneId": ZONE,
            "ChangeBatch": {
                "Comment": f"DNS validation of {ARN}",
                "Changes": [
                    {
                        "Action": "UPSERT",
                        "ResourceRecordSet": {
                            "Name": record(n)["Name"],
                            "Type": "CNAME",
                            "TTL": 300,
                            "ResourceRecords": [{"Value": record(n)["Value"]}],
                        },
                    }
                    for n in NAMES
                ],
            },
        },
    )
    pending = dns_certificate.is_complete(
        event("Create", PhysicalResourceId=ARN), None, acm=client, route53=zone
    )
    assert pending == {"IsComplete": False}
    stub.add_response("describe_certificate", described("ISSUED"), {"CertificateArn": ARN})
    issued = dns_certificate.is_complete(
        event("Create", PhysicalResourceId=ARN), None, acm=client, route53=zone
    )
    assert issued == {"IsComplete": True, "Data": {"CertificateArn": ARN}}


def test_names_that_share_a_validation_record_write_it_once():
    certificate = described("PENDING_VALIDATION")["Certificate"]
    for option in certificate["DomainValidationOptions"]:
        option["ResourceRecord"] = record("shop.example.com")
    changes = dns_certificate.validation_changes(certificate)
    assert [c["ResourceRecordSet"]["Name"] for c in changes] == ["_a1b2.shop.example.com."]


def test_a_failed_certificate_fails_the_resource_with_acms_reason(acm):
    client, stub = acm
    stub.add_response(
        "describe_certificate",
        described("FAILED", FailureReason="CAA_ERROR"),
        {"CertificateArn": ARN},
    )
    with pytest.raises(RuntimeError, match=r"is FAILED: CAA_ERROR"):
        dns_certificate.is_complete(
            event("Create", PhysicalResourceId=ARN), None, acm=client, route53=object()
        )


def test_the_zone_is_written_as_the_writer_role_with_the_credentials_sts_returns():
    sts = offline_client("sts", REGION)
    made: list[tuple[str, dict]] = []

    def clients(name, **options):
        if name == "sts":
            return sts
        made.append((name, options))
        return "route53"

    with Stubber(sts) as stub:
        credentials = expect_assume_role(stub, WRITER, "certificate-validation")
        assert dns_certificate.zone_writer(WRITER, clients) == "route53"
    assert made == [("route53", credentials)]
