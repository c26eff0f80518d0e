"""The CodeDeploy engine of one region: a CodeDeployToECS action fed by a task definition and an appspec."""

from __future__ import annotations

from dataclasses import dataclass

from aws_cdk import Stack
from aws_cdk import aws_codedeploy as codedeploy
from aws_cdk import aws_codepipeline as codepipeline
from aws_cdk import aws_codepipeline_actions as actions
from aws_cdk import aws_iam as iam

from constructs.nag_acknowledgments import acknowledge_deploy_action_role
from constructs.pipeline.deploy_target import DeployTarget


def complete_deploy_action_role(role: iam.IRole, artifact_objects: str) -> None:
    """What a CodeDeployToECS action's role needs beyond CDK's grants, and its acknowledged findings.

    It may read every deployment configuration of its region: a custom
    configuration is replaced (and renamed) when its traffic shifting changes,
    while the pipeline names it through a stack output that CloudFormation
    reads again only when the pipeline stack itself is updated, so the name in
    CDK's grant could go stale. ``deploymentconfig:*`` (read only) is what AWS
    documents for the action.

    Args:
        artifact_objects: the region's artifact objects as cdk-nag writes them (``<Bucket.Arn>/*``).
    """
    stack = Stack.of(role)
    role.add_to_principal_policy(
        iam.PolicyStatement(
            actions=["codedeploy:GetDeploymentConfig"],
            resources=[f"arn:aws:codedeploy:{stack.region}:{stack.account}:deploymentconfig:*"],
        )
    )
    acknowledge_deploy_action_role(role, artifact_objects)


@dataclass(frozen=True, kw_only=True)
class CodeDeployRegion:
    """A region released by CodeDeploy blue/green (see :class:`~constructs.pipeline.deploy_target.RegionDeployment`).

    The build writes ``taskdef-<region>.json`` (the region's task definition with
    the released image) and ``appspec-<region>.yaml`` (container, port and
    hooks); the pipeline's CodeDeployToECS action registers the one and starts
    a deployment of the deployment group with the other.

    Attributes:
        deployment_group: the CodeDeploy ECS blue/green deployment group.
        hooks: (lifecycle event, Lambda function name) pairs the appspec names,
            such as ``AfterInstall`` (the schema migration) and
            ``AfterAllowTestTraffic`` (the test-traffic check). Default none.
    """

    deployment_group: codedeploy.IEcsDeploymentGroup
    hooks: tuple[tuple[str, str], ...] = ()

    @staticmethod
    def task_definition_file(target: DeployTarget) -> str:
        return target.file_name("taskdef", "json")

    @staticmethod
    def appspec_file(target: DeployTarget) -> str:
        return target.file_name("appspec", "yaml")

    def artifact_files(self, target: DeployTarget) -> tuple[str, ...]:
        return (self.task_definition_file(target), self.appspec_file(target))

    def build_plan(self, target: DeployTarget) -> dict[str, object]:
        return {
            "kind": "codedeploy",
            "task_definition_file": self.task_definition_file(target),
            "appspec_file": self.appspec_file(target),
            "hooks": dict(self.hooks),
        }

    def deploy_action(
        self, target: DeployTarget, *, build_output: codepipeline.Artifact, role: iam.IRole
    ) -> codepipeline.IAction:
        return actions.CodeDeployEcsDeployAction(
            action_name=f"Deploy-{target.region}",
            deployment_group=self.deployment_group,
            task_definition_template_file=build_output.at_path(self.task_definition_file(target)),
            app_spec_template_file=build_output.at_path(self.appspec_file(target)),
            run_order=self.run_order(target.stage_wave),
            role=role,
        )

    def complete_action_role(self, role: iam.IRole, artifact_objects: str) -> None:
        complete_deploy_action_role(role, artifact_objects)

    @staticmethod
    def run_order(wave: int) -> int:
        return wave

    @staticmethod
    def awaited(target: DeployTarget) -> None:
        """Nothing: CodePipeline documents that the CodeDeployToECS action waits for its deployment to end."""
        return None
