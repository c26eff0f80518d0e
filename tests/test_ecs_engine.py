"""The ECS engine (``deployment_engine: ecs``): what each region and the pipeline hold, property by property.

The ``ecs`` test configuration: staging in eu-west-1, production eu-west-2 then
ap-southeast-1 (two waves, approval), linear 25% every 2 minutes, a 10-minute
bake, the test-traffic check, a database with its migration, HTTPS in
ap-southeast-1. The permission contract, cdk-nag and cfn-lint cover it with the
other configurations.
"""

from __future__ import annotations

import json
import math

import botocore.session
import pytest
from aws_cdk import App, Stack
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_ecs as ecs
from aws_cdk.assertions import Template
from release_build import run_build
from template_queries import (
    STAGED_STAGES,
    only,
    pipeline_stages,
    props,
    resources,
    service_task_definition_id,
    stage,
)

from constructs.engines.ecs_blue_green import ecs_service_deployment
from constructs.pipeline.release_pipeline import DEPLOY_STAGE_NAME
from constructs.settings.rollout_settings import (
    ECS_ACTION_LIMIT_MINUTES,
    ECS_START_AND_CHECK_MINUTES,
    RolloutSettings,
    TrafficShifting,
)

HOOK_STAGES = {
    "POST_SCALE_UP": "run_migration.ecs_handler",
    "POST_TEST_TRAFFIC_SHIFT": "test_traffic.ecs_handler",
}


@pytest.fixture(scope="module")
def ecs_app(synth_cache):
    return synth_cache("ecs")


@pytest.fixture(scope="module")
def ecs_build(ecs_app, tmp_path_factory, iam_simulator):
    run = run_build(ecs_app, tmp_path_factory.mktemp("ecs-build"), simulator=iam_simulator)
    assert run.result.returncode == 0, run.result.stdout + run.result.stderr
    return run


def service(template: dict) -> dict:
    return props(template, "AWS::ECS::Service")


# --- no CodeDeploy, the ECS controller with the configured strategy ----------------------------


def test_no_codedeploy_resource_or_action_exists(ecs_app):
    for name, template in ecs_app.templates.items():
        assert not [r for r in template["Resources"].values() if r["Type"].startswith("AWS::CodeDeploy::")], (
            name
        )
    providers = {
        a["ActionTypeId"]["Provider"] for s in pipeline_stages(ecs_app.pipeline) for a in s["Actions"]
    }
    assert "CodeDeployToECS" not in providers


def test_every_service_uses_the_ecs_controller_with_linear_steps_and_the_bake_time(ecs_app):
    assert len(ecs_app.regional_templates) == 3
    for name, template in ecs_app.regional_templates.items():
        svc = service(template)
        assert svc["DeploymentController"] == {"Type": "ECS"}, name
        configuration = svc["DeploymentConfiguration"]
        assert configuration["Strategy"] == "LINEAR"
        assert configuration["LinearConfiguration"] == {"StepPercent": 25, "StepBakeTimeInMinutes": 2}
        # termination_wait_minutes; the first wave's region bakes for the wave (tests/test_baked_waves.py).
        assert configuration["BakeTimeInMinutes"] == (30 if name == "webapp-eu-west-2" else 10)
        assert (configuration["MinimumHealthyPercent"], configuration["MaximumPercent"]) == (100, 200)
        # The family: every CloudFormation update runs the latest active revision (the last release's, or
        # a newer one CloudFormation registered), never an older one it still holds.
        task_definition_id = service_task_definition_id(template)
        task_definition = template["Resources"][task_definition_id]
        assert svc["TaskDefinition"] == task_definition["Properties"]["Family"]
        assert (
            task_definition_id in template["Resources"][only(template, "AWS::ECS::Service")[0]]["DependsOn"]
        )
        # A task definition changed in code is a new revision, a new ARN: the nonce deploys it, blue/green.
        assert svc["ForceNewDeployment"] == {
            "EnableForceNewDeployment": True,
            "ForceNewDeploymentNonce": {"Ref": task_definition_id},
        }


