"""One CloudWatch dashboard in the home region with a row of widgets for every copy of the service."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from aws_cdk import CfnOutput, Duration, Fn, Stack, Token
from aws_cdk import aws_cloudwatch as cloudwatch

from constructs import Construct
from constructs.region.regional_service import RegionalEcsService

# A row: a heading, then six widgets across the dashboard's 24 columns.
WIDGET_WIDTH, WIDGET_HEIGHT, HEADING_HEIGHT = 4, 6, 1
ROW_HEIGHT = HEADING_HEIGHT + WIDGET_HEIGHT
PERIOD = Duration.minutes(1)
# An alarm status widget lists 1-100 alarm ARNs (CloudWatch, dashboard body structure).
MAX_ALARMS_PER_WIDGET = 100
# The one output each regional stack publishes for the dashboard.
WIDGETS_OUTPUT = "DashboardWidgets"


@dataclass(frozen=True)
class RegionPanel:
    """What the dashboard shows of one copy of the service.

    Attributes:
        label: how the dashboard names it (``eu-west-2``, ``staging eu-west-1``).
        region: where it runs.
        service: its service, load balancer and target groups.
        alarms: its deployment alarms.
    """

    label: str
    region: str
    service: RegionalEcsService
    alarms: Sequence[cloudwatch.IAlarm]


def region_widgets(panel: RegionPanel, row: int) -> list[cloudwatch.IWidget]:
    """The row ``row`` of the dashboard: ``panel``'s heading, five graphs and its alarms, read from its region.

    Built in the copy's own stack, so every name is a reference of that stack.
    """
    service = panel.service
    balancer = {"LoadBalancer": service.load_balancer.load_balancer_full_name}

    def metric(namespace: str, name: str, statistic: str, dimensions: dict, label: str) -> cloudwatch.Metric:
        return cloudwatch.Metric(
            namespace=namespace,
            metric_name=name,
            dimensions_map=dimensions,
            statistic=statistic,
            period=PERIOD,
            region=panel.region,
            label=label,
        )

    def elb(name: str, statistic: str, label: str, dimensions: dict | None = None) -> cloudwatch.Metric:
        return metric("AWS/ApplicationELB", name, statistic, dimensions or balancer, label)

    graphs = {
        "Requests per minute": [elb("RequestCount", "Sum", "requests")],
        "5xx per minute": [
            elb("HTTPCode_Target_5XX_Count", "Sum", "targets"),
            elb("HTTPCode_ELB_5XX_Count", "Sum", "load balancer"),
        ],
        "Target response time p99 (s)": [elb("TargetResponseTime", "p99", "p99")],
        "Healthy hosts": [
            elb(
                "HealthyHostCount",
                "Minimum",
                color,
                {**balancer, "TargetGroup": group.target_group_full_name},
            )
            for color, group in (("blue", service.blue_target_group), ("green", service.green_target_group))
        ],
        "Running tasks": [
            metric(
                "ECS/ContainerInsights",
                "RunningTaskCount",
                "Average",
                {
                    "ClusterName": service.service.cluster.cluster_name,
                    "ServiceName": service.service.service_name,
                },
                "tasks",
            )
        ],
    }
    top = row * ROW_HEIGHT
    widgets: list[cloudwatch.IWidget] = [
        cloudwatch.TextWidget(markdown=f"### {panel.label}", width=24, height=HEADING_HEIGHT)
    ]
    for title, metrics in graphs.items():
        widgets.append(
            cloudwatch.GraphWidget(
                title=f"{panel.label}: {title}", left=metrics, width=WIDGET_WIDTH, height=WIDGET_HEIGHT
            )
        )
    widgets += [
        cloudwatch.AlarmStatusWidget(
            title=f"{panel.label}: deployment alarms",
            alarms=list(panel.alarms[start : start + MAX_ALARMS_PER_WIDGET]),
            width=WIDGET_WIDTH,
            height=WIDGET_HEIGHT,
        )
        for start in range(0, len(panel.alarms), MAX_ALARMS_PER_WIDGET)
    ]
    widgets[0].position(0, top)
    for column, widget in enumerate(widgets[1:]):
        widget.position(column * WIDGET_WIDTH, top + HEADING_HEIGHT)
    return widgets


class ReleaseDashboard(Construct):
    """A dashboard with a row for every copy: requests, 5xx, p99 latency, healthy hosts, running tasks, alarms.

    Each copy's row is built in its own stack and published there as one
    output (``DashboardWidgets``: the row's widgets as JSON, metrics read
    from that copy's region); this stack reads each with
    ``Fn::GetStackOutput`` (a weak reference: nothing is exported, and one
    read per copy) and joins them into the dashboard's body. Reading the
    rows, rather than referencing the names the CDK way, keeps the names
    CloudFormation generated: CDK would name the service, cluster and alarms
    at synth, and those names are create-only (every running region would
    replace them). Its console URL is the stack output ``DashboardUrl``.

    Args:
        panels: the copies to show, in order.
    """

    def __init__(self, scope: Construct, construct_id: str, *, panels: Sequence[RegionPanel]) -> None:
        super().__init__(scope, construct_id)
        self.dashboard = cloudwatch.Dashboard(self, "Dashboard", default_interval=Duration.hours(3))
        rows = [_published_row(panel, row) for row, panel in enumerate(panels)]
        self.dashboard.node.default_child.add_property_override(
            "DashboardBody", Fn.join("", ['{"start":"-PT3H","widgets":[', Fn.join(",", rows), "]}"])
        )
        region = Stack.of(self).region
        self.url = (
            f"https://{region}.console.aws.amazon.com/cloudwatch/home?region={region}"
            f"#dashboards/dashboard/{self.dashboard.dashboard_name}"
        )
        CfnOutput(Stack.of(self), "DashboardUrl", value=self.url, description="Every region side by side")


def _published_row(panel: RegionPanel, row: int) -> str:
    """The copy's row as its stack publishes it (an output), and as this stack reads it (``Fn::GetStackOutput``)."""
    stack = Stack.of(panel.service)
    widgets = region_widgets(panel, row)
    value = Fn.join(",", [stack.to_json_string(part) for widget in widgets for part in widget.to_json()])
    CfnOutput(
        stack, WIDGETS_OUTPUT, value=value, description="This copy's row of the home region's dashboard"
    )
    # A plain dict: Token.as_string wraps it in an Intrinsic on the JavaScript side (one jsii call less).
    return Token.as_string(
        {
            "Fn::GetStackOutput": {
                "StackName": stack.stack_name,
                "Region": stack.region,
                "OutputName": WIDGETS_OUTPUT,
            }
        }
    )
