"""The home-region stack that holds the release pipeline."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from aws_cdk import CfnOutput, Environment, Stack
from aws_cdk import aws_events as events
from aws_cdk import aws_s3 as s3

from constructs import Construct
from constructs.pipeline.deploy_target import DeployTarget
from constructs.pipeline.release_dashboard import RegionPanel, ReleaseDashboard
from constructs.pipeline.release_pipeline import ReleasePipeline
from constructs.region.release_notifications import NotificationSettings, ReleaseNotifications
from constructs.settings.feature_flags import pin_feature_flags
from constructs.settings.release_config import GitHubSource, S3Source
from constructs.settings.retention import SECURITY_LOG_RETENTION_DAYS

# The ends of a pipeline execution that people hear about (CodePipeline's EventBridge states).
NOTIFIED_EXECUTION_STATES = ("FAILED", "SUCCEEDED", "STOPPED")


class PipelineStack(Stack):
    """The release pipeline and its source, in the home region.

    Args:
        env: account and home region; both explicit.
        source: where releases come from.
        targets: every region of every environment, the home region first in each.
        artifact_buckets: the pipeline's artifact bucket in every other region, by region.
        manual_approval: require a person's approval before production.
        execution_mode: ``queued`` or ``superseded`` (:class:`ReleasePipeline`). Default ``queued``.
        build_compute: the build's CodeBuild compute size (:class:`ReleaseBuildProject`). Default ``small``.
        wave_bake_minutes: recorded on the pipeline for ``make plan``; the baked waves' regions keep blue that
            long by their own deployments (``ReleaseConfig.rollout_for``). Default ``0``: no bake.
        notifications: the notifications told of every execution that
            succeeds, fails or is stopped: the home region's, or, when that
            region's stack is in another account, settings for a topic of
            this stack's own (``NotificationTopicArn``). Default none.
        dashboard_panels: the copies of the service the home region's dashboard
            shows side by side (:class:`ReleaseDashboard`). Default none: no dashboard.
        security_log_retention_days: days the access logs of the pipeline's buckets are kept. Default ``365``.
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        env: Environment,
        stack_name: str,
        source: S3Source | GitHubSource,
        targets: Sequence[DeployTarget],
        artifact_buckets: Mapping[str, s3.IBucket],
        manual_approval: bool = False,
        execution_mode: str = "queued",
        build_compute: str = "small",
        wave_bake_minutes: int = 0,
        notifications: ReleaseNotifications | NotificationSettings | None = None,
        dashboard_panels: Sequence[RegionPanel] = (),
        security_log_retention_days: int = SECURITY_LOG_RETENTION_DAYS,
        description: str | None = None,
    ) -> None:
        super().__init__(scope, construct_id, env=env, stack_name=stack_name, description=description)
        pin_feature_flags(self)
        self.release_pipeline = ReleasePipeline(
            self,
            "Release",
            source=source,
            targets=targets,
            artifact_buckets=artifact_buckets,
            manual_approval=manual_approval,
            execution_mode=execution_mode,
            build_compute=build_compute,
            wave_bake_minutes=wave_bake_minutes,
            access_log_retention_days=security_log_retention_days,
        )
        self.dashboard = (
            ReleaseDashboard(self, "Dashboard", panels=dashboard_panels) if dashboard_panels else None
        )
        if isinstance(notifications, NotificationSettings):
            notifications = ReleaseNotifications(self, "Notifications", emails=notifications.emails)
            CfnOutput(
                self,
                "NotificationTopicArn",
                value=notifications.topic.topic_arn,
                description="Subscribe here to hear how each release ended",
            )
        if notifications is not None:
            detail = events.EventField.from_path
            self.release_pipeline.pipeline.on_state_change(
                "NotifyExecutions",
                description="Tells the home region's notification topic how each release ended",
                event_pattern=events.EventPattern(detail={"state": list(NOTIFIED_EXECUTION_STATES)}),
                target=notifications.target(
                    events.RuleTargetInput.from_text(
                        f"Release pipeline {detail('$.detail.pipeline')}: execution "
                        f"{detail('$.detail.execution-id')} {detail('$.detail.state')}."
                    )
                ),
            )
