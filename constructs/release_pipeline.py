"""The release pipeline: source, one image build for every region, parallel blue/green deploys."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from aws_cdk import Stack
from aws_cdk import aws_codebuild as codebuild
from aws_cdk import aws_codedeploy as codedeploy
from aws_cdk import aws_codepipeline as codepipeline
from aws_cdk import aws_codepipeline_actions as actions
from aws_cdk import aws_ecr as ecr
from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as event_targets
from aws_cdk import aws_iam as iam
from aws_cdk import aws_s3 as s3

from constructs import Construct
from constructs.release_config import GitHubSource, S3Source

PREPARE_RELEASE_SCRIPT = Path(__file__).resolve().parent.parent / "release" / "prepare_release.py"
DEPLOY_STAGE_NAME = "Deploy_to_Production"
_HEREDOC_END = "PREPARE_RELEASE_PY"


@dataclass(frozen=True, kw_only=True)
class DeployTarget:
    """One region the pipeline releases to.

    Attributes:
        region: the region code.
        repository: the region's ECR repository, which receives the image.
        task_definition_family: the family of the service's task definition there.
        container_name: the container the target groups route to.
        container_port: that container's port.
        deployment_group: the region's CodeDeploy ECS blue/green deployment group.
        action_role: role for the deploy action; required when ``region`` is not
            the pipeline's (create it in the region's stack), ``None`` for the
            pipeline's own region.
    """

    region: str
    repository: ecr.IRepository
    task_definition_family: str
    container_name: str
    container_port: int
    deployment_group: codedeploy.IEcsDeploymentGroup
    action_role: iam.IRole | None = None

    @property
    def task_definition_file(self) -> str:
        return f"taskdef-{self.region}.json"

    @property
    def appspec_file(self) -> str:
        return f"appspec-{self.region}.yaml"


def release_build_spec(targets: Sequence[DeployTarget]) -> codebuild.BuildSpec:
    """The build's buildspec: runs release/prepare_release.py, inlined, and keeps every region's files."""
    script = PREPARE_RELEASE_SCRIPT.read_text()
    if _HEREDOC_END in script:
        raise ValueError(f"{PREPARE_RELEASE_SCRIPT} must not contain {_HEREDOC_END}")
    return codebuild.BuildSpec.from_object(
        {
            "version": "0.2",
            "env": {"shell": "bash"},
            "phases": {"build": {"commands": [f"python3 - <<'{_HEREDOC_END}'\n{script}{_HEREDOC_END}"]}},
            "artifacts": {
                "files": [name for t in targets for name in (t.task_definition_file, t.appspec_file)],
            },
        }
    )


def release_plan(targets: Sequence[DeployTarget]) -> dict:
    """What the build needs to know of every region (the RELEASE_PLAN variable)."""
    return {
        "targets": [
            {
                "region": t.region,
                "repository_uri": t.repository.repository_uri,
                "task_definition_family": t.task_definition_family,
                "container_name": t.container_name,
                "container_port": t.container_port,
                "task_definition_file": t.task_definition_file,
                "appspec_file": t.appspec_file,
            }
            for t in targets
        ]
    }


class ReleasePipeline(Construct):
    """A CodePipeline (V2) that releases one image to every target region at once.

    Stages: ``Source`` (an S3 upload or a GitHub push), ``Build`` (a CodeBuild
    project in privileged mode that builds the image from the source's
    Dockerfile, pushes it to every region's repository concurrently and writes
    each region's task definition and appspec) and ``Deploy_to_Production``
    with one ``CodeDeployToECS`` action per region, named ``Deploy-<region>``,
    all in run order 1 so the regions deploy in parallel. CodePipeline keeps an
    artifact store in every region it deploys to.

    Args:
        source: where releases come from.
        targets: the regions, in display order (the pipeline's region first).
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        source: S3Source | GitHubSource,
        targets: Sequence[DeployTarget],
    ) -> None:
        super().__init__(scope, construct_id)
        if not targets:
            raise ValueError("targets: at least one region is needed")
        pipeline_region = Stack.of(self).region
        self.pipeline = codepipeline.Pipeline(
            self,
            "Pipeline",
            pipeline_type=codepipeline.PipelineType.V2,
            execution_mode=codepipeline.ExecutionMode.QUEUED,
            restart_execution_on_update=False,
        )
        source_output = codepipeline.Artifact("source_output")
        build_output = codepipeline.Artifact("build_output")

        self.pipeline.add_stage(stage_name="Source", actions=[self._source_action(source, source_output)])

        self.build_project = codebuild.PipelineProject(
            self,
            "ImageBuild",
            description="Builds the image once, pushes it to every region, writes each region's deploy files",
            build_spec=release_build_spec(targets),
            environment=codebuild.BuildEnvironment(
                build_image=codebuild.LinuxBuildImage.STANDARD_7_0,
                compute_type=codebuild.ComputeType.SMALL,
                privileged=True,
            ),
            environment_variables={
                "RELEASE_PLAN": codebuild.BuildEnvironmentVariable(
                    value=Stack.of(self).to_json_string(release_plan(targets))
                )
            },
        )
        for target in targets:
            target.repository.grant_pull_push(self.build_project)
        self.build_project.add_to_role_policy(
            iam.PolicyStatement(
                # DescribeTaskDefinition supports no resource-level permissions.
                actions=["ecs:DescribeTaskDefinition"],
                resources=["*"],
            )
        )
        self.pipeline.add_stage(
            stage_name="Build",
            actions=[
                actions.CodeBuildAction(
                    action_name="Build",
                    project=self.build_project,
                    input=source_output,
                    outputs=[build_output],
                )
            ],
        )

        deploy_actions = []
        for target in targets:
            if target.region != pipeline_region and target.action_role is None:
                raise ValueError(f"targets: {target.region} is cross-region and needs an action_role")
            deploy_actions.append(
                actions.CodeDeployEcsDeployAction(
                    action_name=f"Deploy-{target.region}",
                    deployment_group=target.deployment_group,
                    task_definition_template_file=build_output.at_path(target.task_definition_file),
                    app_spec_template_file=build_output.at_path(target.appspec_file),
                    run_order=1,
                    role=target.action_role,
                )
            )
        self.pipeline.add_stage(stage_name=DEPLOY_STAGE_NAME, actions=deploy_actions)

    def _source_action(
        self, source: S3Source | GitHubSource, output: codepipeline.Artifact
    ) -> codepipeline.IAction:
        if isinstance(source, GitHubSource):
            return actions.CodeStarConnectionsSourceAction(
                action_name="Source",
                connection_arn=source.connection_arn,
                owner=source.owner,
                repo=source.name,
                branch=source.branch,
                output=output,
                trigger_on_push=True,
            )
        self.source_bucket = s3.Bucket(
            self,
            "SourceBucket",
            versioned=True,
            event_bridge_enabled=True,
            block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
            enforce_ssl=True,
            encryption=s3.BucketEncryption.S3_MANAGED,
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
        )
