"""The home-region pipeline: stages, one parallel deploy action per region, artifact stores, order."""

from __future__ import annotations

import json
from pathlib import Path

from cfn_resolver import Resolver
from conftest import synthesize
from release_build import build_variables
from template_queries import (
    build_spec,
    intrinsic_calls,
    only,
    pipeline_stages,
    production_stages,
    props,
    resources,
    service_task_definition,
    source_upload_rule,
    stage,
)

from constructs.pipeline.release_pipeline import APPROVAL_STAGE_NAME, DEPLOY_STAGE_NAME
from constructs.region.buckets import ARTIFACT_RETENTION_DAYS


def deploy_actions(synthesized) -> dict[str, dict]:
    """Every production deploy action, by name, whichever wave's stage holds it."""
    return {a["Name"]: a for s in production_stages(synthesized.pipeline) for a in s["Actions"]}


def test_pipeline_stack_lives_in_the_home_region(synthesized):
    artifact = synthesized.stack_artifacts()[f"{synthesized.config.app_name}-pipeline"]
    assert artifact["environment"] == f"aws://{synthesized.config.account}/{synthesized.config.home_region}"


def test_v2_pipeline_with_source_build_and_production_stages(synthesized):
    pipeline = props(synthesized.pipeline, "AWS::CodePipeline::Pipeline")
    assert pipeline["PipelineType"] == "V2"
    expected = ["Source", "Build"]
    expected += ["Deploy_to_Staging"] if synthesized.config.staging_regions else []
    expected += [APPROVAL_STAGE_NAME] if synthesized.config.manual_approval else []
    waves = len(synthesized.config.production_waves)
    production = (
        [f"{DEPLOY_STAGE_NAME}_wave_{n}" for n in range(1, waves + 1)] if waves > 1 else [DEPLOY_STAGE_NAME]
    )
    assert [s["Name"] for s in pipeline_stages(synthesized.pipeline)] == [*expected, *production]


def test_default_source_is_a_versioned_bucket_whose_upload_starts_a_release(synthesized):
    template = synthesized.pipeline
    (action,) = stage(template, "Source")["Actions"]
    assert action["ActionTypeId"]["Provider"] == "S3"
    assert action["Configuration"]["S3ObjectKey"] == "source.zip"
    assert action["Configuration"]["PollForSourceChanges"] is False
    bucket_id = action["Configuration"]["S3Bucket"]["Ref"]
    bucket = template["Resources"][bucket_id]["Properties"]
    assert bucket["VersioningConfiguration"] == {"Status": "Enabled"}
    rule = source_upload_rule(template)
    assert rule["EventPattern"]["detail-type"] == ["Object Created"]
    assert rule["EventPattern"]["detail"]["bucket"]["name"] == [{"Ref": bucket_id}]
    assert rule["EventPattern"]["detail"]["object"]["key"] == ["source.zip"]
    pipeline_id, _ = only(template, "AWS::CodePipeline::Pipeline")
    assert json.dumps(rule["Targets"][0]["Arn"]).count(pipeline_id) == 1


def test_build_is_privileged_codebuild_that_writes_every_regions_files(synthesized):
    template = synthesized.pipeline
    (action,) = stage(template, "Build")["Actions"]
    assert action["ActionTypeId"]["Provider"] == "CodeBuild"
    assert action["OutputArtifacts"] == [{"Name": "build_output"}]
    project = props(template, "AWS::CodeBuild::Project")
    assert project["Environment"]["PrivilegedMode"] is True
    spec = build_spec(template)
    expected_files = [
        name
        for r in synthesized.config.staging_regions
        for name in (f"taskdef-staging-{r}.json", f"appspec-staging-{r}.yaml")
    ] + [name for r in synthesized.config.regions for name in (f"taskdef-{r}.json", f"appspec-{r}.yaml")]
    assert spec["artifacts"]["files"] == expected_files
    (command, export) = spec["phases"]["build"]["commands"]
    # The digest the script leaves, exported to CodePipeline (buildspec 0.2: one shell per phase).
    assert export == 'export IMAGE_DIGEST="$(cat .image-digest)"'
    assert spec["env"]["exported-variables"] == ["IMAGE_DIGEST"]
    script = (Path(__file__).resolve().parent.parent / "release" / "prepare_release.py").read_text()
    assert script in command, "the buildspec runs release/prepare_release.py as it is in the repo"


def release_plan(synthesized) -> dict:
    (variable,) = props(synthesized.pipeline, "AWS::CodeBuild::Project")["Environment"][
        "EnvironmentVariables"
    ]
    assert variable["Name"] == "RELEASE_PLAN"
    return json.loads(build_variables(synthesized)["RELEASE_PLAN"])


