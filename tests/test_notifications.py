"""Every region's notification topic: encrypted, reachable by its alarms and rules only, subscribed as configured."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest
from cfn_resolver import Resolver
from conftest import NOTIFIED
from iam_simulator import ALLOWED
from template_queries import only, resources
from test_config import config_error

from constructs.engines.blue_green_deployment import FAILED_DEPLOYMENT_STATES
from constructs.region.release_notifications import PUBLISHER_KEY_ACTIONS, PUBLISHERS
from stacks.pipeline_stack import NOTIFIED_EXECUTION_STATES

ROOT = Path(__file__).resolve().parent.parent
NOTIFYING = ("default", "staged", "ecs", "domain_latency", "domain_geolocation")


def topic_of(template: dict) -> str:
    topic_id, _ = only(template, "AWS::SNS::Topic")
    return topic_id


@pytest.mark.parametrize("name", NOTIFYING)
def test_every_region_has_one_topic_encrypted_with_its_own_rotated_key(synth_cache, name):
    for stack_name, template in synth_cache(name).regional_templates.items():
        _, topic = only(template, "AWS::SNS::Topic")
        key_id = topic["Properties"]["KmsMasterKeyId"]["Fn::GetAtt"][0]
        key = template["Resources"][key_id]
        assert key["Type"] == "AWS::KMS::Key", stack_name
        assert key["Properties"]["EnableKeyRotation"] is True
        assert key["Properties"]["Description"] == "Encrypts the release notifications topic"


@pytest.mark.parametrize("name", ["default", "ecs"])
def test_cloudwatch_and_eventbridge_may_use_the_key_and_publish_and_nothing_else_may(
    synth_cache, name, iam_simulator
):
    synthesized = synth_cache(name)
    resolver = Resolver.from_synthesized(synthesized)
    account = synthesized.config.account
    for stack_name, template in synthesized.regional_templates.items():
        stack = resolver.stacks[stack_name]
        topic_id = topic_of(template)
        topic_arn = resolver.ref(stack, topic_id)
        key_id = template["Resources"][topic_id]["Properties"]["KmsMasterKeyId"]["Fn::GetAtt"][0]
        key_arn = resolver.arn(stack, key_id)
        key_policy = template["Resources"][key_id]["Properties"]["KeyPolicy"]
        (policy,) = (
            p["Properties"]["PolicyDocument"]
            for p in resources(template, "AWS::SNS::TopicPolicy").values()
            if p["Properties"]["Topics"] == [{"Ref": topic_id}]
        )
        topic_policy = resolver.resolve(stack_name, policy)
        other_region = "us-west-2" if stack.region != "us-west-2" else "us-east-1"
        alarm = f"arn:aws:cloudwatch:{stack.region}:{account}:alarm:any"
        rule = f"arn:aws:events:{stack.region}:{account}:rule/any"
        of_this_account = {"aws:SourceAccount": account}
        sources = {"cloudwatch.amazonaws.com": alarm, "events.amazonaws.com": rule}
        assert set(sources) == set(PUBLISHERS)
        for service, source in sources.items():
            context = {"aws:SourceArn": source, **of_this_account}
            # EventBridge's requests to KMS carry no source keys: the key admits it without them.
            key_context = context if service == "cloudwatch.amazonaws.com" else {}
            for action in ("kms:Decrypt", "kms:GenerateDataKey"):
                assert action.rstrip("*") in " ".join(PUBLISHER_KEY_ACTIONS)
                assert (
                    iam_simulator.decide_service(
                        service,
                        action,
                        key_arn,
                        account=account,
                        resource_policy=key_policy,
                        context=key_context,
                    )
                    == ALLOWED
                ), (stack_name, service, action)
            assert (
                iam_simulator.decide_service(
                    service,
                    "sns:Publish",
                    topic_arn,
                    account=account,
                    resource_policy=topic_policy,
                    context=context,
                )
                == ALLOWED
            ), (stack_name, service)

        def elsewhere(source: str, *, region: str | None = None, other_account: str | None = None) -> dict:
            """``source``'s context as if it came from another region or account."""
            here = source.split(":")[3]
            moved = source.replace(f":{here}:", f":{region or here}:").replace(
                account, other_account or account
            )
            return {"aws:SourceArn": moved, "aws:SourceAccount": other_account or account}

        denied = [
            # Another service.
            ("s3.amazonaws.com", "sns:Publish", topic_arn, topic_policy, {}),
            ("s3.amazonaws.com", "kms:Decrypt", key_arn, key_policy, {}),
            # Alarms and rules of another region of this account, and of another account.
            *(
                (service, "sns:Publish", topic_arn, topic_policy, elsewhere(source, **where))
                for service, source in sources.items()
                for where in ({"region": other_region}, {"other_account": "222222222222"})
            ),
            *(
                ("cloudwatch.amazonaws.com", action, key_arn, key_policy, elsewhere(alarm, **where))
                for action in ("kms:Decrypt", "kms:GenerateDataKey")
                for where in ({"region": other_region}, {"other_account": "222222222222"})
            ),
            # A publisher without its source keys (the topic's statements require them).
            ("cloudwatch.amazonaws.com", "sns:Publish", topic_arn, topic_policy, {}),
            ("events.amazonaws.com", "sns:Publish", topic_arn, topic_policy, {}),
            # Plain HTTP, even from an admitted publisher.
            (
                "events.amazonaws.com",
                "sns:Publish",
                topic_arn,
                topic_policy,
                {"aws:SourceArn": rule, **of_this_account, "aws:SecureTransport": "false"},
            ),
        ]
        for service, action, resource, resource_policy, context in denied:
            decision = iam_simulator.decide_service(
                service, action, resource, account=account, resource_policy=resource_policy, context=context
            )
            assert decision != ALLOWED, (stack_name, service, action, context)


