"""The security gate: cdk-nag, cfn-lint, and invariants that fail on a regression."""

from __future__ import annotations

import json

import pytest
from cfn_resolver import Resolver
from cfnlint.api import ManualArgs, lint
from conftest import CERTIFICATE, CONFIGURATIONS, configuration_context
from template_queries import (
    intrinsic_calls,
    only,
    pipeline_stages,
    props,
    resources,
    service_task_definition,
    walk,
)

from constructs.settings.release_config import ReleaseConfig

# cfn-lint findings that are CDK noise, with why.
CFN_LINT_IGNORED = {
    "W3005": "CDK writes an explicit DependsOn next to a GetAtt that already implies it",
}
PUBLIC = ("0.0.0.0/0", "::/0")


@pytest.fixture(scope="session")
def hardened(synth_cache):
    return synth_cache("hardened")


@pytest.fixture(scope="session", params=sorted(CONFIGURATIONS))
def any_synth(request, synth_cache):
    return synth_cache(request.param)


def all_resources(synthesized, resource_type: str):
    for name, template in synthesized.templates.items():
        for lid, resource in resources(template, resource_type).items():
            yield name, lid, resource.get("Properties", {})


# --- cdk-nag and cfn-lint -------------------------------------------------------


def test_cdk_nag_reports_no_unacknowledged_finding(any_synth):
    report = json.loads((any_synth.outdir / "validation-report.json").read_text())
    # A plugin without violations is left out of the report; test_nag_acknowledgments proves it runs.
    assert [v["ruleName"] for p in report["pluginReports"] for v in p["violations"]] == []


def stacks_of(name: str) -> list[tuple[str, str]]:
    """(configuration, stack name) of the stacks of a configuration cfn-lint checks, known before synth: every
    one, but for stacks of the accounts configuration that are alike (named below)."""
    config = ReleaseConfig.from_context(configuration_context(CONFIGURATIONS[name]), default_account=None)
    names = [f"{config.app_name}-{r}" for r in config.regions]
    names += [f"{config.app_name}-staging-{r}" for r in config.staging_regions]
    if config.other_accounts:
        # The stacks of one account per jurisdiction that differ: a region with its certificate and records written
        # in the other account's zone, and one that brings its own certificate (the others are alike; the suite's
        # time is spent on each).
        names = [f"{config.app_name}-eu-central-1", f"{config.app_name}-ap-southeast-1"]
    # The artifact stores differ only by region: one is linted (and snapshotted: tests/test_snapshots.py).
    names += [f"{config.app_name}-artifacts-{r}" for r in config.artifact_store_regions[:1]]
    names += [f"{config.app_name}-dns"] if config.domain.enabled and config.other_accounts else []
    return [(name, stack) for stack in [*names, f"{config.app_name}-pipeline"]]


@pytest.mark.parametrize(("configuration", "stack"), [s for name in CONFIGURATIONS for s in stacks_of(name)])
def test_cfn_lint_passes_every_template_in_its_own_region(synth_cache, configuration, stack):
    synthesized = synth_cache(configuration)
    region = synthesized.stack_artifacts()[stack]["environment"].rsplit("/", 1)[1]
    matches = lint(
        json.dumps(synthesized.templates[stack]),
        config=ManualArgs(regions=[region], ignore_checks=sorted(CFN_LINT_IGNORED)),
    )
    assert [f"{m.rule.id} {m.message}" for m in matches] == []


# --- invariants -------------------------------------------------------------------


def test_no_iam_statement_allows_every_action(any_synth):
    for policy_type in ("AWS::IAM::Policy", "AWS::IAM::Role", "AWS::IAM::ManagedPolicy", "AWS::KMS::Key"):
        for name, lid, p in all_resources(any_synth, policy_type):
            for node in walk(p):
                if isinstance(node, dict) and "Action" in node and "Effect" in node:
                    actions = node["Action"] if isinstance(node["Action"], list) else [node["Action"]]
                    if node["Effect"] == "Allow" and policy_type != "AWS::KMS::Key":
                        assert "*" not in actions, f"{name}/{lid}"


def test_public_ingress_only_on_the_load_balancers_listener_ports(any_synth):
    for name, template in any_synth.templates.items():
        balancer_groups = {
            g["Fn::GetAtt"][0]
            for lb in resources(template, "AWS::ElasticLoadBalancingV2::LoadBalancer").values()
            for g in lb["Properties"]["SecurityGroups"]
        }
        listener_ports = {
            listener["Properties"]["Port"]
            for listener in resources(template, "AWS::ElasticLoadBalancingV2::Listener").values()
        }
        rules = [
            (lid, rule)
            for lid, sg in resources(template, "AWS::EC2::SecurityGroup").items()
            for rule in sg["Properties"].get("SecurityGroupIngress", [])
        ] + [
            (r["Properties"]["GroupId"]["Fn::GetAtt"][0], r["Properties"])
            for r in resources(template, "AWS::EC2::SecurityGroupIngress").values()
        ]
        for group, rule in rules:
            if rule.get("CidrIp") in PUBLIC or rule.get("CidrIpv6") in PUBLIC:
                assert group in balancer_groups, f"{name}: {group} is open to the internet"
                assert rule["FromPort"] == rule["ToPort"], name
                assert rule["FromPort"] in listener_ports, name


