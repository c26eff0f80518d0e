"""Lifecycle-hook functions (code from release/hooks/) and the engines that run them."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from aws_cdk import Duration, PhysicalName, Stack
from aws_cdk import aws_ecs as ecs
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs

from constructs import Construct

HOOK_CODE = Path(__file__).resolve().parents[2] / "release" / "hooks"
# Not code: Python writes these next to the modules when the tests import them.
HOOK_CODE_EXCLUDES = ["__pycache__", "*.pyc"]


@dataclass(frozen=True, kw_only=True)
class HookPoint:
    """Where in a deployment a hook runs, as each engine names it.

    Attributes:
        codedeploy_event: the appspec's lifecycle event; ``None`` for a hook only ECS runs.
        ecs_stage: the ECS service deployment's lifecycle stage.
    """

    codedeploy_event: str | None
    ecs_stage: ecs.DeploymentLifecycleStage


# Green tasks are running, before any traffic reaches them.
AFTER_INSTALL = HookPoint(
    codedeploy_event="AfterInstall", ecs_stage=ecs.DeploymentLifecycleStage.POST_SCALE_UP
)
# The test listener serves the green tasks, before production traffic moves.
AFTER_TEST_TRAFFIC = HookPoint(
    codedeploy_event="AfterAllowTestTraffic", ecs_stage=ecs.DeploymentLifecycleStage.POST_TEST_TRAFFIC_SHIFT
)


class HookRunner(Protocol):
    """The deployment engine that runs a region's hooks: CodeDeploy's deployment group or the ECS service."""

    @property
    def label(self) -> str:
        """``CodeDeploy`` or ``ECS``: the start of each hook function's description."""
        ...

    @property
    def handler(self) -> str:
        """The function each hook module offers for this engine's contract."""
        ...

    def event_name(self, point: HookPoint) -> str:
        """How this engine names ``point``."""
        ...

    def register(self, function: lambda_.IFunction, point: HookPoint, *, timeout: Duration) -> None:
        """Make the engine call ``function`` at ``point``, giving up on it after ``timeout``."""
        ...

    @property
    def report_actions(self) -> tuple[str, ...]:
        """Actions (evaluated on ``*``) a hook calls to report its result; none when its answer is the report."""
        ...

    def deployment_statements(self, service: object) -> list[dict[str, object]]:
        """Policy statements every hook of ``service`` needs to ask the engine about the deployment."""
        ...

    def deployment_findings(self, service: object) -> list[tuple[str, str]]:
        """The cdk-nag findings of ``deployment_statements`` with their reasons."""
        ...

    def migration_environment(self, service: object) -> dict[str, str]:
        """What the migration hook needs in its environment to find the green task definition."""
        ...

    def migration_statements(self, service: object) -> list[dict[str, object]]:
        """Policy statements the migration hook needs to find the green task definition and answer."""
        ...

    def migration_findings(self, service: object) -> list[tuple[str, str]]:
        """The cdk-nag findings of ``migration_statements`` with their reasons."""
        ...


class _HookCode(Construct):
    """``release/hooks/`` as one code asset of a stack, shared by all its hook functions."""

    def __init__(self, scope: Construct, construct_id: str) -> None:
        super().__init__(scope, construct_id)
        self.code = lambda_.Code.from_asset(str(HOOK_CODE), exclude=HOOK_CODE_EXCLUDES)


def hook_code(stack: Stack) -> lambda_.Code:
    """The stack's hook code: one asset per stack instead of one per function (each costs synth time)."""
    holder = stack.node.try_find_child("HookCode") or _HookCode(stack, "HookCode")
    return holder.code


def release_function(
    scope: Construct,
    *,
    handler: str,
    description: str,
    role: iam.IRole,
    log_group: logs.ILogGroup,
    timeout: Duration,
    **options: object,
) -> lambda_.Function:
    """The function ``Function`` in ``scope``: ``handler`` (``<module>.<function>``) of the stack's hook code
    (``release/hooks/``) on Python 3.14, logging to ``log_group``; ``options`` go to ``lambda_.Function``."""
    return lambda_.Function(
        scope,
        "Function",
        description=description,
        runtime=lambda_.Runtime.PYTHON_3_14,
        handler=handler,
        code=hook_code(Stack.of(scope)),
        timeout=timeout,
        role=role,
        log_group=log_group,
        **options,
    )


def hook_function(
    scope: Construct,
    *,
    module: str,
    point: HookPoint,
    what: str,
    runner: HookRunner,
    role: iam.IRole,
    log_group: logs.ILogGroup,
    timeout: Duration,
    **options: object,
) -> lambda_.Function:
    """The function ``Function`` in ``scope``: ``release/hooks/<module>.py`` on Python 3.14, run by ``runner``.

    Its description reads ``<engine> <event>: <what>`` (the tests find hooks by it).
    ``options`` go to ``lambda_.Function`` (environment, VPC, retries, ...).
    """
    function = release_function(
        scope,
        function_name=PhysicalName.GENERATE_IF_NEEDED,
        description=f"{runner.label} {runner.event_name(point)}: {what}",
        handler=f"{module}.{runner.handler}",
        timeout=timeout,
        log_group=log_group,
        role=role,
        **options,
    )
    runner.register(function, point, timeout=timeout)
    return function