MAPPINGS = {
    "AllAtOnce": (TrafficShifting(mode="all_at_once"), {"Strategy": "BLUE_GREEN"}),
    "Canary": (
        TrafficShifting(mode="canary", percentage=20, interval_minutes=7),
        {"Strategy": "CANARY", "CanaryConfiguration": {"CanaryPercent": 20, "CanaryBakeTimeInMinutes": 7}},
    ),
    "Linear": (
        TrafficShifting(mode="linear"),
        {"Strategy": "LINEAR", "LinearConfiguration": {"StepPercent": 10, "StepBakeTimeInMinutes": 3}},
    ),
}


def test_traffic_shifting_maps_to_the_ecs_strategy():
    """Each mode on a service of its own, in one small stack (one synth)."""
    stack = Stack(App(), "Mapping")
    cluster = ecs.Cluster(stack, "Cluster", vpc=ec2.Vpc(stack, "Vpc", nat_gateways=0))
    task_definition = ecs.FargateTaskDefinition(stack, "TaskDefinition")
    task_definition.add_container("web", image=ecs.ContainerImage.from_registry("nginx"))
    for name, (shifting, _) in MAPPINGS.items():
        deployment = ecs_service_deployment(RolloutSettings(engine="ecs", traffic_shifting=shifting))
        ecs.FargateService(
            stack,
            name,
            cluster=cluster,
            task_definition=task_definition,
            deployment_controller=ecs.DeploymentController(type=deployment.controller),
            **deployment.options,
        )
    services = resources(Template.from_stack(stack).to_json(), "AWS::ECS::Service")
    assert len(services) == len(MAPPINGS)
    for name, (_, expected) in MAPPINGS.items():
        (configuration,) = [
            s["Properties"]["DeploymentConfiguration"] for lid, s in services.items() if lid.startswith(name)
        ]
        keys = ("Strategy", "CanaryConfiguration", "LinearConfiguration")
        assert {k: v for k, v in configuration.items() if k in keys} == expected, name
        assert configuration["BakeTimeInMinutes"] == 5  # the default termination wait, always set


# --- load balancer: alternate target group, listener rules, alarms ------------------------------


def test_blue_is_the_target_and_green_the_alternate_behind_a_rule_on_each_listener(ecs_app):
    for name, template in ecs_app.regional_templates.items():
        (balancer,) = service(template)["LoadBalancers"]
        advanced = balancer["AdvancedConfiguration"]
        blue, green = balancer["TargetGroupArn"]["Ref"], advanced["AlternateTargetGroupArn"]["Ref"]
        assert "Blue" in blue, name
        assert "Green" in green, name
        rules = {
            lid: r["Properties"]
            for lid, r in resources(template, "AWS::ElasticLoadBalancingV2::ListenerRule").items()
        }
        listeners = resources(template, "AWS::ElasticLoadBalancingV2::Listener")
        for key, port in (("ProductionListenerRule", None), ("TestListenerRule", 8080)):
            rule = rules[advanced[key]["Ref"]]
            assert rule["Priority"] == 1
            assert rule["Conditions"] == [{"Field": "path-pattern", "PathPatternConfig": {"Values": ["*"]}}]
            # Both groups on the rule, only blue weighted: ECS re-weights it during a deployment.
            assert rule["Actions"] == [
                {
                    "Type": "forward",
                    "ForwardConfig": {
                        "TargetGroups": [
                            {"TargetGroupArn": {"Ref": blue}, "Weight": 100},
                            {"TargetGroupArn": {"Ref": green}, "Weight": 0},
                        ]
                    },
                }
            ]
            listener = listeners[rule["ListenerArn"]["Ref"]]["Properties"]
            expected_port = port or (443 if name.endswith("ap-southeast-1") else 80)
            assert listener["Port"] == expected_port, (name, key)
        assert len(rules) == 2


def test_the_https_region_still_redirects_port_80(ecs_app):
    listeners = resources(ecs_app.regional("ap-southeast-1"), "AWS::ElasticLoadBalancingV2::Listener")
    redirect = [x["Properties"] for x in listeners.values() if x["Properties"]["Port"] == 80]
    assert [a["Type"] for x in redirect for a in x["DefaultActions"]] == ["redirect"]


