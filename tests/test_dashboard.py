"""The home region's dashboard: a row per copy of the service, each read from its stack in one output."""

from __future__ import annotations

import json

import pytest
from cfn_resolver import Resolver
from conftest import STRUCTURAL
from template_queries import only, resources

from constructs.pipeline.release_dashboard import MAX_ALARMS_PER_WIDGET, WIDGETS_OUTPUT

TITLES = (
    "Requests per minute",
    "5xx per minute",
    "Target response time p99 (s)",
    "Healthy hosts",
    "Running tasks",
    "deployment alarms",
)
# AWS documents no size limit for a stack output's value; each row stays under that of a parameter value.
ROW_LIMIT = 4096


def dashboard_body(synthesized) -> dict:
    """The dashboard's JSON as CloudFormation would resolve it (stack outputs read from their stacks)."""
    dashboard_id, _ = only(synthesized.pipeline, "AWS::CloudWatch::Dashboard")
    resolver = Resolver.from_synthesized(synthesized)
    body = synthesized.pipeline["Resources"][dashboard_id]["Properties"]["DashboardBody"]
    return json.loads(resolver.resolve(f"{synthesized.config.app_name}-pipeline", body))


def copies(synthesized) -> list[tuple[str, str, str]]:
    """(label, region, stack name) of every copy of the service, production first."""
    config = synthesized.config
    return [(r, r, f"{config.app_name}-{r}") for r in config.regions] + [
        (f"staging {r}", r, f"{config.app_name}-staging-{r}") for r in config.staging_regions
    ]


def rows(synthesized) -> dict[str, list[dict]]:
    """The dashboard's widgets by the copy whose heading starts their row."""
    found: dict[str, list[dict]] = {}
    label = None
    for widget in dashboard_body(synthesized)["widgets"]:
        if widget["type"] == "text":
            label = widget["properties"]["markdown"].removeprefix("### ")
            found[label] = []
        else:
            found[label].append(widget)
    return found


@pytest.mark.parametrize("name", STRUCTURAL)
def test_every_copy_has_its_row_of_graphs_read_from_its_own_region(synth_cache, name):
    synthesized = synth_cache(name)
    resolver = Resolver.from_synthesized(synthesized)
    by_copy = rows(synthesized)
    assert list(by_copy) == [label for label, _, _ in copies(synthesized)]
    for label, region, stack_name in copies(synthesized):
        stack, template = resolver.stacks[stack_name], synthesized.templates[stack_name]
        widgets = by_copy[label]
        assert [w["properties"]["title"] for w in widgets] == [f"{label}: {t}" for t in TITLES]
        balancer_id, _ = only(template, "AWS::ElasticLoadBalancingV2::LoadBalancer")
        service_id, _ = only(template, "AWS::ECS::Service")
        for widget in widgets[:5]:
            for line in widget["properties"]["metrics"]:
                *metric, options = line
                assert (options["region"], options["period"]) == (region, 60)
                dimensions = dict(zip(metric[2::2], metric[3::2], strict=True))
                if "LoadBalancer" in dimensions:
                    assert dimensions["LoadBalancer"] == resolver.get_att(
                        stack, balancer_id, "LoadBalancerFullName"
                    )
                if "ServiceName" in dimensions:
                    assert dimensions["ServiceName"] == resolver.get_att(stack, service_id, "Name")
        # Rows do not overlap: each starts below the one before.
        tops = {w["y"] for w in widgets}
        assert len(tops) == 1


def test_the_graphs_are_the_ones_asked_for(default_synth):
    widgets = rows(default_synth)["eu-west-2"]
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
    assert [line[-1]["label"] for line in widgets[3]["properties"]["metrics"]] == ["blue", "green"]


def alarms_shown(synthesized) -> list[list[str]]:
    """The alarms of every alarm widget, widget by widget."""
    return [
        widget["properties"]["alarms"]
        for widget in dashboard_body(synthesized)["widgets"]
        if "alarms" in widget.get("properties", {})
    ]


def expected_alarms(synthesized) -> list[str]:
    resolver = Resolver.from_synthesized(synthesized)
    return [
        resolver.arn(resolver.stacks[stack_name], alarm_id)
        for _, _, stack_name in copies(synthesized)
        for alarm_id in resources(synthesized.templates[stack_name], "AWS::CloudWatch::Alarm")
    ]


@pytest.mark.parametrize("name", [*STRUCTURAL, "ecs"])
def test_every_deployment_alarm_is_shown_once_in_widgets_of_1_to_100_alarms(synth_cache, name):
    synthesized = synth_cache(name)
    widgets = alarms_shown(synthesized)
    assert all(1 <= len(alarms) <= MAX_ALARMS_PER_WIDGET for alarms in widgets), [len(a) for a in widgets]
    shown = [arn for alarms in widgets for arn in alarms]
    assert sorted(shown) == sorted(expected_alarms(synthesized))
    assert len(shown) == 6 * len(copies(synthesized))


@pytest.mark.parametrize("name", [*STRUCTURAL, "domain_latency"])
def test_the_dashboard_reads_one_output_per_copy_and_each_row_stays_small(synth_cache, name):
    synthesized = synth_cache(name)
    _, dashboard = only(synthesized.pipeline, "AWS::CloudWatch::Dashboard")
    reads = json.dumps(dashboard["Properties"]["DashboardBody"]).count('"Fn::GetStackOutput"')
    assert reads == len(copies(synthesized))
    resolver = Resolver.from_synthesized(synthesized)
    for _, _, stack_name in copies(synthesized):
        outputs = synthesized.templates[stack_name]["Outputs"]
        assert [key for key in outputs if key.startswith("Dashboard")] == [WIDGETS_OUTPUT]
        row = resolver.resolve(stack_name, outputs[WIDGETS_OUTPUT]["Value"])
        assert len(row) < ROW_LIMIT, (stack_name, len(row))
        json.loads(f"[{row}]")  # each row is a list of widgets without its brackets


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
