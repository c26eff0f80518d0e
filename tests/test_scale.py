"""Every supported region at once, each with its database, stays inside the limits of CodePipeline, CloudFormation
and IAM, on both engines."""

from __future__ import annotations

import json
import math
from collections import defaultdict

import botocore.session
import pytest
from cfn_resolver import Resolver
from conftest import ALL_REGIONS_ON_ECS, ALL_REGIONS_WITH_DATABASE, Synthesized, built_once, synthesize
from template_queries import pipeline_stages, props, resources, stage
from test_dashboard import ROW_LIMIT, alarms_shown, expected_alarms

from constructs.pipeline.release_dashboard import WIDGETS_OUTPUT
from constructs.pipeline.release_pipeline import DEPLOY_STAGE_NAME
from constructs.settings.release_config import AWAITED_PER_ACTION
from constructs.settings.supported_regions import MAX_ACTIONS_PER_STAGE, supported_regions

RESOURCE_LIMIT = 500  # CloudFormation resources per stack
TEMPLATE_LIMIT = 1_000_000  # bytes, a template uploaded through S3
HEADROOM = 0.8  # stay under 80% of each limit
INLINE_POLICIES_PER_ROLE = 10_240  # characters, all inline policies of one role together
BUCKET_POLICY_LIMIT = 20_480
KEY_POLICY_LIMIT = 32_768
# An inline buildspec's characters: CodeBuild refuses a longer one ("Max buildspec length is 25600"), a limit
# AWS's pages do not give (aws/aws-cdk#14974 calls it undocumented); the build script is inlined in it.
BUILDSPEC_LIMIT = 25_600


def minified(document: object) -> int:
    return len(json.dumps(document, separators=(",", ":")))


SCALE_CONFIGURATIONS = {"codedeploy": ALL_REGIONS_WITH_DATABASE, "ecs": ALL_REGIONS_ON_ECS}


@pytest.fixture(scope="module", params=sorted(SCALE_CONFIGURATIONS))
def every_region(request, tmp_path_factory) -> Synthesized:
    context = SCALE_CONFIGURATIONS[request.param]
    outdir = built_once(
        tmp_path_factory, f"all-regions-database-{request.param}", lambda target: synthesize(target, context)
    )
    synthesized = Synthesized.load(outdir, context)
    assert synthesized.config.rollout.engine == request.param
    return synthesized


def test_every_supported_region_deploys_from_one_stage(every_region):
    assert every_region.config.regions == ("eu-west-2", *(r for r in supported_regions() if r != "eu-west-2"))
    actions = stage(every_region.pipeline, DEPLOY_STAGE_NAME)["Actions"]
    assert len(actions) <= MAX_ACTIONS_PER_STAGE
    deploys = [a for a in actions if a["ActionTypeId"]["Category"] == "Deploy"]
    assert len(deploys) == len(supported_regions())
    assert {a["RunOrder"] for a in deploys} == {1}
    # The ECS engine waits for the wave's deployments in actions of three regions each (the configuration value
    # limit: test_every_action_configuration_value_fits_codepipelines_limit).
    waits = math.ceil(len(deploys) / AWAITED_PER_ACTION) if every_region.config.rollout.engine == "ecs" else 0
    assert len(actions) == len(deploys) + waits
    stores = props(every_region.pipeline, "AWS::CodePipeline::Pipeline")["ArtifactStores"]
    assert sorted(s["Region"] for s in stores) == sorted(supported_regions())


def test_stacks_stay_well_inside_cloudformation_limits(every_region):
    assert all(
        resources(t, "AWS::RDS::DBCluster") for n, t in every_region.templates.items() if "pipeline" not in n
    )
    for name, template in every_region.templates.items():
        assert len(template["Resources"]) < RESOURCE_LIMIT * HEADROOM, name
        assert minified(template) < TEMPLATE_LIMIT * HEADROOM, name


def test_policies_stay_inside_iam_s3_and_kms_limits(every_region):
    for name, template in every_region.templates.items():
        per_role: dict[str, int] = defaultdict(int)
        for policy in resources(template, "AWS::IAM::Policy").values():
            for role in policy["Properties"].get("Roles", []):
                per_role[json.dumps(role)] += minified(policy["Properties"]["PolicyDocument"])
        for role, size in per_role.items():
            assert size < INLINE_POLICIES_PER_ROLE * HEADROOM, (
                f"{name}: {role} has {size} characters of policy"
            )
        for policy in resources(template, "AWS::S3::BucketPolicy").values():
            assert minified(policy["Properties"]["PolicyDocument"]) < BUCKET_POLICY_LIMIT * HEADROOM, name
        for key in resources(template, "AWS::KMS::Key").values():
            assert minified(key["Properties"]["KeyPolicy"]) < KEY_POLICY_LIMIT * HEADROOM, name


def test_the_dashboard_reads_one_output_per_region_and_shows_every_alarm(every_region):
    """One Fn::GetStackOutput per region for the dashboard (a weak reference), every row small, every alarm
    shown once in widgets of 1-100 alarms (CloudWatch's limit, not the constructs' own constant)."""
    (dashboard,) = resources(every_region.pipeline, "AWS::CloudWatch::Dashboard").values()
    reads = json.dumps(dashboard["Properties"]["DashboardBody"]).count('"Fn::GetStackOutput"')
    assert reads == len(every_region.config.regions) == len(supported_regions())
    assert '"Fn::ImportValue"' not in json.dumps(every_region.pipeline)  # every read is weak
    widgets = alarms_shown(every_region)
    assert all(1 <= len(alarms) <= 100 for alarms in widgets)
    assert sorted(arn for alarms in widgets for arn in alarms) == sorted(expected_alarms(every_region))
    resolver = Resolver.from_synthesized(every_region)
    for stack_name, template in every_region.regional_templates.items():
        row = resolver.resolve(stack_name, template["Outputs"][WIDGETS_OUTPUT]["Value"])
        assert len(row) < ROW_LIMIT, stack_name


def test_every_action_configuration_value_fits_codepipelines_limit(every_region):
    """ActionConfigurationValue is 1-1000 characters (botocore's CodePipeline model); the values as deployed,
    cross-stack names resolved, the waits of 30 regions in one wave included."""
    limit = (
        botocore.session.get_session()
        .get_service_model("codepipeline")
        .shape_for("ActionConfigurationValue")
        .metadata["max"]
    )
    resolver = Resolver.from_synthesized(every_region)
    pipeline = f"{every_region.config.app_name}-pipeline"
    longest = max(
        (len(str(resolver.resolve(pipeline, value))), action["Name"], key)
        for stage in pipeline_stages(every_region.pipeline)
        for action in stage["Actions"]
        for key, value in action.get("Configuration", {}).items()
    )
    assert longest[0] <= limit, longest
    waits = [
        a
        for s in pipeline_stages(every_region.pipeline)
        for a in s["Actions"]
        if a["Name"].startswith("Await-")
    ]
    if every_region.config.rollout.engine == "ecs":
        assert len(waits) == math.ceil(len(supported_regions()) / AWAITED_PER_ACTION)  # 30 regions: 10 waits


def test_the_inline_buildspec_stays_inside_codebuilds_limit(every_region):
    """The build script and every region's deploy files (the artifact list grows with the regions)."""
    spec = props(every_region.pipeline, "AWS::CodeBuild::Project")["Source"]["BuildSpec"]
    assert isinstance(spec, str)
    assert len(spec) < BUILDSPEC_LIMIT * HEADROOM