def test_ecs_may_move_traffic_with_the_aws_managed_load_balancer_role(ecs_app):
    for template in ecs_app.regional_templates.values():
        (balancer,) = service(template)["LoadBalancers"]
        role = template["Resources"][balancer["AdvancedConfiguration"]["RoleArn"]["Fn::GetAtt"][0]][
            "Properties"
        ]
        assert role["AssumeRolePolicyDocument"]["Statement"] == [
            {"Action": "sts:AssumeRole", "Effect": "Allow", "Principal": {"Service": "ecs.amazonaws.com"}}
        ]
        (policy,) = role["ManagedPolicyArns"]
        assert "AmazonECSInfrastructureRolePolicyForLoadBalancers" in json.dumps(policy)


def test_the_six_target_group_alarms_roll_a_deployment_back(ecs_app):
    for name, template in ecs_app.regional_templates.items():
        alarms = service(template)["DeploymentConfiguration"]["Alarms"]
        assert (alarms["Enable"], alarms["Rollback"]) == (True, True)
        assert sorted(a["Ref"] for a in alarms["AlarmNames"]) == sorted(
            resources(template, "AWS::CloudWatch::Alarm")
        )
        assert len(alarms["AlarmNames"]) == 6, name


# --- hooks ---------------------------------------------------------------------------------------


def test_each_hook_runs_at_its_stage_with_its_ecs_handler_and_a_time_limit(ecs_app):
    for name, template in ecs_app.regional_templates.items():
        hooks = service(template)["DeploymentConfiguration"]["LifecycleHooks"]
        found = {}
        for hook in hooks:
            (stage_name,) = hook["LifecycleStages"]
            function = template["Resources"][hook["HookTargetArn"]["Fn::GetAtt"][0]]["Properties"]
            found[stage_name] = function["Handler"]
            assert function["Description"].startswith(f"ECS {stage_name}: "), name
            assert hook["TimeoutConfiguration"] == {
                "TimeoutInMinutes": math.ceil(function["Timeout"] / 60) + 2,
                "Action": "ROLLBACK",
            }
        assert found == HOOK_STAGES, name
        # One role invokes them all, and ECS alone may assume it.
        (role_id,) = {h["RoleArn"]["Fn::GetAtt"][0] for h in hooks}
        trust = template["Resources"][role_id]["Properties"]["AssumeRolePolicyDocument"]["Statement"]
        assert [s["Principal"] for s in trust] == [{"Service": "ecs.amazonaws.com"}]
        # ECS calls hooks from the service's first deployment on: the service waits for the role's policy.
        (policy_id,) = [
            lid
            for lid, policy in resources(template, "AWS::IAM::Policy").items()
            if policy["Properties"]["Roles"] == [{"Ref": role_id}]
        ]
        (service_id,) = resources(template, "AWS::ECS::Service")
        assert policy_id in template["Resources"][service_id]["DependsOn"]


def test_the_migration_hook_finds_the_task_definition_from_the_event_not_the_service(ecs_app):
    for template in ecs_app.regional_templates.values():
        (migration,) = [
            f["Properties"]
            for f in resources(template, "AWS::Lambda::Function").values()
            if f["Properties"].get("Handler") == "run_migration.ecs_handler"
        ]
        assert "SERVICE" not in migration["Environment"]["Variables"]  # the service names its hooks: a cycle


# --- the pipeline keeps its shape -----------------------------------------------------------------


def test_the_pipeline_keeps_its_stages_waves_and_rollback(ecs_app):
    stages = pipeline_stages(ecs_app.pipeline)
    assert [s["Name"] for s in stages] == STAGED_STAGES
    # Each wave's ECS actions, then the wait for their deployments (tests/test_awaited_deployments.py), which
    # for the first wave includes its bake (tests/test_baked_waves.py).
    orders = {s["Name"]: {a["Name"]: a["RunOrder"] for a in s["Actions"]} for s in stages[4:]}
    assert orders == {
        f"{DEPLOY_STAGE_NAME}_wave_1": {"Deploy-eu-west-2": 1, "Await-wave-1": 2},
        f"{DEPLOY_STAGE_NAME}_wave_2": {"Deploy-ap-southeast-1": 1, "Await-wave-2": 2},
    }
    for deploy in (*stages[4:], stage(ecs_app.pipeline, "Deploy_to_Staging")):
        assert deploy["OnFailure"] == {"Result": "ROLLBACK"}


