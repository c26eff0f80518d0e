"""Safe rollouts: traffic shifting, alarms wired to rollback, termination wait, stage rollback,
approval, waves, staging and the test-traffic check."""

from __future__ import annotations

import pytest
from aws_cdk import Stack
from aws_cdk.assertions import Template
from conftest import ROOT, synthesize
from template_queries import (
    STAGED_STAGES,
    only,
    pipeline_stages,
    production_stages,
    props,
    resources,
    role_policies,
    stage,
)

from constructs.engines.blue_green_deployment import deployment_config
from constructs.pipeline.release_pipeline import APPROVAL_STAGE_NAME, DEPLOY_STAGE_NAME
from constructs.settings.rollout_settings import TrafficShifting


@pytest.fixture(scope="session")
def staged(synth_cache):
    return synth_cache("staged")


def regional_templates(synthesized) -> dict[str, dict]:
    """Every stack with a service (production and staging), by stack name."""
    return {
        name: template
        for name, template in synthesized.templates.items()
        if resources(template, "AWS::CodeDeploy::DeploymentGroup")
    }


HOOK_MODULES = sorted(p.name for p in (ROOT / "release" / "hooks").glob("*.py"))


def hook_code(synthesized, function: dict) -> list[str]:
    """The files of a hook function's code asset, as the synthesized assembly holds them."""
    asset = synthesized.outdir / function["Metadata"]["aws:asset:path"]
    return sorted(str(p.relative_to(asset)) for p in asset.rglob("*") if p.is_file())


def hook_functions(template: dict) -> dict[str, dict]:
    return {
        lid: r
        for lid, r in resources(template, "AWS::Lambda::Function").items()
        if "AfterAllowTestTraffic" in r["Properties"].get("Description", "")
    }


# --- traffic shifting ---------------------------------------------------------


@pytest.mark.parametrize("name", ["default", "six_regions"])
def test_default_shift_is_codedeploys_canary_10_percent_5_minutes(synth_cache, name):
    for template in regional_templates(synth_cache(name)).values():
        group = props(template, "AWS::CodeDeploy::DeploymentGroup")
        assert group["DeploymentConfigName"] == "CodeDeployDefault.ECSCanary10Percent5Minutes"
        assert resources(template, "AWS::CodeDeploy::DeploymentConfig") == {}


def test_custom_linear_shift_gets_its_own_deployment_config(staged):
    for name, template in regional_templates(staged).items():
        config_id, config = only(template, "AWS::CodeDeploy::DeploymentConfig")
        assert config["Properties"]["ComputePlatform"] == "ECS"
        assert config["Properties"]["TrafficRoutingConfig"] == {
            "Type": "TimeBasedLinear",
            "TimeBasedLinear": {"LinearInterval": 2, "LinearPercentage": 20},
        }, name
        group = props(template, "AWS::CodeDeploy::DeploymentGroup")
        assert group["DeploymentConfigName"] == {"Ref": config_id}


@pytest.mark.parametrize(
    ("shifting", "expected"),
    [
        (TrafficShifting(mode="all_at_once"), "CodeDeployDefault.ECSAllAtOnce"),
        (TrafficShifting(), "CodeDeployDefault.ECSCanary10Percent5Minutes"),
        (TrafficShifting(interval_minutes=15), "CodeDeployDefault.ECSCanary10Percent15Minutes"),
        (TrafficShifting(mode="linear"), "CodeDeployDefault.ECSLinear10PercentEvery3Minutes"),
        (
            TrafficShifting(mode="linear", interval_minutes=1),
            "CodeDeployDefault.ECSLinear10PercentEvery1Minutes",
        ),
    ],
)
def test_predefined_traffic_shifting_uses_codedeploys_configurations(shifting, expected):
    stack = Stack()
    assert deployment_config(stack, shifting).deployment_config_name == expected
    assert stack.node.children == []  # nothing to create


@pytest.mark.parametrize(("mode", "kind"), [("canary", "TimeBasedCanary"), ("linear", "TimeBasedLinear")])
def test_other_numbers_make_a_custom_configuration(mode, kind):
    stack = Stack()
    deployment_config(stack, TrafficShifting(mode=mode, percentage=25, interval_minutes=10))
    config = Template.from_stack(stack).find_resources("AWS::CodeDeploy::DeploymentConfig")
    ((_, resource),) = config.items()
    prefix = kind.removeprefix("TimeBased")
    assert resource["Properties"]["TrafficRoutingConfig"] == {
        "Type": kind,
        kind: {f"{prefix}Interval": 10, f"{prefix}Percentage": 25},
    }


# --- termination wait -----------------------------------------------------------