@pytest.mark.parametrize("name", NOTIFYING)
def test_every_deployment_alarm_notifies_its_regions_topic(synth_cache, name):
    for stack_name, template in synth_cache(name).regional_templates.items():
        topic = {"Ref": topic_of(template)}
        alarms = resources(template, "AWS::CloudWatch::Alarm")
        assert len(alarms) == 6, stack_name
        for alarm in alarms.values():
            assert alarm["Properties"]["AlarmActions"] == [topic], stack_name


def rule_to_topic(template: dict) -> dict:
    topic = {"Ref": topic_of(template)}
    (rule,) = (
        r["Properties"]
        for r in resources(template, "AWS::Events::Rule").values()
        if any(t["Arn"] == topic for t in r["Properties"]["Targets"])
    )
    return rule


@pytest.mark.parametrize("name", ["default", "staged", "domain_latency"])
def test_codedeploy_failures_and_stops_of_the_regions_own_group_are_published(synth_cache, name):
    for stack_name, template in synth_cache(name).regional_templates.items():
        rule = rule_to_topic(template)
        application_id, _ = only(template, "AWS::CodeDeploy::Application")
        group_id, _ = only(template, "AWS::CodeDeploy::DeploymentGroup")
        assert rule["EventPattern"] == {
            "source": ["aws.codedeploy"],
            "detail-type": ["CodeDeploy Deployment State-change Notification"],
            "detail": {
                "state": list(FAILED_DEPLOYMENT_STATES),
                "application": [{"Ref": application_id}],
                "deploymentGroup": [{"Ref": group_id}],
            },
        }, stack_name
        (target,) = rule["Targets"]
        # The fields of CodeDeploy's event the message quotes (EventBridge's CodeDeploy event reference).
        assert set(target["InputTransformer"]["InputPathsMap"].values()) == {
            "$.detail.deploymentId",
            "$.detail.application",
            "$.detail.region",
            "$.detail.state",
        }


@pytest.mark.parametrize("name", ["ecs", "domain_geolocation"])
def test_ecs_failed_deployments_and_rollbacks_of_the_regions_own_service_are_published(synth_cache, name):
    for stack_name, template in synth_cache(name).regional_templates.items():
        rule = rule_to_topic(template)
        service_id, _ = only(template, "AWS::ECS::Service")
        assert not resources(template, "AWS::CodeDeploy::DeploymentGroup")
        assert rule["EventPattern"] == {
            "source": ["aws.ecs"],
            "detail-type": ["ECS Deployment State Change"],
            "resources": [{"Ref": service_id}],
            "detail": {
                "$or": [
                    {"eventName": ["SERVICE_DEPLOYMENT_FAILED"]},
                    {"eventName": ["SERVICE_DEPLOYMENT_IN_PROGRESS"], "reason": [{"wildcard": "*oll*back*"}]},
                ]
            },
        }, stack_name