def test_the_service_admits_only_the_load_balancer_on_the_container_port(any_synth):
    port = any_synth.config.service.container_port
    for name, template in any_synth.templates.items():
        if not resources(template, "AWS::ECS::Service"):
            continue
        service = props(template, "AWS::ECS::Service")
        (service_group,) = service["NetworkConfiguration"]["AwsvpcConfiguration"]["SecurityGroups"]
        (balancer,) = resources(template, "AWS::ElasticLoadBalancingV2::LoadBalancer").values()
        (balancer_group,) = balancer["Properties"]["SecurityGroups"]
        sg = template["Resources"][service_group["Fn::GetAtt"][0]]["Properties"]
        assert "SecurityGroupIngress" not in sg, name
        ingress = [
            r["Properties"]
            for r in resources(template, "AWS::EC2::SecurityGroupIngress").values()
            if r["Properties"]["GroupId"] == service_group
        ]
        assert ingress == [
            {
                "Description": "Load balancer to target",
                "FromPort": port,
                "GroupId": service_group,
                "IpProtocol": "tcp",
                "SourceSecurityGroupId": balancer_group,
                "ToPort": port,
            }
        ], name


def test_every_bucket_is_encrypted_private_tls_only_and_logged(any_synth):
    for name, template in any_synth.templates.items():
        policies = {
            p["Properties"]["Bucket"]["Ref"]: p["Properties"]["PolicyDocument"]
            for p in resources(template, "AWS::S3::BucketPolicy").values()
        }
        for lid, bucket in resources(template, "AWS::S3::Bucket").items():
            p = bucket["Properties"]
            (rule,) = p["BucketEncryption"]["ServerSideEncryptionConfiguration"]
            assert rule["ServerSideEncryptionByDefault"]["SSEAlgorithm"] in ("aws:kms", "AES256"), lid
            assert set(p["PublicAccessBlockConfiguration"].values()) == {True}, lid
            denies_plain_http = [
                s
                for s in policies[lid]["Statement"]
                if s["Effect"] == "Deny" and s.get("Condition") == {"Bool": {"aws:SecureTransport": "false"}}
            ]
            assert denies_plain_http, f"{name}/{lid} accepts plain HTTP"
            if lid.startswith(("AccessLogs", "ReleaseAccessLogs")):
                assert "LoggingConfiguration" not in p  # the log destination itself (acknowledged S1)
            else:
                assert p["LoggingConfiguration"]["DestinationBucketName"]["Ref"].startswith(
                    ("AccessLogs", "ReleaseAccessLogs")
                ), lid


def test_artifacts_are_encrypted_with_kms_in_every_region(any_synth):
    pipeline = props(any_synth.pipeline, "AWS::CodePipeline::Pipeline")
    stores = {s["Region"]: s["ArtifactStore"] for s in pipeline["ArtifactStores"]}
    home = stores[any_synth.config.home_region]
    key_id = home["EncryptionKey"]["Id"]["Fn::GetAtt"][0]
    assert any_synth.pipeline["Resources"][key_id]["Properties"]["EnableKeyRotation"] is True
    for region, store in stores.items():
        if region == any_synth.config.home_region:
            continue
        (bucket,) = [
            b
            for _, lid, b in all_resources(any_synth, "AWS::S3::Bucket")
            if b.get("BucketName") == store["Location"]
        ]
        by_default = bucket["BucketEncryption"]["ServerSideEncryptionConfiguration"][0]
        by_default = by_default["ServerSideEncryptionByDefault"]
        assert by_default["SSEAlgorithm"] == "aws:kms", region
        # A customer key (rotated, below) where another account reads it; else the AWS-managed aws/s3 key.
        customer_key = region in any_synth.config.artifact_store_regions
        assert ("KMSMasterKeyID" in by_default) == customer_key, region
    for _, lid, key in all_resources(any_synth, "AWS::KMS::Key"):
        assert key["EnableKeyRotation"] is True, lid
    project = props(any_synth.pipeline, "AWS::CodeBuild::Project")
    assert project["EncryptionKey"] == {"Fn::GetAtt": [key_id, "Arn"]}


