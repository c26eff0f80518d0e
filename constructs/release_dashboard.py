"""One CloudWatch dashboard in the home region with every region's service side by side."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from aws_cdk import CfnOutput, Duration, Stack, Token
from aws_cdk import aws_cloudwatch as cloudwatch

from constructs import Construct
from constructs.regional_service import RegionalEcsService

GRAPH_WIDTH, GRAPH_HEIGHT = 12, 6
PERIOD = Duration.minutes(1)
# An alarm status widget lists 1-100 alarm ARNs (CloudWatch, dashboard body structure).
MAX_ALARMS_PER_WIDGET = 100


@dataclass(frozen=True)
class RegionPanel:
    """What the dashboard shows of one copy of the service.

    Attributes:
        label: how the graphs name it (``eu-west-2``, ``staging eu-west-1``).
        region: where it runs.
        service: its service, load balancer and target groups.
        alarms: its deployment alarms.
    """

    label: str
    region: str
    service: RegionalEcsService
    alarms: Sequence[cloudwatch.IAlarm]


class _Publisher:
    """Values of one regional stack as another stack reads them: an output there, ``Fn::GetStackOutput`` here.

    CDK's own cross-region references would make it name the service, cluster and alarms at synth; their
    names are create-only, so every running region would replace them. The output carries the generated name.
    """

    def __init__(self, owner: Construct) -> None:
        self.stack = Stack.of(owner)
        self.name, self.region = (
            self.stack.stack_name,
            self.stack.region,
        )  # read once: each read is a jsii call

    def __call__(self, name: str, value: str) -> str:
        output = f"Dashboard{name}"
        CfnOutput(self.stack, output, value=value, description="Read by the home region's dashboard")
        # A plain dict: Token.as_string wraps it in an Intrinsic on the JavaScript side (one jsii call less).
        return Token.as_string(
            {"Fn::GetStackOutput": {"StackName": self.name, "Region": self.region, "OutputName": output}}
        )


@dataclass(frozen=True)
class _Names:
    """One copy's names, as the dashboard's stack reads them."""

    panel: RegionPanel
    load_balancer: str
    target_groups: tuple[tuple[str, str], ...]
    cluster: str
    service: str
    alarm_arns: tuple[str, ...]

    @classmethod
    def of(cls, panel: RegionPanel) -> _Names:
        service = panel.service
        published = _Publisher(service)
        return cls(
            panel=panel,
            load_balancer=published("LoadBalancer", service.load_balancer.load_balancer_full_name),
            target_groups=tuple(
                (color, published(f"{color.title()}TargetGroup", group.target_group_full_name))
                for color, group in (
                    ("blue", service.blue_target_group),
                    ("green", service.green_target_group),
                )
            ),
            cluster=published("Cluster", service.service.cluster.cluster_name),
            service=published("Service", service.service.service_name),
            alarm_arns=tuple(
                published(f"Alarm{index}", alarm.alarm_arn)
                for index, alarm in enumerate(panel.alarms, start=1)
            ),
        )

    def metric(
        self, namespace: str, name: str, statistic: str, dimensions: dict, what: str = ""
    ) -> cloudwatch.Metric:
        return cloudwatch.Metric(
            namespace=namespace,
            metric_name=name,
            dimensions_map=dimensions,
            statistic=statistic,
            period=PERIOD,
            region=self.panel.region,
            label=f"{self.panel.label} {what}".strip(),
        )

    def balancer(self, name: str, statistic: str, what: str = "") -> cloudwatch.Metric:
        return self.metric("AWS/ApplicationELB", name, statistic, {"LoadBalancer": self.load_balancer}, what)

    def healthy_hosts(self) -> list[cloudwatch.IMetric]:
        return [
            self.metric(
                "AWS/ApplicationELB",
                "HealthyHostCount",
                "Minimum",
                {"LoadBalancer": self.load_balancer, "TargetGroup": group},
                color,
            )
            for color, group in self.target_groups
        ]

    def running_tasks(self) -> list[cloudwatch.IMetric]:
        dimensions = {"ClusterName": self.cluster, "ServiceName": self.service}
        return [self.metric("ECS/ContainerInsights", "RunningTaskCount", "Average", dimensions)]


class ReleaseDashboard(Construct):
    """A dashboard of every region: requests, 5xx, p99 latency, healthy hosts, running tasks, deployment alarms.

    Each graph has one line per copy (healthy hosts: per copy and target
    group), read from that copy's region (CloudWatch dashboards graph metrics
    of other regions); alarm widgets (at most 100 alarms each) show every
    copy's deployment alarms.
    The names come from each regional stack's outputs (``Dashboard*``), read
    with ``Fn::GetStackOutput`` when this stack deploys, after the regions.
    Its console URL is the stack output ``DashboardUrl``.

    Args:
        panels: the copies to show, in order.
    """

    def __init__(self, scope: Construct, construct_id: str, *, panels: Sequence[RegionPanel]) -> None:
        super().__init__(scope, construct_id)
        self.dashboard = cloudwatch.Dashboard(self, "Dashboard", default_interval=Duration.hours(3))
        copies = [_Names.of(panel) for panel in panels]
        graphs = [
            _graph("Requests per minute", copies, lambda c: [c.balancer("RequestCount", "Sum")]),
            _graph(
                "5xx per minute (targets, load balancer)",
                copies,
                lambda c: [
                    c.balancer("HTTPCode_Target_5XX_Count", "Sum", "targets"),
                    c.balancer("HTTPCode_ELB_5XX_Count", "Sum", "load balancer"),
                ],
            ),
            _graph(
                "Target response time p99 (s)", copies, lambda c: [c.balancer("TargetResponseTime", "p99")]
            ),
            _graph("Healthy hosts", copies, _Names.healthy_hosts),
            _graph("Running tasks", copies, _Names.running_tasks),
        ]
        imported = [
            cloudwatch.Alarm.from_alarm_arn(self, f"Alarm{i}", arn)
            for i, arn in enumerate((arn for names in copies for arn in names.alarm_arns), start=1)
        ]
        alarms = [
            cloudwatch.AlarmStatusWidget(
                title="Deployment alarms"
                if start == 0
                else f"Deployment alarms ({start // MAX_ALARMS_PER_WIDGET + 1})",
                alarms=imported[start : start + MAX_ALARMS_PER_WIDGET],
                width=GRAPH_WIDTH,
                height=GRAPH_HEIGHT,
            )
            for start in range(0, len(imported), MAX_ALARMS_PER_WIDGET)
        ]
        widgets = [*graphs, *alarms]
        for row in range(0, len(widgets), 2):
            self.dashboard.add_widgets(*widgets[row : row + 2])
        region = Stack.of(self).region
        self.url = (
            f"https://{region}.console.aws.amazon.com/cloudwatch/home?region={region}"
            f"#dashboards/dashboard/{self.dashboard.dashboard_name}"
        )
        CfnOutput(Stack.of(self), "DashboardUrl", value=self.url, description="Every region side by side")


def _graph(
    title: str, copies: Sequence[_Names], metrics: Callable[[_Names], list[cloudwatch.IMetric]]
) -> cloudwatch.GraphWidget:
    return cloudwatch.GraphWidget(
        title=title,
        left=[metric for names in copies for metric in metrics(names)],
        width=GRAPH_WIDTH,
        height=GRAPH_HEIGHT,
    )
