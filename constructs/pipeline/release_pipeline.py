"""The release pipeline: source, one image build for every region, blue/green deploys by stage and wave."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from aws_cdk import CfnOutput, PhysicalName, Stack
from aws_cdk import aws_codepipeline as codepipeline
from aws_cdk import aws_codepipeline_actions as actions
from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as event_targets
from aws_cdk import aws_iam as iam
from aws_cdk import aws_s3 as s3

from constructs import Construct
from constructs.nag_acknowledgments import (
    KMS_DATA_KEY_ACTIONS,
    S3_WRITE_ACTIONS,
    acknowledge_artifact_grants,
    arn_of,
    as_written,
)
from constructs.pipeline.awaited_deployments import AwaitedDeployments, AwaitedRegion
from constructs.pipeline.deploy_action_role import DeployActionRole
from constructs.pipeline.deploy_target import PRODUCTION, DeployTarget
from constructs.pipeline.key_scoped_role import KeyScopedRole, artifact_key_arns
from constructs.pipeline.release_build_project import ReleaseBuildProject
from constructs.region.buckets import ARTIFACT_RETENTION_DAYS, access_log_bucket, artifact_key, private_bucket
from constructs.settings.deployment_windows import RULE_PROVIDER as WINDOW_RULE
from constructs.settings.release_config import AWAITED_PER_ACTION, GitHubSource, S3Source
from constructs.settings.retention import SECURITY_LOG_RETENTION_DAYS
from constructs.settings.rollout_settings import WAVE_BAKE_METADATA

DEPLOY_STAGE_NAME = f"Deploy_to_{PRODUCTION.capitalize()}"
APPROVAL_STAGE_NAME = "Approve_Production"
# The execution modes this pipeline may run in (ReleaseConfig.execution_mode).
EXECUTION_MODES = {
    "queued": codepipeline.ExecutionMode.QUEUED,
    "superseded": codepipeline.ExecutionMode.SUPERSEDED,
}


class ReleasePipeline(Construct):
    """A CodePipeline (V2) that releases one image to every target region.

    Stages: ``Source`` (an S3 upload or a GitHub push); ``Build`` (see
    :class:`ReleaseBuildProject`); one ``Deploy_to_<Environment>`` stage per
    environment in the order the targets name them (staging before
    production), or, where the targets' waves are stages of their own, one
    ``Deploy_to_<Environment>_wave_<n>`` stage per wave; with
    ``manual_approval``, an ``Approve_Production`` stage right before
    production. A deploy stage holds one deploy action per region,
    ``Deploy-<region>``, whose run order is its wave within the stage, so the
    regions of a wave deploy in parallel; the next wave's stage starts only
    once every deployment of the wave has ended, its bake included. If any action of a
    deploy stage fails, the stage rolls back (``OnFailure: ROLLBACK``): every
    region of the stage is redeployed with the last release that succeeded
    there. A stage whose regions have a deployment window (``DeployTarget.window``)
    has it as its entry condition. CodePipeline keeps an artifact store in every region it deploys to.

    Args:
        source: where releases come from.
        targets: every region of every environment (the pipeline's region
            first within each environment).
        manual_approval: require a person's approval before production. Default ``False``.
        execution_mode: how a release started while another runs is handled: ``queued`` (in order, each
            waiting for the stage ahead to be free) or ``superseded`` (a newer one replaces an older one
            waiting between stages). Not ``parallel``: it has no stage rollback. Default ``queued``.
        build_compute: the build's CodeBuild compute size (:class:`ReleaseBuildProject`). Default ``small``.
        wave_bake_minutes: the bake of each wave but the last, which its regions' own deployments carry out
            (they keep blue that long, their alarms watching: ``ReleaseConfig.rollout_for``); recorded on the
            pipeline resource (``WAVE_BAKE_METADATA``) for ``make plan``. Default ``0``: no bake.
        access_log_retention_days: days the access logs of its buckets are kept. Default ``365``.
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        source: S3Source | GitHubSource,
        targets: Sequence[DeployTarget],
        artifact_buckets: Mapping[str, s3.IBucket],
        manual_approval: bool = False,
        execution_mode: str = "queued",
        build_compute: str = "small",
        wave_bake_minutes: int = 0,
        access_log_retention_days: int = SECURITY_LOG_RETENTION_DAYS,
    ) -> None:
        super().__init__(scope, construct_id)
        if not any(t.environment == PRODUCTION for t in targets):
            raise ValueError("targets: at least one production region is needed")
        pipeline_region = Stack.of(self).region
        for target in targets:
            if target.action_role is None and (
                target.region != pipeline_region or target.account != Stack.of(self).account
            ):
                raise ValueError(
                    f"targets: {target.region} is in another region or account and needs an action_role"
                )
            if target.region != pipeline_region and target.region not in artifact_buckets:
                raise ValueError(f"artifact_buckets: {target.region} needs the pipeline's artifact bucket")

        for target in targets:
            if isinstance(target.action_role, DeployActionRole):
                target.action_role.allow_passing(*target.passed_roles)

        self.awaited: AwaitedDeployments | None = None
        self._targets = tuple(targets)
        self.access_logs = access_log_bucket(self, "AccessLogs", retention_days=access_log_retention_days)
        self.artifact_key = artifact_key(self, "ArtifactsKey")
        # Named (generated at synth), so that each region's deploy action role
        # can trust exactly this role, by ARN, without a stack dependency.
        self.role = KeyScopedRole(
            self,
            "PipelineRole",
            role_name=PhysicalName.GENERATE_IF_NEEDED,
            assumed_by=iam.ServicePrincipal("codepipeline.amazonaws.com"),
            # The artifact stores of the regions deployed from another account have keys of their own.
            artifact_keys=artifact_key_arns(
                self,
                Stack.of(self).account,
                sorted(region for region, bucket in artifact_buckets.items() if bucket.encryption_key),
            ),
        )
        self.pipeline = codepipeline.Pipeline(
            self,
            "Pipeline",
            role=self.role,
            pipeline_type=codepipeline.PipelineType.V2,
            execution_mode=EXECUTION_MODES[execution_mode],
            restart_execution_on_update=False,
            # The pipeline's own region's bucket is the pipeline's artifact bucket.
            cross_region_replication_buckets={
                pipeline_region: private_bucket(
                    self,
                    "Artifacts",
                    access_logs=self.access_logs,
                    encryption_key=self.artifact_key,
                    expiration_days=ARTIFACT_RETENTION_DAYS,
                    # Named where a role of another account reads it (its policy names the bucket).
                    generated_name=any(
                        t.region == pipeline_region and t.account != Stack.of(self).account for t in targets
                    ),
                ),
                **artifact_buckets,
            },
        )
        self._stores: dict[str, s3.IBucket] = {
            pipeline_region: self.pipeline.artifact_bucket,
            **artifact_buckets,
        }
        self.artifact_objects = f"{arn_of(self.pipeline.artifact_bucket)}/*"
        stack = Stack.of(self)
        acknowledge_artifact_grants(
            self.pipeline.role,
            s3_actions=S3_WRITE_ACTIONS,
            kms_actions=KMS_DATA_KEY_ACTIONS,
            object_arns=(
                self.artifact_objects,
                *(f"arn:aws:s3:::{stack.resolve(b.bucket_name)}/*" for b in artifact_buckets.values()),
            ),
        )
        source_output = codepipeline.Artifact("source_output")
        build_output = codepipeline.Artifact("build_output")

        self.pipeline.add_stage(stage_name="Source", actions=[self._source_action(source, source_output)])
        self.build = ReleaseBuildProject(
            self,
            "ImageBuild",
            targets=targets,
            encryption_key=self.artifact_key,
            artifact_objects=self.artifact_objects,
            compute=build_compute,
        )
        self.pipeline.add_stage(
            stage_name="Build",
            actions=[
                actions.CodeBuildAction(
                    action_name="Build",
                    project=self.build.project,
                    input=source_output,
                    outputs=[build_output],
                    # Its exported IMAGE_DIGEST is kept with each execution (make status's ledger).
                    variables_namespace="Build",
                )
            ],
        )

        environments = list(dict.fromkeys(t.environment for t in targets))
        environments.sort(key=lambda environment: environment == PRODUCTION)
        for environment in environments:
            if environment == PRODUCTION and manual_approval:
                self.pipeline.add_stage(
                    stage_name=APPROVAL_STAGE_NAME,
                    actions=[
                        actions.ManualApprovalAction(
                            action_name="Approve",
                            additional_information="Approve to release to every production region.",
                        )
                    ],
                )
            environment_targets = sorted(
                (t for t in targets if t.environment == environment), key=lambda t: t.wave
            )
            for stage_name in dict.fromkeys(t.stage_name for t in environment_targets):
                stage_targets = [t for t in environment_targets if t.stage_name == stage_name]
                stage_actions = [
                    *(self._deploy_action(t, build_output) for t in stage_targets),
                    *self._waits(stage_targets, build_output),
                ]
                self.pipeline.add_stage(
                    stage_name=stage_name,
                    actions=stage_actions,
                    before_entry=_entry_window(stage_name, stage_targets),
                    on_failure=codepipeline.FailureConditions(result=codepipeline.Result.ROLLBACK),
                )
        if self.awaited is not None:
            self.awaited.finish()
        if wave_bake_minutes and any(t.wave_stage for t in targets):
            # For make plan: a baked wave's regions keep blue this long (ReleaseConfig.rollout_for).
            self.pipeline.node.default_child.add_metadata(WAVE_BAKE_METADATA, wave_bake_minutes)

    def _deploy_action(
        self, target: DeployTarget, build_output: codepipeline.Artifact
    ) -> codepipeline.IAction:
        role = target.action_role
        if role is None:  # the pipeline's own region and account
            role = self._action_role(f"Deploy-{target.environment}-{target.region}", deploys=True)
            role.allow_passing(*target.passed_roles)
            target.deployment.complete_action_role(role, self.artifact_objects)
        elif isinstance(role, DeployActionRole):
            role.complete(target.deployment, as_written(role, f"{self._stores[target.region].bucket_arn}/*"))
        return target.deployment.deploy_action(target, build_output=build_output, role=role)

    def _waits(
        self, targets: Sequence[DeployTarget], build_output: codepipeline.Artifact
    ) -> list[codepipeline.IAction]:
        """The actions that wait for each wave's deployments, where the deploy actions do not: one per wave,
        or more side by side for a wave of more than ``AWAITED_PER_ACTION`` regions."""
        waves: dict[int, list[AwaitedRegion]] = {}
        orders: dict[int, int] = {}
        for target in targets:
            awaited = target.deployment.awaited(target)
            if awaited is not None:
                waves.setdefault(target.wave, []).append(awaited)
                orders[target.wave] = target.deployment.run_order(target.stage_wave) + 1
        if waves and self.awaited is None:
            self.awaited = AwaitedDeployments(
                self, "AwaitedDeployments", across_accounts=any(t.reader_role for t in self._targets)
            )
        stage = targets[0].environment
        return [
            self.awaited.action(
                name=f"Await-wave-{wave}{suffix}",
                regions=regions[start : start + AWAITED_PER_ACTION],
                build_output=build_output,
                run_order=orders[wave],
                role=self._action_role(f"Await-{stage}-wave-{wave}{suffix}"),
                artifact_objects=self.artifact_objects,
            )
            for wave, regions in sorted(waves.items())
            for part, start in enumerate(range(0, len(regions), AWAITED_PER_ACTION), start=1)
            for suffix in [f"-{part}" if part > 1 else ""]
        ]

    def _action_role(self, name: str, *, deploys: bool = False) -> iam.Role:
        """A role for one of the pipeline's actions, assumable by the pipeline's role only."""
        kind = DeployActionRole if deploys else iam.Role
        return kind(self, f"{name}-ActionRole", assumed_by=iam.ArnPrincipal(self.pipeline.role.role_arn))

    def _source_action(
        self, source: S3Source | GitHubSource, output: codepipeline.Artifact
    ) -> codepipeline.IAction:
        role = self._action_role("Source")
        acknowledge_artifact_grants(
            role,
            s3_actions=S3_WRITE_ACTIONS,
            kms_actions=KMS_DATA_KEY_ACTIONS,
            object_arns=(self.artifact_objects,),
        )
        if isinstance(source, GitHubSource):
            # CDK grants only codestar-connections:UseConnection, and IAM matches
            # an action to a resource by service prefix: a codeconnections ARN
            # needs codeconnections:UseConnection.
            role.add_to_policy(
                iam.PolicyStatement(
                    actions=[f"{source.service_prefix}:UseConnection"], resources=[source.connection_arn]
                )
            )
            return actions.CodeStarConnectionsSourceAction(
                action_name="Source",
                connection_arn=source.connection_arn,
                owner=source.owner,
                repo=source.name,
                branch=source.branch,
                output=output,
                trigger_on_push=True,
                role=role,
            )
        self.source_bucket = private_bucket(
            self, "SourceBucket", access_logs=self.access_logs, versioned=True
        )
        # The bucket's own EventBridge switch, set on the CloudFormation
        # resource: CDK's event_bridge_enabled would add a Lambda-backed
        # custom resource to do the same.
        self.source_bucket.node.default_child.add_property_override(
            "NotificationConfiguration.EventBridgeConfiguration.EventBridgeEnabled", True
        )
        CfnOutput(
            self,
            "SourceBucketName",
            key="SourceBucketName",
            value=self.source_bucket.bucket_name,
            description=f"Upload {source.object_key} here to start a release",
        )
        # S3 sends "Object Created" to EventBridge directly; no CloudTrail trail needed.
        events.Rule(
            self,
            "SourceUploaded",
            description=f"Starts a release when {source.object_key} is uploaded",
            event_pattern=events.EventPattern(
                source=["aws.s3"],
                detail_type=["Object Created"],
                detail={
                    "bucket": {"name": [self.source_bucket.bucket_name]},
                    "object": {"key": [source.object_key]},
                },
            ),
            targets=[event_targets.CodePipeline(self.pipeline)],
        )
        return actions.S3SourceAction(
            action_name="Source",
            bucket=self.source_bucket,
            bucket_key=source.object_key,
            output=output,
            trigger=actions.S3Trigger.NONE,
            role=role,
        )


def _entry_window(stage_name: str, targets: Sequence[DeployTarget]) -> codepipeline.Conditions | None:
    """The stage's entry condition when its regions have a deployment window: CodePipeline's DeploymentWindow
    rule, which holds a release at the stage's entry until the window opens (result FAIL: an entry condition
    takes FAIL or SKIP, and SKIP only for LambdaInvoke and VariableCheck rules)."""
    windows = {t.window for t in targets}
    if windows == {None}:
        return None
    if len(windows) > 1:
        raise ValueError(f"targets: the regions of {stage_name} have different deployment windows")
    (window,) = windows
    rule = codepipeline.Rule(
        name=f"Window-{stage_name}",  # unique within the pipeline (CDK's RuleProps.name)
        provider=WINDOW_RULE,
        version="1",  # CDK leaves the version out unless it is given
        configuration=window.rule_configuration,
    )
    return codepipeline.Conditions(
        conditions=[codepipeline.Condition(result=codepipeline.Result.FAIL, rules=[rule])]
    )
