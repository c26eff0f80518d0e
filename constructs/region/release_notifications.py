"""One region's notification topic: alarms, failed deployments and (in the home region) pipeline runs."""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

import jsii
from aws_cdk import RemovalPolicy, Stack
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_cloudwatch_actions as cloudwatch_actions
from aws_cdk import aws_events as events
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sns_subscriptions as subscriptions

from constructs import Construct
from constructs.settings.config_checks import fail, freeze

_EMAIL = re.compile(r"^[^@\s,;]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)+$")
# What the services that publish need of the topic's key (SNS developer guide, "Enable compatibility
# between event sources from AWS services and encrypted topics").
PUBLISHER_KEY_ACTIONS = ("kms:Decrypt", "kms:GenerateDataKey*")
CLOUDWATCH, EVENTBRIDGE = "cloudwatch.amazonaws.com", "events.amazonaws.com"
PUBLISHERS = (CLOUDWATCH, EVENTBRIDGE)


@dataclass(frozen=True, kw_only=True)
class NotificationSettings:
    """Who hears about alarms, failed deployments and pipeline runs.

    Attributes:
        emails: addresses subscribed to every copy's topic: one topic per
            regional stack (each production region, each staging copy), so
            one confirmation mail per copy, each to be confirmed within 48
            hours. Default none: the topics exist for other subscribers (chat, paging).
    """

    emails: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        freeze(self, "emails")
        if not isinstance(self.emails, tuple):
            raise fail("notification_emails", self.emails, "expected a list of email addresses")
        for email in self.emails:
            if not isinstance(email, str) or not _EMAIL.fullmatch(email):
                raise fail("notification_emails", email, "expected an email address such as ops@example.com")
        if len(set(self.emails)) != len(self.emails):
            twice = next(e for e in self.emails if self.emails.count(e) > 1)
            raise fail("notification_emails", twice, "it is listed twice; list each address once")


@dataclass(frozen=True)
class DeploymentFailures:
    """How one deployment engine's failed (or rolled-back) deployments of a region show on EventBridge.

    Attributes:
        description: what the rule catches.
        pattern: the events of this region's own deployments that failed or roll back.
        message: the text people get, with fields of the event.
    """

    description: str
    pattern: events.EventPattern
    message: events.RuleTargetInput


class ReleaseNotifications(Construct):
    """An SNS topic, encrypted with its own KMS key, that tells people what went wrong in one region.

    The key is a customer managed key (rotated yearly) because CloudWatch
    alarms and EventBridge cannot publish to a topic encrypted with the AWS
    managed ``aws/sns`` key: its policy cannot grant them. The topic refuses
    publishing over plain HTTP and admits only CloudWatch alarms and
    EventBridge rules of its own region and account (``aws:SourceArn`` and
    ``aws:SourceAccount``: CloudWatch user guide, "Using Amazon SNS topics":
    "the value of aws:SourceArn must be the ARN of the alarm"; EventBridge user
    guide, "Cross-service confused deputy prevention": the rule's ARN). The
    key admits CloudWatch on the same conditions, and EventBridge without
    them: "Adding the aws:SourceAccount, aws:SourceArn, and aws:SourceOrgID to
    a AWS KMS policy is not supported for EventBridge-to-encrypted topics"
    (SNS developer guide, "Enable compatibility between event sources from
    AWS services and encrypted topics"). ``emails`` are subscribed; rules
    reach the topic through :meth:`target`, which adds no policy of its own.

    Args:
        emails: addresses to subscribe. Default none.
    """

    def __init__(self, scope: Construct, construct_id: str, *, emails: Iterable[str] = ()) -> None:
        super().__init__(scope, construct_id)
        self.key = kms.Key(
            self,
            "Key",
            description="Encrypts the release notifications topic",
            enable_key_rotation=True,
            # Messages are delivered or dropped; nothing stays encrypted with the key once the topic is gone.
            removal_policy=RemovalPolicy.DESTROY,
        )
        stack = Stack.of(self)
        sources = {
            CLOUDWATCH: f"arn:aws:cloudwatch:{stack.region}:{stack.account}:alarm:*",
            EVENTBRIDGE: f"arn:aws:events:{stack.region}:{stack.account}:rule/*",
        }

        def of_this_region(service: str) -> dict[str, dict[str, str]]:
            return {
                "ArnLike": {"aws:SourceArn": sources[service]},
                "StringEquals": {"aws:SourceAccount": stack.account},
            }

        for sid, service, conditions in (
            ("CloudWatchAlarmsOfThisRegion", CLOUDWATCH, of_this_region(CLOUDWATCH)),
            # Without source conditions: AWS does not support them for EventBridge (see above).
            ("EventBridgeRules", EVENTBRIDGE, None),
        ):
            self.key.add_to_resource_policy(
                iam.PolicyStatement(
                    sid=sid,
                    principals=[iam.ServicePrincipal(service)],
                    actions=list(PUBLISHER_KEY_ACTIONS),
                    resources=["*"],
                    conditions=conditions,
                )
            )
        self.topic = sns.Topic(self, "Topic", master_key=self.key, enforce_ssl=True)
        # The topic's policy replaces SNS's default one: the region's alarms and rules are let in by ARN.
        for sid, service in (
            ("CloudWatchAlarmsOfThisRegion", CLOUDWATCH),
            ("EventBridgeRulesOfThisRegion", EVENTBRIDGE),
        ):
            self.topic.add_to_resource_policy(
                iam.PolicyStatement(
                    sid=sid,
                    principals=[iam.ServicePrincipal(service)],
                    actions=["sns:Publish"],
                    resources=[self.topic.topic_arn],
                    conditions=of_this_region(service),
                )
            )
        for email in emails:
            self.topic.add_subscription(subscriptions.EmailSubscription(email))

    def watch(self, *, alarms: Iterable[cloudwatch.IAlarm], failures: DeploymentFailures) -> events.Rule:
        """Publish when any of ``alarms`` goes into ALARM, and ``failures.message`` for every failed deployment."""
        action = cloudwatch_actions.SnsAction(self.topic)
        for alarm in alarms:
            alarm.add_alarm_action(action)
        return events.Rule(
            self,
            "DeploymentFailed",
            description=failures.description,
            event_pattern=failures.pattern,
            targets=[self.target(failures.message)],
        )

    def target(self, message: events.RuleTargetInput) -> events.IRuleTarget:
        """The topic as an EventBridge rule's target, sending ``message``; the topic's policy admits the rule."""
        return _TopicTarget(self.topic, message)


@jsii.implements(events.IRuleTarget)
class _TopicTarget:
    """An SNS topic as a rule target without the policy CDK's ``SnsTopic`` target adds (it admits any rule)."""

    def __init__(self, topic: sns.ITopic, message: events.RuleTargetInput) -> None:
        self.topic, self.message = topic, message

    def bind(self, rule: events.IRule, id: str | None = None) -> events.RuleTargetConfig:
        return events.RuleTargetConfig(arn=self.topic.topic_arn, input=self.message)