def test_repositories_scan_on_push_with_immutable_tags_and_a_lifecycle(any_synth):
    for name, lid, repository in all_resources(any_synth, "AWS::ECR::Repository"):
        assert repository["ImageScanningConfiguration"] == {"ScanOnPush": True}, name
        if lid.startswith("ReleaseImageBuildCache"):
            continue  # the build's layer cache: one mutable tag (below)
        assert repository["ImageTagMutability"] == "IMMUTABLE", name
        rules = json.loads(repository["LifecyclePolicy"]["LifecyclePolicyText"])["rules"]
        assert rules[0]["selection"]["countType"] == "imageCountMoreThan", name


def test_the_build_cache_is_one_mutable_tag_that_goes_with_the_pipeline(any_synth):
    """The cache holds layers for the next build, never an image a task runs: its one tag is rewritten by
    every release, the manifests it replaces expire after a day, and the stack's deletion empties it."""
    (cache,) = [
        r
        for _, lid, r in all_resources(any_synth, "AWS::ECR::Repository")
        if lid.startswith("ReleaseImageBuildCache")
    ]
    assert cache["ImageTagMutability"] == "MUTABLE"
    assert cache["EmptyOnDelete"] is True
    (rule,) = json.loads(cache["LifecyclePolicy"]["LifecyclePolicyText"])["rules"]
    assert rule["selection"] == {
        "tagStatus": "untagged",
        "countType": "sinceImagePushed",
        "countNumber": 1,
        "countUnit": "days",
    }


def test_tasks_are_private_unprivileged_and_services_have_no_public_ip(any_synth):
    for name, _lid, task_definition in all_resources(any_synth, "AWS::ECS::TaskDefinition"):
        assert task_definition["NetworkMode"] == "awsvpc"
        for container in task_definition["ContainerDefinitions"]:
            assert container.get("Privileged", False) is False, name
    for name, _lid, service in all_resources(any_synth, "AWS::ECS::Service"):
        assert service["NetworkConfiguration"]["AwsvpcConfiguration"]["AssignPublicIp"] == "DISABLED", name
    privileged = [
        lid
        for _, lid, p in all_resources(any_synth, "AWS::CodeBuild::Project")
        if p["Environment"]["PrivilegedMode"]
    ]
    assert privileged == [only(any_synth.pipeline, "AWS::CodeBuild::Project")[0]]


def test_load_balancers_drop_invalid_headers_log_access_and_resist_deletion(any_synth):
    for name, lid, balancer in all_resources(any_synth, "AWS::ElasticLoadBalancingV2::LoadBalancer"):
        attributes = {a["Key"]: a["Value"] for a in balancer["LoadBalancerAttributes"]}
        assert attributes["routing.http.drop_invalid_header_fields.enabled"] == "true", name
        assert attributes["access_logs.s3.enabled"] == "true", name
        # Protected once the stack exists, by its last resource (tests/test_first_create.py).
        (protection,) = resources(any_synth.templates[name], "Custom::DeletionProtection").values()
        assert {"Ref": lid} in protection["Properties"]["LoadBalancerArns"], name


def test_every_log_group_has_retention_and_vpcs_log_flows(any_synth):
    for name, lid, log_group in all_resources(any_synth, "AWS::Logs::LogGroup"):
        assert log_group["RetentionInDays"] > 0, f"{name}/{lid}"
    vpcs = list(all_resources(any_synth, "AWS::EC2::VPC"))
    flow_logs = list(all_resources(any_synth, "AWS::EC2::FlowLog"))
    assert len(flow_logs) == len(vpcs)
    for _, _, flow_log in flow_logs:
        assert flow_log["TrafficType"] == "ALL"
    for name, _, cluster in all_resources(any_synth, "AWS::ECS::Cluster"):
        assert cluster["ClusterSettings"] == [{"Name": "containerInsights", "Value": "enabled"}], name


# --- secrets and HTTPS ---------------------------------------------------------------


def test_container_secrets_are_references_never_values(hardened):
    for region in ("eu-west-2", "us-east-1"):
        (container,) = service_task_definition(hardened.regional(region))["ContainerDefinitions"]
        secrets = {s["Name"]: json.dumps(s["ValueFrom"]) for s in container["Secrets"]}
        assert sorted(secrets) == ["API_KEY", "DB_PASSWORD"]
        assert ":secretsmanager:" in secrets["DB_PASSWORD"]
        assert "secret:webapp/db" in secrets["DB_PASSWORD"]
        assert ":ssm:" in secrets["API_KEY"]
        assert "parameter/webapp/api-key" in secrets["API_KEY"]
        assert region in secrets["DB_PASSWORD"]
        assert region in secrets["API_KEY"]
        assert not {e["Name"] for e in container.get("Environment", [])} & set(secrets)


