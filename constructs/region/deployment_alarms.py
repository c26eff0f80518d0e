"""CloudWatch alarms on a blue/green pair of target groups, for CodeDeploy to roll back on."""

from __future__ import annotations

from collections.abc import Sequence

from aws_cdk import Duration
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_elasticloadbalancingv2 as elbv2

from constructs import Construct
from constructs.settings.rollout_settings import AlarmThresholds

# CodeDeploy accepts at most 10 alarms per deployment group.
MAX_DEPLOYMENT_GROUP_ALARMS = 10


class TargetGroupAlarms(Construct):
    """Three alarms per target group: target 5xx count, unhealthy hosts, and latency at a percentile.

    Metrics are built from the load balancer's and target group's full names
    rather than the target groups' own helpers, because the green target
    group is attached to the listeners by CodeDeploy, not by CloudFormation.
    Missing data (no traffic, no targets) never breaches.

    Args:
        load_balancer: the load balancer in front of the target groups.
        target_groups: the production and test (blue and green) target groups, by label.
        thresholds: alarm thresholds and evaluation window.
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        load_balancer: elbv2.IApplicationLoadBalancer,
        target_groups: Sequence[tuple[str, elbv2.ApplicationTargetGroup]],
        thresholds: AlarmThresholds,
    ) -> None:
        super().__init__(scope, construct_id)
        self.alarms: list[cloudwatch.Alarm] = []
        for label, target_group in target_groups:
            dimensions = {
                "LoadBalancer": load_balancer.load_balancer_full_name,
                "TargetGroup": target_group.target_group_full_name,
            }
            checks = (
                ("Target5xx", "HTTPCode_Target_5XX_Count", "Sum", thresholds.target_5xx_per_minute),
                ("UnhealthyHosts", "UnHealthyHostCount", "Maximum", thresholds.unhealthy_hosts),
                (
                    "Latency",
                    "TargetResponseTime",
                    thresholds.latency_percentile,
                    thresholds.latency_ms / 1000,
                ),
            )
            for name, metric_name, statistic, threshold in checks:
                metric = cloudwatch.Metric(
                    namespace="AWS/ApplicationELB",
                    metric_name=metric_name,
                    dimensions_map=dimensions,
                    statistic=statistic,
                    period=Duration.minutes(1),
                )
                self.alarms.append(
                    cloudwatch.Alarm(
                        self,
                        f"{label}{name}",
                        metric=metric,
                        threshold=threshold,
                        comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
                        evaluation_periods=thresholds.evaluation_minutes,
                        datapoints_to_alarm=thresholds.evaluation_minutes,
                        treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
                        alarm_description=f"{metric_name} {statistic} >= {threshold} on the {label.lower()} "
                        "target group: CodeDeploy stops and rolls back the deployment",
                    )
                )
        if len(self.alarms) > MAX_DEPLOYMENT_GROUP_ALARMS:
            raise ValueError(f"{len(self.alarms)} alarms; CodeDeploy allows {MAX_DEPLOYMENT_GROUP_ALARMS}")
