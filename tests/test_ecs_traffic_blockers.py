"""On the ECS engine, a `cdk deploy` never re-sends the routing while ECS has production on the alternate group.

A change that touches neither the service nor its listener rules (nor replaces anything they name) leaves
them out of the update entirely; one that does is refused by `make diff`/`make deploy` only while the live
production rule forwards to the alternate (green) target group, read from ELB (botocore's Stubber).
"""

from __future__ import annotations

import copy

import pytest
from botocore.stub import Stubber
from conftest import offline_client
from template_queries import only, resources

from tools.cloud_assembly import CloudAssembly
from tools.guards.code_deploy_blockers import references
from tools.guards.ecs_traffic_blockers import TrafficUpdate, replaced, traffic_updates
from tools.operate import cdk_commands as operate


def the_template(synthesized) -> dict:
    (template,) = synthesized.regional_templates.values()
    return template


def routing(template: dict) -> dict[str, dict]:
    """The service, its two listener rules, and everything they reference, transitively."""
    service_id, _ = only(template, "AWS::ECS::Service")
    found, pending = {}, [service_id]
    while pending:
        logical_id = pending.pop()
        if logical_id in found or logical_id not in template["Resources"]:
            continue
        found[logical_id] = template["Resources"][logical_id]
        pending += list(references(found[logical_id].get("Properties", {})))
    assert len(resources(template, "AWS::ElasticLoadBalancingV2::ListenerRule")) == 2
    assert set(resources(template, "AWS::ElasticLoadBalancingV2::ListenerRule")) <= set(found)
    return found


def test_an_unrelated_change_leaves_the_service_its_rules_and_all_they_name_untouched(synth_cache):
    """Alarm thresholds, the WAF's rate limit and an e-mail subscription: no part of the routing changes."""
    before, after = the_template(synth_cache("ecs_alone")), the_template(synth_cache("ecs_unrelated"))
    changed_anywhere = {
        lid
        for lid in set(before["Resources"]) | set(after["Resources"])
        if before["Resources"].get(lid) != after["Resources"].get(lid)
    }
    assert changed_anywhere, "the variant does change something"
    old_routing = routing(before)
    for logical_id, resource in old_routing.items():
        if resource["Type"] in ("AWS::ECS::Service", "AWS::ElasticLoadBalancingV2::ListenerRule"):
            assert after["Resources"][logical_id] == resource, logical_id  # not in the change set
        assert not replaced(logical_id, before["Resources"], after["Resources"]), logical_id
    assert traffic_updates(before, after) == []


def test_a_new_task_definition_touches_the_service_through_its_nonce(synth_cache):
    before, after = the_template(synth_cache("ecs_alone")), the_template(synth_cache("ecs_resized"))
    (update,) = traffic_updates(before, after)
    (task_definition_id,) = resources(before, "AWS::ECS::TaskDefinition")
    assert f"{task_definition_id} replaced" in update.changed
    blue = next(lid for lid in resources(before, "AWS::ElasticLoadBalancingV2::TargetGroup") if "Blue" in lid)
    green = next(
        lid for lid in resources(before, "AWS::ElasticLoadBalancingV2::TargetGroup") if "Green" in lid
    )
    assert (update.primary, update.alternate) == (blue, green)
    assert "Production" in update.production_rule


def test_a_changed_rule_is_an_update_of_the_routing(synth_cache):
    before = the_template(synth_cache("ecs_alone"))
    after = copy.deepcopy(before)
    rule_id = next(
        lid for lid in resources(after, "AWS::ElasticLoadBalancingV2::ListenerRule") if "Test" in lid
    )
    after["Resources"][rule_id]["Properties"]["Priority"] = 2
    (update,) = traffic_updates(before, after)
    assert update.changed == (f"{rule_id}: Priority",)


# --- make diff / make deploy read the live rule ------------------------------------------------------------


def weighted(blue: int, green: int) -> list[dict]:
    return [
        {
            "Type": "forward",
            "ForwardConfig": {
                "TargetGroups": [
                    {"TargetGroupArn": "arn:blue", "Weight": blue},
                    {"TargetGroupArn": "arn:green", "Weight": green},
                ]
            },
        }
    ]


@pytest.mark.parametrize(
    ("blue", "green", "as_templated"), [(100, 0, True), (0, 100, False), (90, 10, False)]
)
def test_the_live_rule_is_read_from_elb(synth_cache, monkeypatch, blue, green, as_templated):
    stack = next(iter(CloudAssembly.read(synth_cache("ecs_alone").outdir).service_stacks()))
    elbv2 = offline_client("elbv2", stack.region)
    ids = {
        "BlueGreenProductionRuleC85D4A0A": "arn:rule",
        "ServiceLoadBalancerBlueTargetGroupED72CC4E": "arn:blue",
    }
    monkeypatch.setattr(operate, "physical_id", lambda _stack, logical_id, _aws=None: ids[logical_id])
    monkeypatch.setattr(operate, "aws_client", lambda service, region: elbv2)
    update = TrafficUpdate(
        service="Service9571FDD8",
        production_rule="BlueGreenProductionRuleC85D4A0A",
        primary="ServiceLoadBalancerBlueTargetGroupED72CC4E",
        alternate="ServiceLoadBalancerGreenTargetGroupF18A7D7E",
        changed=("ServiceTaskDefinition55FA0F15 replaced",),
    )
    with Stubber(elbv2) as stub:
        stub.add_response(
            "describe_rules",
            {"Rules": [{"RuleArn": "arn:rule", "Actions": weighted(blue, green)}]},
            {"RuleArns": ["arn:rule"]},
        )
        assert operate.rule_forwards_as_templated(stack, update) is as_templated
        stub.assert_no_pending_responses()


@pytest.mark.parametrize("on_green", [True, False])
def test_deploy_refuses_a_routing_update_only_while_production_is_on_green(synth_cache, on_green):
    deployed = the_template(synth_cache("ecs_alone"))
    assembly = CloudAssembly.read(synth_cache("ecs_resized").outdir)
    lines = operate.blocked(
        assembly,
        fetch=lambda stack: deployed if stack.of_type("AWS::ECS::Service") else None,
        live=lambda *_: True,
        live_rule=lambda *_: not on_green,
    )
    if not on_green:
        assert lines == []
        return
    (line,) = lines
    assert line.startswith("webapp-eu-west-2: the update touches how Service9571FDD8 routes traffic (")
    assert "ServiceTaskDefinition55FA0F15 replaced" in line
    assert line.endswith(
        "release once more (ECS moves production back to ServiceLoadBalancerBlueTargetGroupED72CC4E), then deploy"
    )
