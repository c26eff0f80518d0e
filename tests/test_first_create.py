"""A failed first create rolls back cleanly: deletion protection comes last and goes while a create rolls back.

The templates hold no deletion protection; ``Custom::DeletionProtection`` depends on every other resource
of its stack, so CloudFormation creates it last (a resource is created only after all it depends on), and
its function (release/hooks/protect_after_create.py, against botocore's Stubber) turns protection on,
undoes a half-done Create, and turns it off while a failed create rolls back.
"""

from __future__ import annotations

import json

import pytest
from botocore.stub import Stubber
from conftest import offline_client
from template_queries import resources

from constructs.region.protection_after_create import RESOURCE_TYPE
from release.hooks import cfn_response, protect_after_create

REGION = "ap-southeast-1"
BALANCER = f"arn:aws:elasticloadbalancing:{REGION}:111111111111:loadbalancer/app/webapp-LoadB-1A2B3C/0123456789abcdef"
CLUSTER = "webapp-ap-southeast-1-databasecluster5b53a178-abcdefghijkl"
STACK_ID = f"arn:aws:cloudformation:{REGION}:111111111111:stack/webapp-ap-southeast-1/0f1e2d3c-aaaa-bbbb"


def protection_resources(template: dict) -> dict[str, dict]:
    return {lid: r for lid, r in template["Resources"].items() if r["Type"] == RESOURCE_TYPE}


@pytest.mark.parametrize("name", ["default", "database", "ecs", "domain_latency"])
def test_nothing_is_protected_in_the_template_and_protection_comes_last(synth_cache, name):
    for stack_name, template in synth_cache(name).regional_templates.items():
        for balancer in resources(template, "AWS::ElasticLoadBalancingV2::LoadBalancer").values():
            keys = {a["Key"] for a in balancer["Properties"]["LoadBalancerAttributes"]}
            assert "deletion_protection.enabled" not in keys, stack_name
        for cluster in resources(template, "AWS::RDS::DBCluster").values():
            assert "DeletionProtection" not in cluster["Properties"], stack_name
        ((protection_id, protection),) = protection_resources(template).items()
        own = {lid for lid in template["Resources"] if lid.startswith("DeletionProtection")}
        others = set(template["Resources"]) - own - {"CDKMetadata"}
        assert others <= set(protection["DependsOn"]), (
            stack_name,
            sorted(others - set(protection["DependsOn"])),
        )
        properties = protection["Properties"]
        assert properties["LoadBalancerArns"] == [
            {"Ref": lid} for lid in resources(template, "AWS::ElasticLoadBalancingV2::LoadBalancer")
        ]
        assert properties["DatabaseClusters"] == [
            {"Ref": lid} for lid in resources(template, "AWS::RDS::DBCluster")
        ]
        assert protection_id not in json.dumps(
            {k: v for k, v in template["Resources"].items() if k != protection_id}
        )


class Cloud:
    """The stubbed ELB, RDS and CloudFormation APIs the function calls, and what it answered."""

    def __init__(self) -> None:
        self.elbv2, self.rds = offline_client("elbv2", REGION), offline_client("rds", REGION)
        self.cloudformation = offline_client("cloudformation", REGION)
        self.stubs = [Stubber(c) for c in (self.elbv2, self.rds, self.cloudformation)]
        self.answers: list[dict] = []

    def balancer(self, enabled: bool) -> None:
        self.stubs[0].add_response(
            "modify_load_balancer_attributes",
            {"Attributes": [{"Key": "deletion_protection.enabled", "Value": str(enabled).lower()}]},
            {
                "LoadBalancerArn": BALANCER,
                "Attributes": [{"Key": "deletion_protection.enabled", "Value": str(enabled).lower()}],
            },
        )

    def cluster(self, enabled: bool, error: str | None = None) -> None:
        expected = {"DBClusterIdentifier": CLUSTER, "DeletionProtection": enabled, "ApplyImmediately": True}
        if error:
            self.stubs[1].add_client_error("modify_db_cluster", error, "not now", expected_params=expected)
        else:
            self.stubs[1].add_response("modify_db_cluster", {"DBCluster": {}}, expected)

    def stack_status(self, status: str) -> None:
        self.stubs[2].add_response(
            "describe_stacks",
            {
                "Stacks": [
                    {
                        "StackName": "webapp-ap-southeast-1",
                        "CreationTime": "2026-12-07T00:00:00Z",
                        "StackStatus": status,
                    }
                ]
            },
            {"StackName": STACK_ID},
        )

    def send(self, request_type: str, **extra) -> dict:
        event = {
            "RequestType": request_type,
            "ResponseURL": "https://cloudformation-custom-resource-response.example/answer",
            "StackId": STACK_ID,
            "RequestId": "request-1",
            "LogicalResourceId": "DeletionProtection24233946",
            "ResourceType": RESOURCE_TYPE,
            "ResourceProperties": {"LoadBalancerArns": [BALANCER], "DatabaseClusters": [CLUSTER]},
            **extra,
        }

        def put(url: str, body: bytes) -> None:
            assert url == event["ResponseURL"]
            self.answers.append(json.loads(body))

        for stub in self.stubs:
            stub.activate()
        try:
            protect_after_create.on_event(
                event,
                None,
                elbv2=self.elbv2,
                rds=self.rds,
                cloudformation=self.cloudformation,
                respond=lambda *a, **k: cfn_response.respond(*a, **k, put=put),
            )
        finally:
            for stub in self.stubs:
                stub.deactivate()
                stub.assert_no_pending_responses()
        (answer,) = self.answers
        assert {answer[k] for k in ("StackId", "RequestId", "LogicalResourceId")} == {
            STACK_ID,
            "request-1",
            "DeletionProtection24233946",
        }
        return answer