def test_the_home_topic_hears_how_every_release_ended(synth_cache):
    synthesized = synth_cache("default")
    pipeline = synthesized.pipeline
    pipeline_id, _ = only(pipeline, "AWS::CodePipeline::Pipeline")
    (rule,) = (
        r["Properties"]
        for r in resources(pipeline, "AWS::Events::Rule").values()
        if r["Properties"]["EventPattern"]["source"] == ["aws.codepipeline"]
    )
    assert rule["EventPattern"]["detail-type"] == ["CodePipeline Pipeline Execution State Change"]
    assert rule["EventPattern"]["detail"] == {"state": list(NOTIFIED_EXECUTION_STATES)}
    assert set(NOTIFIED_EXECUTION_STATES) >= {"FAILED", "SUCCEEDED"}
    assert {"Ref": pipeline_id} in rule["EventPattern"]["resources"][0]["Fn::Join"][1]
    (target,) = rule["Targets"]
    home = synthesized.regional("eu-west-2")
    resolver = Resolver.from_synthesized(synthesized)
    home_topic = resolver.ref(resolver.stacks["webapp-eu-west-2"], topic_of(home))
    assert resolver.resolve("webapp-pipeline", target["Arn"]) == home_topic


def test_configured_addresses_are_subscribed_to_every_regions_topic(synth_cache):
    synthesized = synth_cache("domain_latency")
    assert len(synthesized.regional_templates) == 4, "three production regions and a staging copy"
    for stack_name, template in synthesized.regional_templates.items():
        topic = {"Ref": topic_of(template)}
        subscriptions = [s["Properties"] for s in resources(template, "AWS::SNS::Subscription").values()]
        assert sorted(s["Endpoint"] for s in subscriptions) == sorted(NOTIFIED), stack_name
        assert all(s["Protocol"] == "email" and s["TopicArn"] == topic for s in subscriptions)


def test_each_address_gets_one_confirmation_mail_per_copy_and_none_from_the_pipeline(synth_cache):
    """What docs/observability.md promises: one topic (one mail) per production region and per staging copy."""
    synthesized = synth_cache("domain_latency")
    config = synthesized.config
    copies = len(config.regions) + len(config.staging_regions)
    assert copies == 4
    assert not resources(synthesized.pipeline, "AWS::SNS::Topic")
    assert not resources(synthesized.pipeline, "AWS::SNS::Subscription")
    topics = [topic for t in synthesized.templates.values() for topic in resources(t, "AWS::SNS::Topic")]
    assert len(topics) == copies
    mails = Counter(
        s["Properties"]["Endpoint"]
        for template in synthesized.templates.values()
        for s in resources(template, "AWS::SNS::Subscription").values()
    )
    assert mails == dict.fromkeys(NOTIFIED, copies)
    docs = " ".join((ROOT / "docs" / "observability.md").read_text().split())
    assert "one topic per regional stack, so one per production region and one per staging copy" in docs


def test_without_addresses_the_topics_have_no_subscribers(default_synth):
    for template in default_synth.templates.values():
        assert not resources(template, "AWS::SNS::Subscription")


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("ops", "notification_emails: 'ops' is not allowed; expected an email address"),
        ("ops@example.com,ops@example.com", "'ops@example.com' is not allowed; it is listed twice"),
        ('["ops@example.com", 7]', "notification_emails: 7 is not allowed; expected an email address"),
        ({"to": "ops@example.com"}, "expected a JSON list of email addresses"),
    ],
)
def test_bad_addresses_are_refused_with_one_line(value, expected):
    assert expected in config_error(notification_emails=value)


def test_every_regional_stack_names_its_topic_for_subscribers(default_synth):
    for stack_name, template in default_synth.regional_templates.items():
        assert template["Outputs"]["NotificationTopicArn"]["Value"] == {"Ref": topic_of(template)}, stack_name