def test_build_plan_names_every_targets_repository_family_and_hook(synthesized):
    resolver = Resolver.from_synthesized(synthesized)
    config, settings = synthesized.config, synthesized.config.service
    environments = [(f"staging-{r}", r) for r in config.staging_regions] + [(r, r) for r in config.regions]
    expected = []
    for name, region in environments:
        stack_name = f"{config.app_name}-{name}"
        regional = synthesized.templates[stack_name]
        repository_id, _ = only(regional, "AWS::ECR::Repository")
        hook_ids = [lid for lid in resources(regional, "AWS::Lambda::Function") if "TestTrafficCheck" in lid]
        hooks = (
            {"AfterAllowTestTraffic": resolver.ref(resolver.stacks[stack_name], hook_ids[0])}
            if hook_ids
            else {}
        )
        expected.append(
            {
                "region": region,
                "repository_uri": resolver.resolve(
                    stack_name, {"Fn::GetAtt": [repository_id, "RepositoryUri"]}
                ),
                "task_definition_family": service_task_definition(regional)["Family"],
                "container_name": settings.container_name,
                "container_port": settings.container_port,
                "kind": "codedeploy",
                "task_definition_file": f"taskdef-{name}.json",
                "appspec_file": f"appspec-{name}.yaml",
                "hooks": hooks,
            }
        )
    pipeline = f"{config.app_name}-pipeline"
    (cache_id,) = list(resources(synthesized.pipeline, "AWS::ECR::Repository"))
    cache = resolver.resolve(pipeline, {"Fn::GetAtt": [cache_id, "RepositoryUri"]})
    assert release_plan(synthesized) == {"cache_repository": cache, "targets": expected}


def test_build_may_push_to_every_regions_repository(synthesized):
    resolver = Resolver.from_synthesized(synthesized)
    pipeline_stack = f"{synthesized.config.app_name}-pipeline"
    statements = [
        statement
        for lid, p in resources(synthesized.pipeline, "AWS::IAM::Policy").items()
        if lid.startswith("ReleaseImageBuildProjectRole")
        for statement in resolver.resolve(pipeline_stack, p["Properties"]["PolicyDocument"])["Statement"]
    ]
    pushable = {
        arn
        for statement in statements
        if "ecr:PutImage" in statement["Action"]
        for arn in (
            [statement["Resource"]] if isinstance(statement["Resource"], str) else statement["Resource"]
        )
    }
    for target in release_plan(synthesized)["targets"]:
        host, name = target["repository_uri"].split("/", 1)
        account = host.split(".")[0]
        assert f"arn:aws:ecr:{target['region']}:{account}:repository/{name}" in pushable


def test_one_deploy_action_per_region_with_its_wave_as_run_order(synthesized):
    actions = {name: a for name, a in deploy_actions(synthesized).items() if name.startswith("Deploy-")}
    waves = synthesized.config.production_waves
    # One stage of every wave: the wave is the run order; a stage per wave: every action runs first in it.
    wave_of = {r: n if len(waves) == 1 else 1 for n, wave in enumerate(waves, start=1) for r in wave}
    assert sorted(actions) == sorted(f"Deploy-{r}" for r in synthesized.config.regions)
    for region in synthesized.config.regions:
        action = actions[f"Deploy-{region}"]
        assert action["ActionTypeId"] == {
            "Category": "Deploy",
            "Owner": "AWS",
            "Provider": "CodeDeployToECS",
            "Version": "1",
        }
        assert action["RunOrder"] == wave_of[region]
        assert action["InputArtifacts"] == [{"Name": "build_output"}]
        configuration = action["Configuration"]
        assert configuration["TaskDefinitionTemplateArtifact"] == "build_output"
        assert configuration["AppSpecTemplateArtifact"] == "build_output"
        assert configuration["TaskDefinitionTemplatePath"] == f"taskdef-{region}.json"
        assert configuration["AppSpecTemplatePath"] == f"appspec-{region}.yaml"


def test_cross_region_actions_carry_their_region_and_regional_role(synthesized):
    home = synthesized.config.home_region
    actions = deploy_actions(synthesized)
    assert "Region" not in actions[f"Deploy-{home}"]
    for region in synthesized.config.extra_regions:
        action = actions[f"Deploy-{region}"]
        assert action["Region"] == region
        regional = synthesized.regional(region)
        role = next(
            r["Properties"]
            for lid, r in resources(regional, "AWS::IAM::Role").items()
            if "DeployActionRole" in lid
        )
        assert action["RoleArn"] == f"arn:aws:iam::{synthesized.config.account}:role/{role['RoleName']}"


def test_each_action_targets_its_own_regions_deployment_group(synthesized):
    actions = deploy_actions(synthesized)
    home_stack = f"{synthesized.config.app_name}-{synthesized.config.home_region}"
    for region in synthesized.config.regions:
        configuration = actions[f"Deploy-{region}"]["Configuration"]
        regional = synthesized.regional(region)
        if region == synthesized.config.home_region:
            # Same environment: CloudFormation reads the home stack's outputs.
            for key in ("ApplicationName", "DeploymentGroupName"):
                output = configuration[key]["Fn::GetStackOutput"]
                assert (output["StackName"], output["Region"]) == (home_stack, region)
        else:
            assert (
                configuration["ApplicationName"]
                == props(regional, "AWS::CodeDeploy::Application")["ApplicationName"]
            )
            assert (
                configuration["DeploymentGroupName"]
                == props(regional, "AWS::CodeDeploy::DeploymentGroup")["DeploymentGroupName"]
            )


