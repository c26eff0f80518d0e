"""Amazon ECS built-in blue/green deployments of one region: no CodeDeploy resources."""

from __future__ import annotations

from aws_cdk import Annotations, Duration
from aws_cdk import aws_ecs as ecs
from aws_cdk import aws_elasticloadbalancingv2 as elbv2
from aws_cdk import aws_events as events

from constructs import Construct
from constructs.engines.ecs_hooks import EcsHooks
from constructs.engines.ecs_region import EcsRegion
from constructs.nag_acknowledgments import acknowledge
from constructs.region.deployment_alarms import TargetGroupAlarms
from constructs.region.regional_service import RegionalEcsService, ServiceDeployment
from constructs.region.release_notifications import DeploymentFailures
from constructs.settings.rollout_settings import RolloutSettings, TrafficShifting


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


class EcsBuiltInBlueGreen(Construct):
    """Amazon ECS's own blue/green deployments for a :class:`RegionalEcsService` (no CodeDeploy).

    The service (built with :func:`ecs_service_deployment`) names its task
    definition family, so every update CloudFormation makes runs the latest
    revision (a release's, or a newer one CloudFormation registered with the
    released image), and the task definition's ARN is its force-new-deployment
    nonce, so a task definition changed in code deploys blue/green through
    ``cdk deploy``. It gets the green
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
        rollout: traffic shifting, alarms, bake time. Its hooks (:attr:`hooks`) run the
            test-traffic check and migration the regional stack builds.
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
        Annotations.of(ecs_service).acknowledge_warning(
            "@aws-cdk/aws-ecs:shouldUseCircuitBreaker",
            "ECS offers the deployment circuit breaker for rolling updates only (CloudFormation schema, "
            "DeploymentCircuitBreaker); blue/green deployments roll back on the deployment alarms and hooks, "
            "and the pipeline's ECS action gives up after an hour.",
        )
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
        # A task definition changed in code is registered as a new revision (a new ARN): deploy it then,
        # and only then (the service names the family, so nothing else of it changes).
        ecs_service.node.default_child.add_property_override(
            "ForceNewDeployment",
            {
                "EnableForceNewDeployment": True,
                "ForceNewDeploymentNonce": service.task_definition.task_definition_arn,
            },
        )
        ecs_service.enable_deployment_alarms(
            [alarm.alarm_name for alarm in self.alarms.alarms], behavior=ecs.AlarmBehavior.ROLLBACK_ON_ALARM
        )
        self.hooks = EcsHooks(self, service)

    @property
    def failed_deployments(self) -> DeploymentFailures:
        """The region's failed ECS service deployments and its rollbacks."""
        detail = events.EventField.from_path
        return DeploymentFailures(
            description="A deployment of this region's ECS service failed or is rolling back",
            pattern=events.EventPattern(
                source=["aws.ecs"],
                detail_type=["ECS Deployment State Change"],
                resources=[self.service.service.service_arn],
                # ECS has no rollback event of its own: a rollback is a deployment IN_PROGRESS whose reason says
                # so ("... rolling back to ...", "rollback"); the wildcard matches both spellings.
                detail={
                    "$or": [
                        {"eventName": ["SERVICE_DEPLOYMENT_FAILED"]},
                        {
                            "eventName": ["SERVICE_DEPLOYMENT_IN_PROGRESS"],
                            "reason": [{"wildcard": "*oll*back*"}],
                        },
                    ]
                },
            ),
            message=events.RuleTargetInput.from_text(
                f"ECS service deployment {detail('$.detail.deploymentId')} in {detail('$.region')}: "
                f"{detail('$.detail.eventName')}: {detail('$.detail.reason')}"
            ),
        )

    def region_deployment(self, hooks: tuple[tuple[str, str], ...]) -> EcsRegion:
        """How the pipeline deploys the region: CodePipeline's ECS action (the service runs its own hooks)."""
        return EcsRegion(service=self.service.service)
