"""Every region's load balancer sits behind a WAF web ACL: a rate limit per client IP and AWS managed rules."""

from __future__ import annotations

import pytest
from aws_cdk import App, Stack
from aws_cdk import aws_elasticloadbalancingv2 as elbv2
from aws_cdk.assertions import Template
from conftest import STRUCTURAL
from template_queries import only, props, resources
from test_config import config_error, from_context

from constructs.region.web_firewall import LOG_GROUP_PREFIX, MANAGED_RULE_GROUPS, RegionalWebFirewall


@pytest.mark.parametrize("name", STRUCTURAL)
def test_every_load_balancer_has_one_web_acl_with_its_logs_in_the_region(synth_cache, name):
    synthesized = synth_cache(name)
    for stack_name, template in synthesized.regional_templates.items():
        acl_id, acl = only(template, "AWS::WAFv2::WebACL")
        acl = acl["Properties"]
        assert acl["Scope"] == "REGIONAL"
        assert acl["DefaultAction"] == {"Allow": {}}
        (balancer_id,) = resources(template, "AWS::ElasticLoadBalancingV2::LoadBalancer")
        association = props(template, "AWS::WAFv2::WebACLAssociation")
        assert association == {
            "ResourceArn": {"Ref": balancer_id},
            "WebACLArn": {"Fn::GetAtt": [acl_id, "Arn"]},
        }
        _, logging = only(template, "AWS::WAFv2::LoggingConfiguration")
        assert logging["Properties"]["ResourceArn"] == {"Fn::GetAtt": [acl_id, "Arn"]}
        (destination,) = logging["Properties"]["LogDestinationConfigs"]
        (group_id,) = logging["DependsOn"]
        group = template["Resources"][group_id]
        name_join = group["Properties"]["LogGroupName"]
        # WAF's prefix, the stack name, the stack's UUID: never the name of a retained group of an older stack.
        assert name_join == {
            "Fn::Join": [
                "",
                [
                    f"{LOG_GROUP_PREFIX}{stack_name}-",
                    {"Fn::Select": [2, {"Fn::Split": ["/", {"Ref": "AWS::StackId"}]}]},
                ],
            ]
        }
        region = synthesized.stack_artifacts()[stack_name]["environment"].rsplit("/", 1)[1]
        prefix = f"arn:aws:logs:{region}:{synthesized.config.account}:log-group:"
        assert destination == {
            "Fn::Join": ["", [prefix + name_join["Fn::Join"][1][0], *name_join["Fn::Join"][1][1:]]]
        }
        assert group["DeletionPolicy"] == "RetainExceptOnCreate"
        assert group["Properties"]["RetentionInDays"] == 365  # a security log (tests/test_security_logs.py)
        # Credentials in requests never reach the logs.
        assert logging["Properties"]["RedactedFields"] == [
            {"SingleHeader": {"Name": "authorization"}},
            {"SingleHeader": {"Name": "cookie"}},
        ]


def test_the_rules_block_a_flooding_client_then_apply_the_managed_groups(default_synth):
    rules = props(default_synth.regional("eu-west-2"), "AWS::WAFv2::WebACL")["Rules"]
    assert [r["Priority"] for r in rules] == list(range(len(rules)))
    rate, *managed = rules
    assert rate["Action"] == {"Block": {}}
    assert rate["Statement"] == {
        "RateBasedStatement": {"AggregateKeyType": "IP", "Limit": 2000, "EvaluationWindowSec": 300}
    }
    assert [r["Statement"]["ManagedRuleGroupStatement"] for r in managed] == [
        {"VendorName": "AWS", "Name": name} for name in MANAGED_RULE_GROUPS
    ]
    assert set(MANAGED_RULE_GROUPS) == {
        "AWSManagedRulesCommonRuleSet",
        "AWSManagedRulesKnownBadInputsRuleSet",
        "AWSManagedRulesAmazonIpReputationList",
    }
    # The groups' own actions apply (block); nothing is overridden to count.
    assert all(r["OverrideAction"] == {"None": {}} for r in managed)
    assert all(r["VisibilityConfig"]["CloudWatchMetricsEnabled"] for r in rules)


def test_the_rate_limit_is_the_setting():
    stack = Stack(App(), "Firewall")
    balancer = elbv2.ApplicationLoadBalancer.from_application_load_balancer_attributes(
        stack,
        "Balancer",
        load_balancer_arn="arn:aws:elasticloadbalancing:eu-west-2:111111111111:loadbalancer/app/web/0123456789abcdef",
        security_group_id="sg-0123456789abcdef0",
    )
    RegionalWebFirewall(stack, "WebFirewall", load_balancer=balancer, rate_limit=500)
    (rate, *_) = props(Template.from_stack(stack).to_json(), "AWS::WAFv2::WebACL")["Rules"]
    assert rate["Statement"]["RateBasedStatement"]["Limit"] == 500


def waf_log_groups(template: dict) -> dict[str, dict]:
    return {
        lid: group
        for lid, group in resources(template, "AWS::Logs::LogGroup").items()
        if LOG_GROUP_PREFIX in str(group["Properties"].get("LogGroupName"))
    }


def test_waf_false_leaves_the_load_balancers_without_web_acls_but_keeps_the_log_group(
    synth_cache, default_synth
):
    """Turning waf off and on again must find the (retained, named) log group, not collide with it."""
    without = synth_cache("no_waf")
    for name, template in without.templates.items():
        assert not [r for r in template["Resources"].values() if r["Type"].startswith("AWS::WAFv2::")]
        if not name.endswith("-pipeline"):
            assert waf_log_groups(template) == waf_log_groups(default_synth.templates[name]) != {}


def test_web_firewall_settings_from_flags_and_their_refusals():
    assert from_context().web_firewall.enabled is True
    assert from_context(waf="false").web_firewall.enabled is False
    assert from_context(waf_rate_limit="100").web_firewall.rate_limit == 100
    assert config_error(waf="maybe") == "waf: 'maybe' is not allowed; expected true or false"
    assert config_error(waf_rate_limit="5") == (
        "waf_rate_limit: 5 is not allowed; expected a whole number from 10 to 2000000000"
    )
