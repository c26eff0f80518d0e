"""Amazon ECS built-in blue/green deployments of one region: no CodeDeploy resources."""

from __future__ import annotations

import math

from aws_cdk import Duration, Stack
from aws_cdk import aws_ecs as ecs
from aws_cdk import aws_elasticloadbalancingv2 as elbv2
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_

from constructs import Construct
from constructs.deployment_alarms import TargetGroupAlarms
from constructs.ecs_region import EcsRegion
from constructs.lifecycle_hook import HookPoint
from constructs.nag_acknowledgments import acknowledge, arn_of, ref_of
from constructs.regional_service import RegionalEcsService, ServiceDeployment
from constructs.rollout_settings import RolloutSettings, TrafficShifting
from constructs.test_traffic_check import TestTrafficCheck

# ECS gives up on a hook this long after its own time limit (the function answers well before).
HOOK_TIMEOUT_MARGIN_MINUTES = 2


def strategy_options(shifting: TrafficShifting) -> dict[str, object]:
    """``FargateService`` properties for ``shifting``: BLUE_GREEN (all at once), CANARY or LINEAR."""
    if shifting.mode == "all_at_once":
        return {"deployment_strategy": ecs.DeploymentStrategy.BLUE_GREEN}
    steps = ecs.TrafficShiftConfig(
        step_percent=shifting.step_percentage, step_bake_time=Duration.minutes(shifting.step_minutes)
    )
    if shifting.mode == "canary":
        return {"deployment_strategy": ecs.DeploymentStrategy.CANARY, "canary_configuration": steps}
    return {"deployment_strategy": ecs.DeploymentStrategy.LINEAR, "linear_configuration": steps}


def ecs_service_deployment(rollout: RolloutSettings) -> ServiceDeployment:
    """The ECS deployment controller with the rollout's strategy; ``termination_wait_minutes`` is the bake time.

    The bake time is always set: ECS's default (15 minutes) would count against
    the pipeline action's hour without anyone having chosen it.
    """
    return ServiceDeployment(
        controller=ecs.DeploymentControllerType.ECS,
        options={
            **strategy_options(rollout.traffic_shifting),
            "bake_time": Duration.minutes(rollout.termination_wait_minutes),
        },
        released_image=True,
    )


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

    def migration_statements(self, service: RegionalEcsService) -> list[dict[str, object]]:
        """What the migration hook calls to learn the target service revision's task definition."""
        stack = Stack.of(service)
        return [
            {
                "Effect": "Allow",
                "Action": "ecs:DescribeServiceRevisions",
                "Resource": f"arn:aws:ecs:{stack.region}:{stack.account}:service-revision/"
                f"{service.cluster.cluster_name}/{service.service.service_name}/*",
            }
        ]

    def migration_findings(self, service: RegionalEcsService) -> list[tuple[str, str]]:
        stack = Stack.of(service)
        cluster, name = ref_of(service.cluster), arn_of(service.service, "Name")
        return [
            (
                f"AwsSolutions-IAM5[Resource::arn:aws:ecs:{stack.region}:{stack.account}:service-revision/"
                f"{cluster}/{name}/*]",
                "Describe the revisions of this service only: ECS creates one per deployment with a generated ID.",
            )
        ]


class EcsBuiltInBlueGreen(Construct):
    """Amazon ECS's own blue/green deployments for a :class:`RegionalEcsService` (no CodeDeploy).

    The service (built with :func:`ecs_service_deployment`) gets the green
    target group as its alternate target, a production and a test listener
    rule (every path; blue weighted 100, green 0) that ECS re-weights during a
    deployment, and the same six alarms as the CodeDeploy engine as its
    deployment alarms, with rollback. A deployment scales up green (the
    migration hook runs here), moves test traffic to it (then the
    test-traffic check), shifts production traffic as ``rollout`` says, keeps
    blue for the bake time, and rolls back by itself on an alarm or a failed
    hook.

    Args:
        service: the regional service to deploy to.
        rollout: traffic shifting, alarms, bake time, test-traffic check.
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        service: RegionalEcsService,
        rollout: RolloutSettings,
    ) -> None:
        super().__init__(scope, construct_id)
        self.service = service
        blue, green = service.blue_target_group, service.green_target_group
        self.alarms = TargetGroupAlarms(
            self,
            "Alarms",
            load_balancer=service.load_balancer,
            target_groups=[("Blue", blue), ("Green", green)],
            thresholds=rollout.alarms,
        )
        self.production_rule, self.test_rule = (
            elbv2.ApplicationListenerRule(
                self,
                f"{name}Rule",
                listener=listener,
                priority=1,
                conditions=[elbv2.ListenerCondition.path_patterns(["*"])],
                action=elbv2.ListenerAction.weighted_forward(
                    [
                        elbv2.WeightedTargetGroup(target_group=blue, weight=100),
                        elbv2.WeightedTargetGroup(target_group=green, weight=0),
                    ]
                ),
            )
            for name, listener in (
                ("Production", service.production_listener),
                ("Test", service.test_listener),
            )
        )
        ecs_service = service.service
        ecs_service.load_balancer_target(
            container_name=service.settings.container_name,
            container_port=service.settings.container_port,
            alternate_target=ecs.AlternateTarget(
                "AlternateTarget",
                alternate_target_group=green,
                production_listener=ecs.ListenerRuleConfiguration.application_listener_rule(
                    self.production_rule
                ),
                test_listener=ecs.ListenerRuleConfiguration.application_listener_rule(self.test_rule),
            ),
        ).attach_to_application_target_group(blue)
        acknowledge(
            ecs_service.node.find_child("AlternateTargetRole"),
            "AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/"
            "AmazonECSInfrastructureRolePolicyForLoadBalancers]",
            "AmazonECSInfrastructureRolePolicyForLoadBalancers is the policy AWS maintains for ECS blue/green "
            "deployments to re-weight listener rules and register targets, and updates as ECS changes.",
        )
        ecs_service.enable_deployment_alarms(
            [alarm.alarm_name for alarm in self.alarms.alarms], behavior=ecs.AlarmBehavior.ROLLBACK_ON_ALARM
        )
        self.hooks = EcsHooks(self, service)
        self.test_traffic_check: TestTrafficCheck | None = None
        if rollout.test_traffic_check_path is not None:
            self.test_traffic_check = TestTrafficCheck(
                self,
                "TestTrafficCheck",
                service=service,
                runner=self.hooks,
                path=rollout.test_traffic_check_path,
            )

    def region_deployment(self, hooks: tuple[tuple[str, str], ...]) -> EcsRegion:
        """How the pipeline deploys the region: CodePipeline's ECS action (the service runs its own hooks)."""
        return EcsRegion(
            service=self.service.service, released_image_parameter=self.service.released_image_parameter_name
        )
