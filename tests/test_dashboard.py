"""The home region's dashboard shows every region side by side; its URL is an output of the pipeline stack."""

from __future__ import annotations

import json

import pytest
from cfn_resolver import Resolver
from conftest import STRUCTURAL
from template_queries import only, resources

from constructs.release_dashboard import MAX_ALARMS_PER_WIDGET

TITLES = [
    "Requests per minute",
    "5xx per minute (targets, load balancer)",
    "Target response time p99 (s)",
    "Healthy hosts",
    "Running tasks",
    "Deployment alarms",
]


def dashboard_body(synthesized) -> dict:
    """The dashboard's JSON as CloudFormation would resolve it (stack outputs read from their stacks)."""
    dashboard_id, _ = only(synthesized.pipeline, "AWS::CloudWatch::Dashboard")
    resolver = Resolver.from_synthesized(synthesized)
    body = synthesized.pipeline["Resources"][dashboard_id]["Properties"]["DashboardBody"]
    return json.loads(resolver.resolve(f"{synthesized.config.app_name}-pipeline", body))


def copies(synthesized) -> list[tuple[str, str, dict]]:
    """(label, region, template) of every copy of the service, production first."""
    config = synthesized.config
    return [(r, r, synthesized.regional(r)) for r in config.regions] + [
        (f"staging {r}", r, synthesized.regional(f"staging-{r}")) for r in config.staging_regions
    ]


@pytest.mark.parametrize("name", STRUCTURAL)
def test_every_region_is_in_every_graph_read_from_its_own_region(synth_cache, name):
    synthesized = synth_cache(name)
    body = dashboard_body(synthesized)
    widgets = body["widgets"]
    alarms = sum(len(resources(t, "AWS::CloudWatch::Alarm")) for _, _, t in copies(synthesized))
    # One alarm widget per 100 alarms (all 30 regions have 180: two).
    more = [f"Deployment alarms ({n})" for n in range(2, -(-alarms // MAX_ALARMS_PER_WIDGET) + 1)]
    assert [w["properties"]["title"] for w in widgets] == [*TITLES, *more]
    resolver = Resolver.from_synthesized(synthesized)
    for widget in widgets[:5]:
        lines = widget["properties"]["metrics"]
        per_copy = len(lines) // len(copies(synthesized))
        assert per_copy * len(copies(synthesized)) == len(lines)
        for index, (label, region, template) in enumerate(copies(synthesized)):
            stack = resolver.stacks[f"{synthesized.config.app_name}-{label.replace('staging ', 'staging-')}"]
            for line in lines[index * per_copy : (index + 1) * per_copy]:
                *metric, options = line
                assert options["region"] == region
                assert options["label"].startswith(label)
                assert options["period"] == 60
                dimensions = dict(zip(metric[2::2], metric[3::2], strict=True))
                balancer_id, _ = only(template, "AWS::ElasticLoadBalancingV2::LoadBalancer")
                if "LoadBalancer" in dimensions:
                    assert dimensions["LoadBalancer"] == resolver.get_att(
                        stack, balancer_id, "LoadBalancerFullName"
                    )
                if "ServiceName" in dimensions:
                    service_id, _ = only(template, "AWS::ECS::Service")
                    assert dimensions["ServiceName"] == resolver.get_att(stack, service_id, "Name")


def test_the_graphs_are_the_ones_asked_for(default_synth):
    widgets = dashboard_body(default_synth)["widgets"]
    # CDK leaves out "Average", the dashboard's default statistic.
    metrics = [
        {(line[0], line[1], line[-1].get("stat", "Average")) for line in w["properties"]["metrics"]}
        for w in widgets[:5]
    ]
    assert metrics == [
        {("AWS/ApplicationELB", "RequestCount", "Sum")},
        {
            ("AWS/ApplicationELB", "HTTPCode_Target_5XX_Count", "Sum"),
            ("AWS/ApplicationELB", "HTTPCode_ELB_5XX_Count", "Sum"),
        },
        {("AWS/ApplicationELB", "TargetResponseTime", "p99")},
        {("AWS/ApplicationELB", "HealthyHostCount", "Minimum")},
        {("ECS/ContainerInsights", "RunningTaskCount", "Average")},
    ]
    # Healthy hosts per region and target group: blue and green.
    labels = [line[-1]["label"] for line in widgets[3]["properties"]["metrics"]]
    assert labels == ["eu-west-2 blue", "eu-west-2 green", "ap-southeast-1 blue", "ap-southeast-1 green"]


@pytest.mark.parametrize("name", ["default", "staged", "ecs"])
def test_every_deployment_alarm_of_every_copy_is_on_the_dashboard(synth_cache, name):
    synthesized = synth_cache(name)
    resolver = Resolver.from_synthesized(synthesized)
    shown = dashboard_body(synthesized)["widgets"][5]["properties"]["alarms"]
    expected = []
    for label, _, template in copies(synthesized):
        stack = resolver.stacks[f"{synthesized.config.app_name}-{label.replace('staging ', 'staging-')}"]
        expected += [
            resolver.arn(stack, alarm_id) for alarm_id in resources(template, "AWS::CloudWatch::Alarm")
        ]
    assert sorted(shown) == sorted(expected)
    assert len(shown) == 6 * len(copies(synthesized))


def test_the_dashboard_url_is_an_output(default_synth):
    dashboard_id, _ = only(default_synth.pipeline, "AWS::CloudWatch::Dashboard")
    url = default_synth.pipeline["Outputs"]["DashboardUrl"]["Value"]
    assert url == {
        "Fn::Join": [
            "",
            [
                "https://eu-west-2.console.aws.amazon.com/cloudwatch/home?region=eu-west-2#dashboards/dashboard/",
                {"Ref": dashboard_id},
            ],
        ]
    }
