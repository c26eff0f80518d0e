"""Deploy-time traps closed: retained resources, availability zones, unknown settings."""

from __future__ import annotations

import pytest
from conftest import CONFIGURATIONS, NAMED_ZONES
from template_queries import resources

RETAINED = ("Retain", "RetainExceptOnCreate", "Snapshot")
# The resource types whose physical name the template can fix, and the property that does.
NAME_PROPERTIES = {
    "AWS::S3::Bucket": "BucketName",
    "AWS::ECR::Repository": "RepositoryName",
    "AWS::Logs::LogGroup": "LogGroupName",
    "AWS::KMS::Key": None,
}


@pytest.fixture(scope="session", params=sorted(CONFIGURATIONS))
def any_synth(request, synth_cache):
    return synth_cache(request.param)


def log_destinations(template: dict) -> set[str]:
    """Buckets other resources write logs into while the stack is created (S3 and load balancer logs)."""
    found = set()
    for bucket in resources(template, "AWS::S3::Bucket").values():
        destination = (
            bucket.get("Properties", {}).get("LoggingConfiguration", {}).get("DestinationBucketName")
        )
        if destination:
            found.add(destination["Ref"])
    for balancer in resources(template, "AWS::ElasticLoadBalancingV2::LoadBalancer").values():
        for attribute in balancer["Properties"].get("LoadBalancerAttributes", []):
            if attribute["Key"] == "access_logs.s3.bucket":
                found.add(attribute["Value"]["Ref"])
    return found


def test_retained_resources_are_deleted_when_their_own_create_rolls_back(any_synth):
    """A retained resource that survives a failed first create makes the retry fail with "already exists"."""
    plain_retain = []
    for stack, template in any_synth.templates.items():
        destinations = log_destinations(template)
        for lid, resource in template["Resources"].items():
            policy = resource.get("DeletionPolicy", "Delete")
            if policy not in RETAINED:
                continue
            # Snapshot: a replaced or deleted database leaves a final snapshot behind, under a new name.
            kept = "Snapshot" if policy == "Snapshot" else "Retain"
            assert resource.get("UpdateReplacePolicy") == kept, f"{stack}/{lid} is lost on replacement"
            if policy == "Snapshot":
                assert "DBClusterIdentifier" not in resource["Properties"], f"{stack}/{lid} has a fixed name"
            if policy in ("RetainExceptOnCreate", "Snapshot"):
                continue
            plain_retain.append(f"{stack}/{lid}")
            # The exception: log buckets, written during the create itself, so a rollback could not delete
            # them; they have no fixed name, so a retry makes a new one.
            assert lid in destinations, f"{stack}/{lid} keeps plain Retain"
            assert "BucketName" not in resource.get("Properties", {}), f"{stack}/{lid} has a fixed name"
    # One log bucket per stack that has buckets, each the destination of its stack's logs (the DNS account's
    # stack holds roles only).
    with_buckets = [t for t in any_synth.templates.values() if resources(t, "AWS::S3::Bucket")]
    assert len(plain_retain) == len(with_buckets)


def test_named_repositories_and_buckets_are_retained_except_on_create(any_synth):
    named = [
        (stack, lid, resource.get("DeletionPolicy"))
        for stack, template in any_synth.templates.items()
        for lid, resource in template["Resources"].items()
        if resource["Type"] in NAME_PROPERTIES
        and NAME_PROPERTIES[resource["Type"]] in resource.get("Properties", {})
    ]
    if len(any_synth.config.regions) > 1:
        assert named, "cross-region repositories and artifact buckets have generated names"
    assert [n for n in named if n[2] != "RetainExceptOnCreate"] == []


def test_configured_zones_are_the_networks_zones(synth_cache):
    synthesized = synth_cache("named_zones")
    subnets = resources(synthesized.regional("ap-southeast-1"), "AWS::EC2::Subnet").values()
    assert {s["Properties"]["AvailabilityZone"] for s in subnets} == set(NAMED_ZONES)
    assert len(subnets) == 2 * len(NAMED_ZONES), "a public and a private subnet in every zone"
    home_subnets = resources(synthesized.regional("eu-west-2"), "AWS::EC2::Subnet").values()
    assert all("Fn::GetAZs" in str(s["Properties"]["AvailabilityZone"]) for s in home_subnets)


def test_a_misspelt_setting_fails_cli_synth_with_one_line(cli_synth):
    result, _ = cli_synth("-c", "extra_region=us-east-1")
    assert result.returncode != 0
    errors = [line for line in result.stderr.splitlines() if line.startswith("configuration error:")]
    assert errors == [
        "configuration error: extra_region: unknown setting, neither this app's nor CDK's own; "
        "did you mean extra_regions?"
    ]
    assert "Traceback" not in result.stderr