def test_pipeline_has_an_artifact_store_in_every_region(synthesized):
    stores = {
        s["Region"]: s["ArtifactStore"]["Location"]
        for s in props(synthesized.pipeline, "AWS::CodePipeline::Pipeline")["ArtifactStores"]
    }
    assert sorted(stores) == sorted({*synthesized.config.regions, *synthesized.config.staging_regions})
    replication_buckets = {
        artifact["environment"].rsplit("/", 1)[1]: b["Properties"]["BucketName"]
        for name, artifact in synthesized.stack_artifacts().items()
        for lid, b in resources(synthesized.templates[name], "AWS::S3::Bucket").items()
        if lid.startswith("PipelineArtifacts")
    }
    # One bucket per region other than the pipeline's, held by a stack of that region.
    assert replication_buckets == {r: loc for r, loc in stores.items() if r != synthesized.config.home_region}


def test_artifacts_expire_only_after_codepipeline_forgets_their_execution(synthesized):
    """Every artifact store's objects expire, after 400 days: CodePipeline keeps 12 months of executions, and a
    stage rolls back only to one of those, with that execution's artifacts."""
    assert ARTIFACT_RETENTION_DAYS > 366
    stores = props(synthesized.pipeline, "AWS::CodePipeline::Pipeline")["ArtifactStores"]
    resolver = Resolver.from_synthesized(synthesized)
    names = {
        resolver.resolve(f"{synthesized.config.app_name}-pipeline", s["ArtifactStore"]["Location"])
        for s in stores
    }
    found = 0
    for stack_name, template in synthesized.templates.items():
        for lid, bucket in resources(template, "AWS::S3::Bucket").items():
            if resolver.ref(resolver.stacks[stack_name], lid) not in names:
                continue
            found += 1
            (rule,) = bucket["Properties"]["LifecycleConfiguration"]["Rules"]
            assert rule == {"ExpirationInDays": ARTIFACT_RETENTION_DAYS, "Status": "Enabled"}, (
                stack_name,
                lid,
            )
    assert found == len(stores)


def test_pipeline_stack_depends_on_every_regional_stack_and_not_the_reverse(synthesized):
    artifacts = synthesized.stack_artifacts()
    app_name = synthesized.config.app_name
    pipeline = artifacts[f"{app_name}-pipeline"]
    regional_ids = {artifacts[f"{app_name}-{r}"]["id"] for r in synthesized.config.regions}
    assert regional_ids <= set(pipeline["dependencies"])
    for region in synthesized.config.regions:
        assert pipeline["id"] not in artifacts[f"{app_name}-{region}"].get("dependencies", [])


def test_no_cross_stack_imports(synthesized):
    for template in synthesized.templates.values():
        assert intrinsic_calls(template, "Fn::ImportValue") == []
    # The pipeline reads stack outputs of the home region only; its dashboard reads every region's
    # (Fn::GetStackOutput takes other regions; CloudFormation resolves them when the pipeline stack deploys).
    resources_of = synthesized.pipeline["Resources"]
    pipeline_only = {i: r for i, r in resources_of.items() if r["Type"] != "AWS::CloudWatch::Dashboard"}
    outputs = intrinsic_calls({"Resources": pipeline_only}, "Fn::GetStackOutput")
    assert {o["Region"] for o in outputs} == {synthesized.config.home_region}
    dashboard = intrinsic_calls(
        {"Resources": {i: r for i, r in resources_of.items() if i not in pipeline_only}}, "Fn::GetStackOutput"
    )
    deployed = {*synthesized.config.regions, *synthesized.config.staging_regions}
    assert {o["Region"] for o in dashboard} == deployed


def test_synth_needs_no_context_lookups(synthesized):
    assert "missing" not in synthesized.manifest


def test_github_source_and_a_single_region(tmp_path):
    synthesized = synthesize(
        tmp_path,
        {
            "extra_regions": "",
            "source_connection_arn": "arn:aws:codestar-connections:eu-west-2:123456789012:connection/"
            "0b8e8b2c-1d3a-4f5e-9a7b-123456789abc",
            "source_repository": "acme/shop",
            "source_branch": "release",
        },
    )
    assert sorted(synthesized.templates) == ["webapp-eu-west-2", "webapp-pipeline"]
    (action,) = stage(synthesized.pipeline, "Source")["Actions"]
    assert action["ActionTypeId"]["Provider"] == "CodeStarSourceConnection"
    assert action["Configuration"]["FullRepositoryId"] == "acme/shop"
    assert action["Configuration"]["BranchName"] == "release"
    assert [
        r["Properties"]["EventPattern"]["source"]
        for r in resources(synthesized.pipeline, "AWS::Events::Rule").values()
    ] == [["aws.codepipeline"]], "no upload rule: only the notification of how each release ended"
    (deploy,) = stage(synthesized.pipeline, DEPLOY_STAGE_NAME)["Actions"]
    assert deploy["Name"] == "Deploy-eu-west-2"
    stores = props(synthesized.pipeline, "AWS::CodePipeline::Pipeline")
    assert "ArtifactStore" in stores or [s["Region"] for s in stores["ArtifactStores"]] == ["eu-west-2"]
