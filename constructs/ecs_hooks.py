"""Lifecycle hooks the ECS service runs itself (the ECS engine)."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

from aws_cdk import Duration, Stack
from aws_cdk import aws_ecs as ecs
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_

from constructs import Construct
from constructs.lifecycle_hook import HookPoint
from constructs.nag_acknowledgments import ref_of

if TYPE_CHECKING:
    from constructs.regional_service import RegionalEcsService

# ECS gives up on a hook this long after its function's own time limit (the function answers before).
HOOK_TIMEOUT_MARGIN_MINUTES = 2


def service_revisions(service: RegionalEcsService) -> list[str]:
    """What ecs:DescribeServiceRevisions is evaluated on: the services and their revisions in ``service``'s cluster.

    IAM requires both resource types (Service Authorization Reference). By cluster, not by service
    name: the service names its hooks, so a hook's policy naming the service would be a cycle; the
    cluster holds only this service.
    """
    stack = Stack.of(service)
    prefix, cluster = f"arn:aws:ecs:{stack.region}:{stack.account}", service.cluster.cluster_name
    return [f"{prefix}:service/{cluster}/*", f"{prefix}:service-revision/{cluster}/*"]


def service_revisions_findings(service: RegionalEcsService) -> list[tuple[str, str]]:
    stack = Stack.of(service)
    prefix, cluster = f"arn:aws:ecs:{stack.region}:{stack.account}", ref_of(service.cluster)
    return [
        (
            f"AwsSolutions-IAM5[Resource::{prefix}:{kind}/{cluster}/*]",
            "ecs:DescribeServiceRevisions (read only) is evaluated on the service and the revision: the one "
            "service of this cluster (not named: it names its hooks) and the revisions ECS makes with "
            "generated IDs.",
        )
        for kind in ("service", "service-revision")
    ]


class EcsHooks:
    """Hooks run by the ECS service itself (see :class:`~constructs.lifecycle_hook.HookRunner`).

    ECS invokes each function with one role (``ecs.amazonaws.com`` may invoke
    exactly the registered functions) and reads its answer (``hookStatus``); it
    gives up on a hook, and rolls back, a little after the function's own limit.
    """

    label = "ECS"
    handler = "ecs_handler"
    report_actions: tuple[str, ...] = ()  # the function's answer is its report

    def __init__(self, scope: Construct, service: RegionalEcsService) -> None:
        self._scope, self._service = scope, service
        self._role: iam.Role | None = None
        self._count = 0

    def event_name(self, point: HookPoint) -> str:
        return point.ecs_stage.value

    def register(self, function: lambda_.IFunction, point: HookPoint, *, timeout: Duration) -> None:
        if self._role is None:
            self._role = iam.Role(
                self._scope,
                "HookRole",
                assumed_by=iam.ServicePrincipal("ecs.amazonaws.com"),
                description="ECS invokes the service's deployment lifecycle hooks with this role",
            )
        self._role.add_to_policy(
            iam.PolicyStatement(actions=["lambda:InvokeFunction"], resources=[function.function_arn])
        )
        service = self._service.service
        service.add_lifecycle_hook(
            ecs.DeploymentLifecycleLambdaTarget(
                function, point.ecs_stage.value, lifecycle_stages=[point.ecs_stage], role=self._role
            )
        )
        # CDK 2.275's L2 cannot set a hook's time limit (ECS's default is a day).
        minutes = math.ceil(timeout.to_seconds() / 60) + HOOK_TIMEOUT_MARGIN_MINUTES
        service.node.default_child.add_property_override(
            f"DeploymentConfiguration.LifecycleHooks.{self._count}.TimeoutConfiguration",
            {"TimeoutInMinutes": minutes, "Action": "ROLLBACK"},
        )
        self._count += 1

    @staticmethod
    def migration_environment(service: RegionalEcsService) -> dict[str, str]:
        """Nothing: the event names the service revision (the service itself would be a cycle: it names the hook)."""
        return {}

    @staticmethod
    def migration_statements(service: RegionalEcsService) -> list[dict[str, object]]:
        """What the migration hook calls to learn the target service revision's task definition."""
        return [
            {
                "Effect": "Allow",
                "Action": "ecs:DescribeServiceRevisions",
                "Resource": service_revisions(service),
            }
        ]

    @staticmethod
    def migration_findings(service: RegionalEcsService) -> list[tuple[str, str]]:
        return service_revisions_findings(service)