def test_blue_task_set_is_kept_for_the_termination_wait(synthesized):
    config = synthesized.config
    wait = config.rollout.termination_wait_minutes
    assert wait == (15 if config.staging_regions else 5)
    for name, template in regional_templates(synthesized).items():
        configuration = props(template, "AWS::CodeDeploy::DeploymentGroup")[
            "BlueGreenDeploymentConfiguration"
        ]
        # A baked wave's region keeps blue for the bake (tests/test_baked_waves.py).
        baked = "-staging-" not in name and name.removeprefix(f"{config.app_name}-") in config.baked_regions
        assert configuration["TerminateBlueInstancesOnDeploymentSuccess"] == {
            "Action": "TERMINATE",
            "TerminationWaitTimeInMinutes": max(wait, config.wave_bake_minutes) if baked else wait,
        }
        assert configuration["DeploymentReadyOption"]["ActionOnTimeout"] == "CONTINUE_DEPLOYMENT"


# --- alarms and automatic rollback ----------------------------------------------


def test_alarms_on_both_target_groups_are_wired_to_the_deployment_group(synthesized):
    thresholds = synthesized.config.rollout.alarms
    for name, template in regional_templates(synthesized).items():
        alarms = resources(template, "AWS::CloudWatch::Alarm")
        assert len(alarms) == 6, name
        group = props(template, "AWS::CodeDeploy::DeploymentGroup")
        assert group["AlarmConfiguration"]["Enabled"] is True
        assert sorted(a["Name"]["Ref"] for a in group["AlarmConfiguration"]["Alarms"]) == sorted(alarms)
        assert len(group["AlarmConfiguration"]["Alarms"]) <= 10
        assert set(group["AutoRollbackConfiguration"]["Events"]) == {
            "DEPLOYMENT_FAILURE",
            "DEPLOYMENT_STOP_ON_REQUEST",
            "DEPLOYMENT_STOP_ON_ALARM",
        }
        target_groups = set(resources(template, "AWS::ElasticLoadBalancingV2::TargetGroup"))
        (load_balancer_id,) = resources(template, "AWS::ElasticLoadBalancingV2::LoadBalancer")
        watched = {}
        for alarm in alarms.values():
            p = alarm["Properties"]
            dimensions = {d["Name"]: d["Value"] for d in p["Dimensions"]}
            assert dimensions["LoadBalancer"] == {"Fn::GetAtt": [load_balancer_id, "LoadBalancerFullName"]}
            target_group = dimensions["TargetGroup"]["Fn::GetAtt"][0]
            statistic = p.get("Statistic") or p.get("ExtendedStatistic")
            watched.setdefault(target_group, {})[p["MetricName"]] = (statistic, p["Threshold"])
            assert p["Namespace"] == "AWS/ApplicationELB"
            assert p["Period"] == 60
            assert p["EvaluationPeriods"] == p["DatapointsToAlarm"] == thresholds.evaluation_minutes
            assert p["ComparisonOperator"] == "GreaterThanOrEqualToThreshold"
            assert p["TreatMissingData"] == "notBreaching"
        assert set(watched) == target_groups
        for metrics in watched.values():
            assert metrics == {
                "HTTPCode_Target_5XX_Count": ("Sum", thresholds.target_5xx_per_minute),
                "UnHealthyHostCount": ("Maximum", thresholds.unhealthy_hosts),
                "TargetResponseTime": (thresholds.latency_percentile, thresholds.latency_ms / 1000),
            }


def test_staged_thresholds_reach_the_alarms(staged):
    template = staged.regional("ap-southeast-1")
    latency = [
        a["Properties"]
        for a in resources(template, "AWS::CloudWatch::Alarm").values()
        if a["Properties"]["MetricName"] == "TargetResponseTime"
    ]
    assert {(a["ExtendedStatistic"], a["Threshold"]) for a in latency} == {("p95", 0.8)}


# --- regions never stay split ---------------------------------------------------


def test_deploy_stages_roll_back_on_failure(synthesized):
    deploy_stages = [s for s in pipeline_stages(synthesized.pipeline) if s["Name"].startswith("Deploy_to_")]
    assert deploy_stages
    for deploy_stage in deploy_stages:
        assert deploy_stage["OnFailure"] == {"Result": "ROLLBACK"}, deploy_stage["Name"]


def test_pipeline_executions_queue_unless_newer_ones_supersede_them(synthesized):
    mode = props(synthesized.pipeline, "AWS::CodePipeline::Pipeline")["ExecutionMode"]
    assert mode == {"queued": "QUEUED", "superseded": "SUPERSEDED"}[synthesized.config.execution_mode]


def test_the_default_queues_and_the_staged_configuration_supersedes(default_synth, staged):
    assert (default_synth.config.execution_mode, staged.config.execution_mode) == ("queued", "superseded")


def test_the_build_runs_on_the_compute_size_configured(default_synth, staged):
    sizes = [
        props(synthesized.pipeline, "AWS::CodeBuild::Project")["Environment"]["ComputeType"]
        for synthesized in (default_synth, staged)
    ]
    assert sizes == ["BUILD_GENERAL1_SMALL", "BUILD_GENERAL1_MEDIUM"]


# --- waves, approval, staging ---------------------------------------------------


def test_default_deploys_every_region_in_parallel(default_synth):
    actions = stage(default_synth.pipeline, DEPLOY_STAGE_NAME)["Actions"]
    assert {a["Name"]: a["RunOrder"] for a in actions} == {"Deploy-eu-west-2": 1, "Deploy-ap-southeast-1": 1}
    names = [s["Name"] for s in pipeline_stages(default_synth.pipeline)]
    assert names == ["Source", "Build", DEPLOY_STAGE_NAME]


