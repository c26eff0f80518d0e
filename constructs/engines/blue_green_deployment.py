"""The CodeDeploy ECS application and blue/green deployment group of one region."""

from __future__ import annotations

from dataclasses import dataclass

from aws_cdk import Duration, PhysicalName, Stack
from aws_cdk import aws_codedeploy as codedeploy
from aws_cdk import aws_events as events
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_

from constructs import Construct
from constructs.engines.codedeploy_region import CodeDeployRegion
from constructs.engines.lifecycle_hook import HookPoint
from constructs.nag_acknowledgments import acknowledge, arn_of, ref_of
from constructs.region.deployment_alarms import TargetGroupAlarms
from constructs.region.regional_service import RegionalEcsService
from constructs.region.release_notifications import DeploymentFailures
from constructs.settings.rollout_settings import RolloutSettings, TrafficShifting

# (mode, percentage, minutes) -> CodeDeploy's predefined ECS configuration.
PREDEFINED_CONFIGS = {
    ("canary", 10, 5): codedeploy.EcsDeploymentConfig.CANARY_10_PERCENT_5_MINUTES,
    ("canary", 10, 15): codedeploy.EcsDeploymentConfig.CANARY_10_PERCENT_15_MINUTES,
    ("linear", 10, 1): codedeploy.EcsDeploymentConfig.LINEAR_10_PERCENT_EVERY_1_MINUTES,
    ("linear", 10, 3): codedeploy.EcsDeploymentConfig.LINEAR_10_PERCENT_EVERY_3_MINUTES,
}


def deployment_config(scope: Construct, shifting: TrafficShifting) -> codedeploy.IEcsDeploymentConfig:
    """CodeDeploy's predefined ECS configuration for ``shifting``, else a custom one created in ``scope``."""
    if shifting.mode == "all_at_once":
        return codedeploy.EcsDeploymentConfig.ALL_AT_ONCE
    key = (shifting.mode, shifting.step_percentage, shifting.step_minutes)
    if key in PREDEFINED_CONFIGS:
        return PREDEFINED_CONFIGS[key]
    routing_class = (
        codedeploy.TimeBasedCanaryTrafficRouting
        if shifting.mode == "canary"
        else codedeploy.TimeBasedLinearTrafficRouting
    )
    return codedeploy.EcsDeploymentConfig(
        scope,
        "DeploymentConfig",
        traffic_routing=routing_class(
            percentage=shifting.step_percentage, interval=Duration.minutes(shifting.step_minutes)
        ),
    )


@dataclass(frozen=True)
class CodeDeployHooks:
    """Hooks run by a CodeDeploy deployment group: the appspec names them, the group's role invokes them.

    Each reports its result with PutLifecycleEventHookExecutionStatus (see
    :class:`~constructs.engines.lifecycle_hook.HookRunner`).
    """

    deployment_group: codedeploy.IEcsDeploymentGroup
    label = "CodeDeploy"
    handler = "handler"
    # No resource type in the Service Authorization Reference: IAM evaluates it on "*".
    report_actions = ("codedeploy:PutLifecycleEventHookExecutionStatus",)

    def event_name(self, point: HookPoint) -> str:
        return point.codedeploy_event

    @staticmethod
    def deployment_statements(service: RegionalEcsService) -> list[dict[str, object]]:
        """Nothing beyond ``report_actions``: the event names the deployment."""
        return []

    @staticmethod
    def deployment_findings(service: RegionalEcsService) -> list[tuple[str, str]]:
        return []

    def register(self, function: lambda_.IFunction, point: HookPoint, *, timeout: Duration) -> None:
        self.deployment_group.role.add_to_principal_policy(
            iam.PolicyStatement(actions=["lambda:InvokeFunction"], resources=[function.function_arn])
        )

    @staticmethod
    def migration_environment(service: RegionalEcsService) -> dict[str, str]:
        """The service whose green task set the migration hook looks up."""
        return {"SERVICE": service.service.service_name}

    @classmethod
    def migration_statements(cls, service: RegionalEcsService) -> list[dict[str, object]]:
        """What the migration hook calls to find the green task set's task definition and to report."""
        stack = Stack.of(service)
        return [
            # No resource type in the Service Authorization Reference: evaluated on "*".
            {
                "Effect": "Allow",
                "Action": [
                    "codedeploy:ListDeploymentTargets",
                    "codedeploy:GetDeploymentTarget",
                    *cls.report_actions,
                ],
                "Resource": "*",
            },
            # Task sets of this service only (CodeDeploy creates them with generated IDs).
            {
                "Effect": "Allow",
                "Action": "ecs:DescribeTaskSets",
                "Resource": f"arn:aws:ecs:{stack.region}:{stack.account}:task-set/"
                f"{service.cluster.cluster_name}/{service.service.service_name}/*",
            },
        ]

    @staticmethod
    def migration_findings(service: RegionalEcsService) -> list[tuple[str, str]]:
        stack = Stack.of(service)
        prefix = f"arn:aws:ecs:{stack.region}:{stack.account}"
        cluster, name = ref_of(service.cluster), arn_of(service.service, "Name")
        return [
            (
                "AwsSolutions-IAM5[Resource::*]",
                "codedeploy:ListDeploymentTargets, GetDeploymentTarget and PutLifecycleEventHookExecutionStatus "
                "support no resource-level permissions (Service Authorization Reference).",
            ),
            (
                f"AwsSolutions-IAM5[Resource::{prefix}:task-set/{cluster}/{name}/*]",
                "Describe the task sets of this service only: CodeDeploy creates one per release with a "
                "generated ID.",
            ),
        ]


