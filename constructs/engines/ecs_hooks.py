"""Lifecycle hooks the ECS service runs itself (the ECS engine)."""

from __future__ import annotations

import functools
import math

from aws_cdk import Duration, Stack
from aws_cdk import aws_ecs as ecs
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_

from constructs import Construct
from constructs.engines.ecs_service_parts import EcsServiceParts
from constructs.engines.lifecycle_hook import HookPoint
from constructs.nag_acknowledgments import ref_of

# ECS gives up on a hook this long after its function's own time limit (the function answers before).
HOOK_TIMEOUT_MARGIN_MINUTES = 2


# What each read-only deployment call names besides the service (both resource types are required).
_NAMES = {
    "ecs:DescribeServiceRevisions": "service-revision",
    "ecs:DescribeServiceDeployments": "service-deployment",
}


@functools.cache
def describes(service: EcsServiceParts, *actions: str) -> tuple[dict[str, object], list[tuple[str, str]]]:
    """One policy statement for the read-only deployment calls ``actions``, and its cdk-nag findings.

    IAM evaluates each on the service and on the revision or deployment it names (Service
    Authorization Reference). By cluster, not by service name: the service names its hooks, so a
    hook's policy naming the service would be a dependency cycle; the cluster holds only this service.
    Cached per service: each name costs a round trip into the CDK.
    """
    stack = Stack.of(service)
    prefix = f"arn:aws:ecs:{stack.region}:{stack.account}"
    kinds = ["service", *(_NAMES[action] for action in actions)]
    cluster_name, cluster_ref = service.cluster.cluster_name, ref_of(service.cluster)
    statement = {
        "Effect": "Allow",
        "Action": list(actions),
        "Resource": [f"{prefix}:{kind}/{cluster_name}/*" for kind in kinds],
    }
    findings = [
        (
            f"AwsSolutions-IAM5[Resource::{prefix}:{kind}/{cluster_ref}/*]",
            "Read-only ECS deployment calls, evaluated on the service and on what they name: the one service of "
            "this cluster (not named: it names its hooks) and the revisions and deployments ECS creates with "
            "generated IDs.",
        )
        for kind in kinds
    ]
    return statement, findings


class EcsHooks:
    """Hooks run by the ECS service itself (see :class:`~constructs.engines.lifecycle_hook.HookRunner`).

    ECS invokes each function with one role (``ecs.amazonaws.com`` may invoke
    exactly the registered functions) and reads its answer (``hookStatus``); it
    gives up on a hook, and rolls back, a little after the function's own limit.
    """

    label = "ECS"
    handler = "ecs_handler"
    report_actions: tuple[str, ...] = ()  # the function's answer is its report
    # Every hook first asks whether the deployment creates the service (it then runs the bootstrap image).
    FIRST_DEPLOYMENT = ("ecs:DescribeServiceDeployments",)

    def __init__(self, scope: Construct, service: EcsServiceParts) -> None:
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
            # ECS calls the hooks with it from the service's first deployment on.
            self._service.service.node.default_child.node.add_dependency(self._role)
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
    def migration_environment(service: EcsServiceParts) -> dict[str, str]:
        """Nothing: the event names the service revision (the service itself would be a cycle: it names the hook)."""
        return {}

    @classmethod
    def deployment_statements(cls, service: EcsServiceParts) -> list[dict[str, object]]:
        """What every hook calls on ECS: is this the deployment that creates the service?"""
        return [describes(service, *cls.FIRST_DEPLOYMENT)[0]]

    @classmethod
    def deployment_findings(cls, service: EcsServiceParts) -> list[tuple[str, str]]:
        return describes(service, *cls.FIRST_DEPLOYMENT)[1]

    @classmethod
    def migration_statements(cls, service: EcsServiceParts) -> list[dict[str, object]]:
        """The first-deployment question and the target service revision's task definition."""
        return [describes(service, *cls.FIRST_DEPLOYMENT, "ecs:DescribeServiceRevisions")[0]]

    @classmethod
    def migration_findings(cls, service: EcsServiceParts) -> list[tuple[str, str]]:
        return describes(service, *cls.FIRST_DEPLOYMENT, "ecs:DescribeServiceRevisions")[1]
