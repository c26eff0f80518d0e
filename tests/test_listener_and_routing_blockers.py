"""`make diff` / `make deploy` refuse the domain changes a running region cannot take in one parallel deploy.

Two kinds: a listener CodeDeploy routes that the update modifies while CodeDeploy's last release left it on
the other target group (CloudFormation would send every request to the empty one), and shared-name records
that must be deleted in one region's stack before another region's stack creates theirs.
"""

from __future__ import annotations

import copy
import re

import botocore.session
import pytest
from botocore.stub import Stubber
from conftest import offline_client
from template_queries import resources

from tools.cloud_assembly import CloudAssembly
from tools.guards.code_deploy_blockers import ListenerUpdate, listener_updates
from tools.guards.routing_blockers import routing_changes
from tools.operate import cdk_commands as operate


def fetch_from(templates: dict[str, dict]):
    return lambda stack: templates.get(stack.name)


def test_adding_https_to_a_codedeploy_region_changes_its_production_listener(default_synth, synth_cache):
    with_domain = synth_cache("with_domain")
    for stack_name, deployed in default_synth.regional_templates.items():
        (update,) = listener_updates(deployed, with_domain.templates[stack_name])
        assert update.route == "production"
        assert update.listener.startswith("ServiceLoadBalancerProductionListener")
        assert update.target_group.startswith("ServiceLoadBalancerBlueTargetGroup")
        (certificate,) = resources(with_domain.templates[stack_name], "AWS::CertificateManager::Certificate")
        assert update.changed == ("Certificates", "Port", "Protocol", "SslPolicy", f"{certificate} changes")
    # Nothing to compare on the ECS engine: its listeners' rules carry the traffic, not their default actions.
    assert all(listener_updates(t, t) == [] for t in synth_cache("ecs").regional_templates.values())


@pytest.mark.parametrize(
    ("on_template_target", "blocked_regions"), [(True, []), (False, ["ap-southeast-1", "eu-west-2"])]
)
def test_the_listener_change_is_refused_only_while_codedeploy_left_production_elsewhere(
    default_synth, synth_cache, on_template_target, blocked_regions
):
    asked = []

    def live(stack, update: ListenerUpdate) -> bool:
        asked.append((stack.name, update.listener))
        return on_template_target

    lines = operate.blocked(
        CloudAssembly.read(synth_cache("with_domain").outdir), fetch_from(default_synth.templates), live
    )
    assert len(asked) == 2
    assert sorted(line.split(":")[0] for line in lines) == [f"webapp-{r}" for r in blocked_regions]
    for line in lines:
        assert "the production listener changes" in line
        assert "release once more (CodeDeploy moves the listener back to it), then deploy" in line


def stubbed_live(monkeypatch, region: str, weights: dict[str, int]):
    """operate's AWS clients for one region: CloudFormation names the listener and the blue target group,
    ELB answers the listener's live forward weights (by target group name)."""
    cloudformation, elbv2 = offline_client("cloudformation", region), offline_client("elbv2", region)
    arn = f"arn:aws:elasticloadbalancing:{region}:111111111111"
    listener_arn = f"{arn}:listener/app/lb/0123456789abcdef/fedcba9876543210"

    def group(name: str) -> str:
        return f"{arn}:targetgroup/{name}/0123456789abcdef"

    stubs = Stubber(cloudformation), Stubber(elbv2)
    for logical_id, physical in (("Listener", listener_arn), ("Blue", group("blue"))):
        stubs[0].add_response(
            "describe_stack_resource",
            {
                "StackResourceDetail": {
                    "LogicalResourceId": logical_id,
                    "PhysicalResourceId": physical,
                    "ResourceType": "AWS::ElasticLoadBalancingV2::Listener",
                    "LastUpdatedTimestamp": "2026-11-27T10:00:00Z",
                    "ResourceStatus": "UPDATE_COMPLETE",
                }
            },
            {"StackName": "webapp-eu-west-2", "LogicalResourceId": logical_id},
        )
    targets = [{"TargetGroupArn": group(name), "Weight": weight} for name, weight in weights.items()]
    stubs[1].add_response(
        "describe_listeners",
        {
            "Listeners": [
                {
                    "ListenerArn": listener_arn,
                    "DefaultActions": [
                        {
                            "Type": "forward",
                            "TargetGroupArn": targets[0]["TargetGroupArn"],
                            "ForwardConfig": {"TargetGroups": targets},
                        }
                    ],
                }
            ]
        },
        {"ListenerArns": [listener_arn]},
    )
    clients = {"cloudformation": cloudformation, "elbv2": elbv2}
    monkeypatch.setattr(operate, "aws_client", lambda service, _region: clients[service])
    for stub in stubs:
        stub.activate()
    return stubs