def test_each_region_is_deployed_by_an_ecs_action_in_its_region_from_its_own_file(ecs_app):
    actions = [
        (s["Name"], a)
        for s in pipeline_stages(ecs_app.pipeline)
        if s["Name"].startswith("Deploy_to_")
        for a in s["Actions"]
        if a["ActionTypeId"]["Category"] == "Deploy"
    ]
    expected = {
        "Deploy-eu-west-1": ("eu-west-1", "imagedefinitions-staging-eu-west-1.json"),
        "Deploy-eu-west-2": (None, "imagedefinitions-eu-west-2.json"),
        "Deploy-ap-southeast-1": ("ap-southeast-1", "imagedefinitions-ap-southeast-1.json"),
    }
    assert sorted(a["Name"] for _, a in actions) == sorted(expected)
    for _, action in actions:
        region, file_name = expected[action["Name"]]
        assert action["ActionTypeId"] == {
            "Category": "Deploy",
            "Owner": "AWS",
            "Provider": "ECS",
            "Version": "1",
        }
        assert action.get("Region") == region
        configuration = action["Configuration"]
        assert configuration["FileName"] == file_name
        assert configuration["DeploymentTimeout"] == ECS_ACTION_LIMIT_MINUTES
        assert {"ClusterName", "ServiceName"} <= set(configuration)


def test_the_configured_deployment_fits_the_actions_time_limit(ecs_app):
    rollout, database = ecs_app.config.rollout, ecs_app.config.database
    longest = (
        rollout.traffic_shifting.ecs_shift_minutes
        + rollout.termination_wait_minutes
        + database.migration_timeout_minutes
        + ECS_START_AND_CHECK_MINUTES
    )
    assert longest == 6 + 10 + 10 + 10
    assert longest <= ECS_ACTION_LIMIT_MINUTES


def test_the_build_writes_one_image_definitions_file_per_target_pinned_to_its_regions_image(ecs_build):
    assert sorted(ecs_build.artifact_files) == sorted(
        t["image_definitions_file"] for t in ecs_build.plan["targets"]
    )
    for target in ecs_build.plan["targets"]:
        (definition,) = json.loads((ecs_build.workdir / target["image_definitions_file"]).read_text())
        digest = ecs_build.registry_digest(target["repository_uri"], "build-7-3f2a9c1e7b40")
        assert definition == {"name": "web", "imageUri": f"{target['repository_uri']}@{digest}"}
    assert not list(ecs_build.workdir.glob("taskdef-*"))
    assert not list(ecs_build.workdir.glob("appspec-*"))


# --- what the released image rests on ------------------------------------------------------------


def test_the_family_and_the_nonce_do_what_aws_contracts_say():
    """What the released-image guarantee rests on, as CloudFormation's schema and the ECS API model word it."""
    from cfnlint.schema import PROVIDER_SCHEMA_MANAGER

    schema = PROVIDER_SCHEMA_MANAGER.get_resource_schema("eu-west-2", "AWS::ECS::Service").schema
    assert (
        "If a ``revision`` isn't specified, the latest ``ACTIVE`` revision is used."
        in (schema["properties"]["TaskDefinition"]["description"])
    )
    nonce = schema["definitions"]["ForceNewDeployment"]["properties"]["ForceNewDeploymentNonce"][
        "description"
    ]
    assert (
        "When you change the``ForceNewDeploymentNonce`` value in your template, it signals ECS to start a new deployment"
        in nonce
    )
    update = botocore.session.get_session().get_service_model("ecs").operation_model("UpdateService")
    assert (
        "If a <code>revision</code> is not specified, the latest <code>ACTIVE</code> revision is used."
        in (update.input_shape.members["taskDefinition"].documentation)
    )
    # The names the cross-region action needs are fixed at create; the controller is not.
    assert {"/properties/ServiceName", "/properties/Cluster"} <= set(schema["createOnlyProperties"])
    assert "/properties/DeploymentController" not in schema["createOnlyProperties"]
