"""One region and environment that a release deploys to, as the pipeline sees it."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from aws_cdk import Stack
from aws_cdk import aws_codepipeline as codepipeline
from aws_cdk import aws_ecr as ecr
from aws_cdk import aws_iam as iam

from constructs.pipeline.awaited_deployments import AwaitedRegion
from constructs.pipeline.release_reader_role import ReleaseReaderRole
from constructs.settings.deployment_windows import DeploymentWindow

PRODUCTION = "production"


class RegionDeployment(Protocol):
    """How one region is deployed (the engine): the files the build writes for it and the action that deploys them."""

    def artifact_files(self, target: DeployTarget) -> tuple[str, ...]:
        """The files the build writes for ``target`` and the deploy action reads."""
        ...

    def build_plan(self, target: DeployTarget) -> dict[str, object]:
        """The engine's part of ``target``'s entry in the build's RELEASE_PLAN."""
        ...

    def deploy_action(
        self, target: DeployTarget, *, build_output: codepipeline.Artifact, role: iam.IRole
    ) -> codepipeline.IAction:
        """The pipeline action that deploys ``target`` from the build's output."""
        ...

    def complete_action_role(self, role: iam.IRole, artifact_objects: str) -> None:
        """Grant (and acknowledge) what the deploy action's ``role`` needs beyond CDK's own grants."""
        ...

    def run_order(self, wave: int) -> int:
        """The run order of the deploy actions of ``wave`` in their stage."""
        ...

    def awaited(self, target: DeployTarget) -> AwaitedRegion | None:
        """What the pipeline waits for after the deploy action, or None when the action itself waits."""
        ...


@dataclass(frozen=True, kw_only=True)
class DeployTarget:
    """One region of one environment the pipeline releases to.

    Attributes:
        region: the region code.
        repository: the ECR repository that receives the image there.
        task_definition_family: the family of the service's task definition.
        container_name: the container the target groups route to.
        container_port: that container's port.
        deployment: how the region is deployed (its engine), such as
            :class:`~constructs.engines.codedeploy_region.CodeDeployRegion`.
        passed_roles: the roles the deploy hands to ECS (the service's task and
            execution roles); the deploy action's role may pass these and no other.
        action_role: role for the deploy action; required when ``region`` is not
            the pipeline's (create it in the region's stack, a
            :class:`~constructs.pipeline.deploy_action_role.DeployActionRole`), ``None`` for the
            pipeline's own region.
        reader_role: in another account than the pipeline's, the role the
            pipeline's build and wait assume to read the region's task
            definition and service (a
            :class:`~constructs.pipeline.release_reader_role.ReleaseReaderRole`).
            Default none: the pipeline's own account.
        environment: ``production`` (default) or another environment name such
            as ``staging``; each environment is one pipeline stage, unless its waves are stages.
        wave: the wave of the region within its environment (1 = first).
        wave_stage: each wave of the environment is a stage of its own
            (``Deploy_to_<Environment>_wave_<wave>``). Default ``False``: one stage, the waves in run order.
        window: the hours in which the region's stage may start (its entry condition); every region of a
            stage has the same window or none. Default none: any time.
    """

    region: str
    repository: ecr.IRepository
    task_definition_family: str
    container_name: str
    container_port: int
    deployment: RegionDeployment
    passed_roles: tuple[iam.IRole, ...] = ()
    action_role: iam.IRole | None = None
    reader_role: ReleaseReaderRole | None = None
    environment: str = PRODUCTION
    wave: int = 1
    wave_stage: bool = False
    window: DeploymentWindow | None = None

    def file_name(self, kind: str, extension: str) -> str:
        """``<kind>-<region>.<extension>``, with the environment before the region unless production."""
        prefix = "" if self.environment == PRODUCTION else f"{self.environment}-"
        return f"{kind}-{prefix}{self.region}.{extension}"

    @property
    def account(self) -> str:
        """The account of the region's stack (its repository's)."""
        return Stack.of(self.repository).account

    @property
    def stage_name(self) -> str:
        stage = f"Deploy_to_{self.environment.capitalize()}"
        return f"{stage}_wave_{self.wave}" if self.wave_stage else stage

    @property
    def stage_wave(self) -> int:
        """The rank of the region's wave within its stage: what orders the stage's actions."""
        return 1 if self.wave_stage else self.wave