def test_a_region_with_a_certificate_serves_https_and_redirects_http(hardened):
    template = hardened.regional("us-east-1")
    listeners = {
        listener["Properties"]["Port"]: (lid, listener["Properties"])
        for lid, listener in resources(template, "AWS::ElasticLoadBalancingV2::Listener").items()
    }
    https_id, https = listeners[443]
    assert https["Protocol"] == "HTTPS"
    assert https["Certificates"] == [{"CertificateArn": CERTIFICATE}]
    assert https["SslPolicy"].startswith("ELBSecurityPolicy-TLS13")
    assert listeners[80][1]["DefaultActions"][0]["RedirectConfig"] == {
        "Port": "443",
        "Protocol": "HTTPS",
        "StatusCode": "HTTP_301",
    }
    routes = props(template, "AWS::CodeDeploy::DeploymentGroup")["LoadBalancerInfo"][
        "TargetGroupPairInfoList"
    ][0]
    assert routes["ProdTrafficRoute"]["ListenerArns"] == [{"Ref": https_id}]
    # The home region has no certificate: plain HTTP on 80.
    home_ports = {
        listener["Properties"]["Port"]
        for listener in resources(
            hardened.regional("eu-west-2"), "AWS::ElasticLoadBalancingV2::Listener"
        ).values()
    }
    assert home_ports == {80, 8080}


def test_no_cross_stack_import_appears_with_security_resources(any_synth):
    for template in any_synth.templates.values():
        assert intrinsic_calls(template, "Fn::ImportValue") == []


@pytest.mark.parametrize("name", ["default", "staged", "ecs", "database"])
def test_no_role_may_pass_any_role_and_deploy_actions_pass_their_services_roles(synth_cache, name):
    """``iam:PassRole`` always names its roles: a deploy action's, the task and execution roles it deploys."""
    synthesized = synth_cache(name)
    resolver = Resolver.from_synthesized(synthesized)
    passes: dict[str, set[str]] = {}
    denies_all_but: dict[str, set[str]] = {}
    for stack_name, template in synthesized.templates.items():
        for policy in resources(template, "AWS::IAM::Policy").values():
            for statement in policy["Properties"]["PolicyDocument"]["Statement"]:
                actions = (
                    statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
                )
                if "iam:PassRole" not in actions:
                    continue
                if statement["Effect"] == "Deny":  # narrows a managed policy's grant: every role but these
                    kept = resolver.resolve(stack_name, statement["NotResource"])
                    for role in policy["Properties"]["Roles"]:
                        role_arn = resolver.resolve(stack_name, {"Fn::GetAtt": [role["Ref"], "Arn"]})
                        denies_all_but[role_arn] = set(kept)
                    continue
                granted = resolver.resolve(stack_name, statement["Resource"])
                granted = granted if isinstance(granted, list) else [granted]
                assert "*" not in granted, (stack_name, statement)
                for role in policy["Properties"]["Roles"]:
                    role_arn = resolver.resolve(stack_name, {"Fn::GetAtt": [role["Ref"], "Arn"]})
                    passes.setdefault(role_arn, set()).update(granted)
    app = synthesized.config.app_name
    expected: dict[str, set[str]] = {}
    for stage in pipeline_stages(synthesized.pipeline):
        for action in stage["Actions"]:
            if action["ActionTypeId"]["Category"] != "Deploy":
                continue
            region = action.get("Region", synthesized.config.home_region)
            stack = f"{app}-staging-{region}" if stage["Name"] == "Deploy_to_Staging" else f"{app}-{region}"
            task_definition = service_task_definition(synthesized.templates[stack])
            role_arn = resolver.resolve(f"{app}-pipeline", action["RoleArn"])
            expected.setdefault(role_arn, set()).update(
                resolver.resolve(stack, task_definition[key]) for key in ("TaskRoleArn", "ExecutionRoleArn")
            )
    assert expected
    for role_arn, roles in expected.items():
        assert passes[role_arn] == roles, role_arn
    # CodeDeploy's role keeps AWSCodeDeployRoleForECS (PassRole on "*"): its deny leaves the service's two.
    for stack_name, template in synthesized.templates.items():
        for group in resources(template, "AWS::CodeDeploy::DeploymentGroup").values():
            role_arn = resolver.resolve(stack_name, group["Properties"]["ServiceRoleArn"])
            task_definition = service_task_definition(template)
            service_roles = {
                resolver.resolve(stack_name, task_definition[k]) for k in ("TaskRoleArn", "ExecutionRoleArn")
            }
            assert denies_all_but[role_arn] == service_roles, stack_name