# CodeDeploy's states of a deployment that ended without success (each rolls back: see auto_rollback).
FAILED_DEPLOYMENT_STATES = ("FAILURE", "STOP")


class EcsBlueGreenDeployment(Construct):
    """A CodeDeploy ECS application and deployment group for a :class:`RegionalEcsService`.

    A release starts the green task set, routes the test listener to it (and
    runs the optional test-traffic check), then shifts production traffic as
    ``rollout.traffic_shifting`` says and keeps the blue task set for
    ``rollout.termination_wait_minutes`` so a rollback is instant. Alarms on
    both target groups (5xx, unhealthy hosts, latency) are wired to the group:
    a failed deployment, a stopped one and one whose alarm fires roll back by
    themselves. Names are generated by CloudFormation and made explicit only
    when the pipeline lives in another region.

    Args:
        service: the regional service to deploy to.
        rollout: traffic shifting, alarms, termination wait. Its hooks (:attr:`hooks`) run the
            test-traffic check and the migration, which the regional stack builds.
            Default ``RolloutSettings()`` (canary 10% for 5 minutes, 5-minute wait).
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        service: RegionalEcsService,
        rollout: RolloutSettings | None = None,
    ) -> None:
        super().__init__(scope, construct_id)
        rollout = rollout or RolloutSettings()
        service.service.attach_to_application_target_group(service.blue_target_group)
        self.application = codedeploy.EcsApplication(
            self, "Application", application_name=PhysicalName.GENERATE_IF_NEEDED
        )
        self.deployment_config = deployment_config(self, rollout.traffic_shifting)
        self.alarms = TargetGroupAlarms(
            self,
            "Alarms",
            load_balancer=service.load_balancer,
            target_groups=[("Blue", service.blue_target_group), ("Green", service.green_target_group)],
            thresholds=rollout.alarms,
        )
        self.deployment_group = codedeploy.EcsDeploymentGroup(
            self,
            "DeploymentGroup",
            application=self.application,
            deployment_group_name=PhysicalName.GENERATE_IF_NEEDED,
            service=service.service,
            deployment_config=self.deployment_config,
            blue_green_deployment_config=codedeploy.EcsBlueGreenDeploymentConfig(
                blue_target_group=service.blue_target_group,
                green_target_group=service.green_target_group,
                listener=service.production_listener,
                test_listener=service.test_listener,
                termination_wait_time=Duration.minutes(rollout.termination_wait_minutes),
            ),
            alarms=self.alarms.alarms,
            auto_rollback=codedeploy.AutoRollbackConfig(
                failed_deployment=True, stopped_deployment=True, deployment_in_alarm=True
            ),
        )
        # AWSCodeDeployRoleForECS lets the role pass any role to ECS tasks; it may pass the service's only.
        task_definition = service.task_definition
        self.deployment_group.role.add_to_principal_policy(
            iam.PolicyStatement(
                effect=iam.Effect.DENY,
                actions=["iam:PassRole"],
                not_resources=[
                    task_definition.task_role.role_arn,
                    task_definition.obtain_execution_role().role_arn,
                ],
            )
        )
        acknowledge(
            self.deployment_group.role,
            "AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/AWSCodeDeployRoleForECS]",
            "AWSCodeDeployRoleForECS is the service-role policy AWS maintains for ECS blue/green "
            "deployments (task sets, listener rules, alarms, hooks) and updates as CodeDeploy changes; its "
            "iam:PassRole on '*' is denied for every role but the service's task and execution roles.",
        )
        self.hooks = CodeDeployHooks(self.deployment_group)

    @property
    def failed_deployments(self) -> DeploymentFailures:
        """The region's failed or stopped CodeDeploy deployments (both roll back)."""
        detail = events.EventField.from_path
        return DeploymentFailures(
            description="A CodeDeploy deployment of this region failed or was stopped, and rolls back",
            pattern=events.EventPattern(
                source=["aws.codedeploy"],
                detail_type=["CodeDeploy Deployment State-change Notification"],
                detail={
                    "state": list(FAILED_DEPLOYMENT_STATES),
                    "application": [self.application.application_name],
                    "deploymentGroup": [self.deployment_group.deployment_group_name],
                },
            ),
            message=events.RuleTargetInput.from_text(
                f"CodeDeploy deployment {detail('$.detail.deploymentId')} of {detail('$.detail.application')} "
                f"in {detail('$.detail.region')} ended {detail('$.detail.state')}; CodeDeploy rolls it back "
                "(production stays on the previous release)."
            ),
        )

    def region_deployment(self, hooks: tuple[tuple[str, str], ...]) -> CodeDeployRegion:
        """How the pipeline deploys the region: a CodeDeployToECS action whose appspec names ``hooks``."""
        return CodeDeployRegion(deployment_group=self.deployment_group, hooks=hooks)