def test_create_turns_protection_on_for_the_load_balancer_and_the_database():
    cloud = Cloud()
    cloud.balancer(True)
    cloud.cluster(True)
    answer = cloud.send("Create")
    assert answer["Status"] == "SUCCESS"
    assert answer["PhysicalResourceId"] == "deletion-protection"


def test_a_create_that_fails_half_way_undoes_what_it_did_and_fails():
    cloud = Cloud()
    cloud.balancer(True)
    cloud.cluster(True, error="InvalidDBClusterStateFault")
    cloud.balancer(False)  # undone: the stack's rollback must be able to delete the load balancer
    answer = cloud.send("Create")
    assert answer["Status"] == "FAILED"
    assert "InvalidDBClusterStateFault" in answer["Reason"]


def test_while_a_failed_create_rolls_back_protection_goes_off():
    cloud = Cloud()
    cloud.stack_status("ROLLBACK_IN_PROGRESS")
    cloud.balancer(False)
    cloud.cluster(False)
    answer = cloud.send("Delete", PhysicalResourceId="deletion-protection")
    assert answer["Status"] == "SUCCESS"


@pytest.mark.parametrize(
    "status", ["DELETE_IN_PROGRESS", "UPDATE_ROLLBACK_IN_PROGRESS", "UPDATE_COMPLETE_CLEANUP_IN_PROGRESS"]
)
def test_deleting_the_stack_or_rolling_back_an_update_leaves_protection_alone(status):
    cloud = Cloud()
    cloud.stack_status(status)
    answer = cloud.send("Delete", PhysicalResourceId="deletion-protection")
    assert answer["Status"] == "SUCCESS"
    assert status in answer["Reason"]


def test_an_update_turns_protection_on_again():
    """A replaced load balancer (a new ARN) is protected by the update that names it."""
    cloud = Cloud()
    cloud.balancer(True)
    cloud.cluster(True)
    assert cloud.send("Update", PhysicalResourceId="deletion-protection")["Status"] == "SUCCESS"


def test_an_error_is_always_answered():
    """CloudFormation waits an hour for an answer that never comes; any error is a FAILED answer."""
    cloud = Cloud()
    cloud.stubs[2].add_client_error("describe_stacks", "Throttling", "slow down")
    answer = cloud.send("Delete", PhysicalResourceId="deletion-protection")
    assert answer["Status"] == "FAILED"
    assert "Throttling" in answer["Reason"]


def test_a_long_reason_is_cut_to_cloudformations_limit():
    answers: list[bytes] = []
    event = {"StackId": STACK_ID, "RequestId": "r", "LogicalResourceId": "x", "ResponseURL": "https://x"}
    cfn_response.respond(
        event, cfn_response.FAILED, physical_id="p", reason="e" * 10_000, put=lambda _u, b: answers.append(b)
    )
    (body,) = answers
    assert len(body) <= cfn_response.MAX_BODY
    assert json.loads(body)["Reason"].endswith("...")