@pytest.mark.parametrize(
    ("weights", "as_templated"),
    [
        ({"blue": 100, "green": 0}, True),
        ({"blue": 0, "green": 100}, False),
        ({"blue": 90, "green": 10}, False),
    ],
)
def test_the_live_listener_is_read_from_elb(default_synth, monkeypatch, weights, as_templated):
    stack = CloudAssembly.read(default_synth.outdir).stacks["webapp-eu-west-2"]
    stubs = stubbed_live(monkeypatch, "eu-west-2", weights)
    update = ListenerUpdate("production", "Listener", "Blue", ("Port",))
    assert operate.forwards_as_templated(stack, update) is as_templated
    for stub in stubs:
        stub.assert_no_pending_responses()


def test_switching_routing_in_one_deploy_is_refused_with_the_two_step_path(synth_cache):
    latency, residency = synth_cache("with_domain"), synth_cache("with_residency")
    lines = routing_changes(latency.regional_templates, residency.regional_templates)
    assert lines == [
        "shop.example.com: routing cannot change from latency to geolocation in one deploy (Route 53 keeps one "
        "routing policy per name, and CloudFormation creates the new records before it deletes the old ones); "
        "deploy with routing none first (the shared name stops answering for some minutes; the regional names "
        "stay), then with the new routing"
    ]
    assert routing_changes(residency.regional_templates, latency.regional_templates)[0].startswith(
        "shop.example.com: routing cannot change from geolocation to latency"
    )
    # The same routing again, a first deploy, or a region without records: nothing to refuse.
    assert routing_changes(latency.regional_templates, latency.regional_templates) == []
    assert routing_changes(dict.fromkeys(latency.regional_templates), residency.regional_templates) == []


def moved(templates: dict[str, dict], code: str, source: str, target: str) -> dict[str, dict]:
    """The templates with the record of residency location ``code`` moved from one stack to another."""
    templates = copy.deepcopy(templates)
    (record_id,) = (
        i
        for i, r in resources(templates[source], "AWS::Route53::RecordSet").items()
        if code in r["Properties"].get("GeoLocation", {}).values()
    )
    templates[target]["Resources"][record_id] = templates[source]["Resources"].pop(record_id)
    return templates


@pytest.mark.parametrize(
    ("code", "first"),
    [
        ("AS", "deploy without AS in residency first (its users fall to their continent or *)"),
        ("*", "deploy with routing none first, then with the new residency"),
    ],
)
def test_moving_a_residency_location_to_another_region_in_one_deploy_is_refused(synth_cache, code, first):
    deployed = synth_cache("with_residency").regional_templates
    source = "webapp-ap-southeast-1" if code == "AS" else "webapp-eu-west-2"
    target = "webapp-eu-west-2" if code == "AS" else "webapp-ap-southeast-1"
    (line,) = routing_changes(deployed, moved(deployed, code, source, target))
    assert line.startswith(f"shop.example.com: residency {code} cannot move from {source} to {target}")
    assert first in line


def test_moving_a_country_to_another_region_in_one_deploy_is_refused_and_advises_dropping_only_it(
    synth_cache,
):
    """A country (Germany) is neither a continent nor ``*``: its own record moves, and only it is dropped first."""
    deployed = synth_cache("domain_geolocation").regional_templates
    (line,) = routing_changes(deployed, moved(deployed, "DE", "webapp-eu-central-1", "webapp-eu-west-2"))
    assert line.startswith(
        "shop.example.com: residency DE cannot move from webapp-eu-central-1 to webapp-eu-west-2 in one deploy"
    )
    assert "deploy without DE in residency first (its users fall to their continent or *)" in line
    assert "routing none" not in line, "only * needs the shared name taken down"


def test_a_new_certificate_alone_updates_the_listener_too(default_synth, synth_cache):
    """Another domain replaces the certificate: the listener's text is the same, its certificate ARN is not."""
    deployed = synth_cache("with_domain").templates["webapp-eu-west-2"]
    synthesized = copy.deepcopy(deployed)
    (certificate,) = resources(synthesized, "AWS::CertificateManager::Certificate").values()
    certificate["Properties"]["DomainName"] = "shop.example.org"
    (update,) = listener_updates(deployed, synthesized)
    assert update.route == "production"
    assert update.changed == (
        f"{next(iter(resources(deployed, 'AWS::CertificateManager::Certificate')))} changes",
    )
    assert listener_updates(deployed, deployed) == []


def test_route_53_keeps_one_routing_policy_per_name_and_one_record_per_location():
    """What the routing blockers rest on, in Route 53's API model."""
    model = botocore.session.Session().get_service_model("route53")
    shape = model.shape_for("ResourceRecordSet")
    text = " ".join(re.sub(r"<[^>]+>", "", m.documentation) for m in shape.members.values())
    text = re.sub(r"\s+", " ", text)
    assert (
        "You can't create two geolocation resource record sets that specify the same geographic location."
        in text
    )
    assert (
        "You can't create non-latency resource record sets that have the same values for the Name and Type "
        "elements as latency resource record sets." in text
    )
