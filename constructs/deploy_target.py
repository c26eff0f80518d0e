"""One region and environment that a release deploys to, as the pipeline sees it."""

from __future__ import annotations

from dataclasses import dataclass

from aws_cdk import Stack
from aws_cdk import aws_codedeploy as codedeploy
from aws_cdk import aws_ecr as ecr
from aws_cdk import aws_iam as iam

from constructs.nag_acknowledgments import acknowledge_deploy_action_role

PRODUCTION = "production"


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
class DeployTarget:
    """One region of one environment the pipeline releases to.

    Attributes:
        region: the region code.
        repository: the ECR repository that receives the image there.
        task_definition_family: the family of the service's task definition.
        container_name: the container the target groups route to.
        container_port: that container's port.
        deployment_group: the CodeDeploy ECS blue/green deployment group.
        action_role: role for the deploy action; required when ``region`` is not
            the pipeline's (create it in the region's stack), ``None`` for the
            pipeline's own region.
        environment: ``production`` (default) or another environment name such
            as ``staging``; each environment is one pipeline stage.
        wave: the run order of the deploy action within its stage (1 = first).
        hooks: (lifecycle event, Lambda function name) pairs the appspec names,
            such as ``AfterInstall`` (the schema migration) and
            ``AfterAllowTestTraffic`` (the test-traffic check). Default none.
    """

    region: str
    repository: ecr.IRepository
    task_definition_family: str
    container_name: str
    container_port: int
    deployment_group: codedeploy.IEcsDeploymentGroup
    action_role: iam.IRole | None = None
    environment: str = PRODUCTION
    wave: int = 1
    hooks: tuple[tuple[str, str], ...] = ()

    @property
    def _prefix(self) -> str:
        return "" if self.environment == PRODUCTION else f"{self.environment}-"

    @property
    def task_definition_file(self) -> str:
        return f"taskdef-{self._prefix}{self.region}.json"

    @property
    def appspec_file(self) -> str:
        return f"appspec-{self._prefix}{self.region}.yaml"

    @property
    def stage_name(self) -> str:
        return f"Deploy_to_{self.environment.capitalize()}"