def test_each_wave_is_a_stage_in_wave_order(staged):
    orders = {
        s["Name"]: {a["Name"]: a["RunOrder"] for a in s["Actions"]}
        for s in production_stages(staged.pipeline)
    }
    assert orders == {
        f"{DEPLOY_STAGE_NAME}_wave_1": {"Deploy-eu-west-2": 1},
        f"{DEPLOY_STAGE_NAME}_wave_2": {"Deploy-ap-southeast-1": 1},
    }


def test_manual_approval_comes_after_staging_and_before_production(staged):
    names = [s["Name"] for s in pipeline_stages(staged.pipeline)]
    assert names == STAGED_STAGES
    assert APPROVAL_STAGE_NAME in names
    (approval,) = stage(staged.pipeline, APPROVAL_STAGE_NAME)["Actions"]
    assert approval["ActionTypeId"] == {
        "Category": "Approval",
        "Owner": "AWS",
        "Provider": "Manual",
        "Version": "1",
    }


def test_staging_has_its_own_stacks_and_deploys_in_parallel_first(staged):
    for region in ("eu-west-2", "eu-west-1"):
        template = staged.templates[f"webapp-staging-{region}"]
        only(template, "AWS::ECS::Service")
        only(template, "AWS::CodeDeploy::DeploymentGroup")
        only(template, "AWS::ECR::Repository")
    actions = {a["Name"]: a for a in stage(staged.pipeline, "Deploy_to_Staging")["Actions"]}
    assert sorted(actions) == ["Deploy-eu-west-1", "Deploy-eu-west-2"]
    assert {a["RunOrder"] for a in actions.values()} == {1}
    assert actions["Deploy-eu-west-1"]["Region"] == "eu-west-1"
    assert "Region" not in actions["Deploy-eu-west-2"]
    assert (
        actions["Deploy-eu-west-2"]["Configuration"]["TaskDefinitionTemplatePath"]
        == "taskdef-staging-eu-west-2.json"
    )
    # Staging and production in the same region are separate services.
    staging_group = props(staged.templates["webapp-staging-eu-west-1"], "AWS::CodeDeploy::DeploymentGroup")
    production_group = props(staged.regional("ap-southeast-1"), "AWS::CodeDeploy::DeploymentGroup")
    assert staging_group["DeploymentGroupName"] != production_group["DeploymentGroupName"]


# --- the test-traffic check -------------------------------------------------------


def test_no_test_traffic_check_unless_configured(default_synth):
    for template in regional_templates(default_synth).values():
        assert hook_functions(template) == {}


def test_test_traffic_check_requests_the_test_listener_from_the_vpc(staged):
    port = staged.config.service.test_listener_port
    for name, template in regional_templates(staged).items():
        ((function_id, function),) = hook_functions(template).items()
        p = function["Properties"]
        (load_balancer_id,) = resources(template, "AWS::ElasticLoadBalancingV2::LoadBalancer")
        assert p["Environment"]["Variables"]["TEST_URL"] == {
            "Fn::Join": ["", ["http://", {"Fn::GetAtt": [load_balancer_id, "DNSName"]}, f":{port}/health"]]
        }, name
        private = {lid for lid, s in resources(template, "AWS::EC2::Subnet").items() if "Private" in lid}
        assert {ref["Ref"] for ref in p["VpcConfig"]["SubnetIds"]} == private
        assert p["Handler"] == "test_traffic.handler"
        assert hook_code(staged, function) == HOOK_MODULES
        # What the hook's role may call is proven in test_permission_contract.py.
        assert "codedeploy:PutLifecycleEventHookExecutionStatus" in role_policies(
            template, p["Role"]["Fn::GetAtt"][0]
        )
        group_role = props(template, "AWS::CodeDeploy::DeploymentGroup")["ServiceRoleArn"]["Fn::GetAtt"][0]
        invoke = role_policies(template, group_role)
        assert "lambda:InvokeFunction" in invoke
        assert function_id in invoke


def test_staging_and_production_in_one_region_share_one_artifact_bucket_and_role(tmp_path):
    # Two stacks in one region both holding an action role and the bucket would be a dependency cycle.
    synthesized = synthesize(tmp_path, {"staging_regions": "ap-southeast-1"})
    staging, production = (
        synthesized.templates["webapp-staging-ap-southeast-1"],
        synthesized.regional("ap-southeast-1"),
    )
    assert [lid for lid in resources(production, "AWS::S3::Bucket") if lid.startswith("PipelineArtifacts")]
    assert not [lid for lid in resources(staging, "AWS::S3::Bucket") if lid.startswith("PipelineArtifacts")]
    assert not [lid for lid in resources(staging, "AWS::IAM::Role") if "DeployActionRole" in lid]
    roles = {
        a["RoleArn"]
        for s in pipeline_stages(synthesized.pipeline)
        for a in s["Actions"]
        if a.get("Region") == "ap-southeast-1"
    }
    assert len(roles) == 1
