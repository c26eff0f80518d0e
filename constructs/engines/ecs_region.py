"""The Amazon ECS engine of one region: CodePipeline's ECS action fed by an imagedefinitions file."""

from __future__ import annotations

from dataclasses import dataclass

from aws_cdk import Duration
from aws_cdk import aws_codepipeline as codepipeline
from aws_cdk import aws_codepipeline_actions as actions
from aws_cdk import aws_ecs as ecs
from aws_cdk import aws_iam as iam

from constructs.nag_acknowledgments import S3_READ_ACTIONS, acknowledge_all, artifact_grant_findings
from constructs.pipeline.awaited_deployments import AwaitedRegion
from constructs.pipeline.deploy_target import DeployTarget

# The longest an ECS deploy action may wait for its deployment (CodePipeline's DeploymentTimeout).
ECS_ACTION_LIMIT_MINUTES = 60


@dataclass(frozen=True, kw_only=True)
class EcsRegion:
    """A region released by Amazon ECS blue/green (see :class:`~constructs.pipeline.deploy_target.RegionDeployment`).

    The build writes ``imagedefinitions-<region>.json`` (the container and the
    region's image, pinned by digest); the pipeline's ECS action registers a
    new revision of the service's task definition with that image and updates
    the service, and ECS runs the deployment (strategy, hooks, alarms, bake
    time) by itself. What the ECS action waits for is not documented, so
    each wave's actions run first (odd run orders) and an
    :class:`~constructs.pipeline.awaited_deployments.AwaitedDeployments` action after
    them (the even one) waits for every region's deployment to end.

    Attributes:
        service: the region's ECS service (ECS deployment controller).
    """

    service: ecs.IBaseService

    @staticmethod
    def image_definitions_file(target: DeployTarget) -> str:
        return target.file_name("imagedefinitions", "json")

    def artifact_files(self, target: DeployTarget) -> tuple[str, ...]:
        return (self.image_definitions_file(target),)

    def build_plan(self, target: DeployTarget) -> dict[str, object]:
        return {
            "kind": "ecs",
            "image_definitions_file": self.image_definitions_file(target),
        }

    def deploy_action(
        self, target: DeployTarget, *, build_output: codepipeline.Artifact, role: iam.IRole
    ) -> codepipeline.IAction:
        return actions.EcsDeployAction(
            action_name=f"Deploy-{target.region}",
            service=self.service,
            image_file=build_output.at_path(self.image_definitions_file(target)),
            deployment_timeout=Duration.minutes(ECS_ACTION_LIMIT_MINUTES),
            run_order=self.run_order(target.stage_wave),
            role=role,
        )

    @staticmethod
    def run_order(wave: int) -> int:
        """Waves at 1, 3, 5...: the wait for each wave's deployments runs between them (2, 4...)."""
        return 2 * wave - 1

    def awaited(self, target: DeployTarget) -> AwaitedRegion:
        return AwaitedRegion(
            region=target.region,
            cluster=self.service.cluster.cluster_name,
            cluster_arn=self.service.cluster.cluster_arn,
            service=self.service.service_name,
            image_file=self.image_definitions_file(target),
            reader_role=target.reader_role,
        )

    def complete_action_role(self, role: iam.IRole, artifact_objects: str) -> None:
        acknowledge_all(
            role,
            [
                *artifact_grant_findings(S3_READ_ACTIONS, (), (artifact_objects,)),
                (
                    "AwsSolutions-IAM5[Resource::*]",
                    "CDK's EcsDeployAction grants: ecs:RegisterTaskDefinition on '*' (CDK's grant, though the Service "
                    "Authorization Reference now lists a task-definition resource for it), DescribeTaskDefinition, "
                    "which supports no resource-level permissions, and the action updates and watches the service it "
                    "names; "
                    "iam:PassRole names the task and execution roles of the services it deploys.",
                ),
            ],
        )
