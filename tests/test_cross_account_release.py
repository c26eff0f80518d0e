"""One account per jurisdiction: what the pipeline's artifacts and deploy actions look like across accounts.

The pipeline stays in the tools account. A region with a stack in another account keeps its artifacts in a
stack of the tools account (``<app>-artifacts-<region>``: a bucket with a customer-managed key, since the
``aws/s3`` key cannot be used from another account), whose bucket and key policies name the deploy action
roles that read them, by ARN; every deploy action runs with a role of its target's account that trusts the
pipeline's role only. The IAM simulator proves the paths with both sides' policies in
tests/test_permission_contract.py; these tests pin the shape.
"""

from __future__ import annotations

import json

import pytest
from cfn_resolver import Resolver
from conftest import ACCOUNT, APAC_ACCOUNT, DNS_ACCOUNT, EU_ACCOUNT, STAGING_ACCOUNT
from iam_policies import caller
from iam_simulator import ALLOWED
from release_build import run_build
from template_queries import pipeline_stages, props, resources

from tools.cloud_assembly import CloudAssembly
from tools.plan import data_stores

APP = "webapp"


@pytest.fixture(scope="module")
def accounts(synth_cache):
    return synth_cache("accounts")


@pytest.fixture(scope="module")
def mixed(synth_cache):
    return synth_cache("accounts_ecs")


def environments(synthesized) -> dict[str, str]:
    return {name: artifact["environment"] for name, artifact in synthesized.stack_artifacts().items()}


def dependencies(synthesized, stack: str) -> set[str]:
    artifact = synthesized.stack_artifacts()[stack]
    return {d for d in artifact.get("dependencies", ()) if not d.endswith(".assets")}


def deploy_actions(synthesized) -> dict[str, dict]:
    return {
        f"{stage['Name']}/{action['Name']}": action
        for stage in pipeline_stages(synthesized.pipeline)
        for action in stage["Actions"]
        if action["ActionTypeId"]["Category"] == "Deploy"
    }


def only_resource(template: dict, resource_type: str) -> dict:
    (found,) = resources(template, resource_type).values()
    return found["Properties"]


def deploy_role_arn(synthesized, stack: str) -> str:
    """The ARN of the deploy action role ``stack`` holds, as other accounts' policies write it."""
    template = synthesized.templates[stack]
    (name,) = [
        r["Properties"]["RoleName"]
        for lid, r in resources(template, "AWS::IAM::Role").items()
        if lid.startswith("PipelineDeployActionRole")
    ]
    account = environments(synthesized)[stack].split("/")[2]
    return f"arn:aws:iam::{account}:role/{name}"


def granted_principals(policy: dict) -> list[object]:
    return [s["Principal"]["AWS"] for s in policy["Statement"] if s["Effect"] == "Allow"]


def test_each_stack_is_in_its_jurisdictions_account_and_the_stores_in_the_pipelines(accounts):
    assert environments(accounts) == {
        f"{APP}-staging-eu-west-1": f"aws://{STAGING_ACCOUNT}/eu-west-1",
        f"{APP}-eu-west-2": f"aws://{EU_ACCOUNT}/eu-west-2",
        f"{APP}-eu-central-1": f"aws://{EU_ACCOUNT}/eu-central-1",
        f"{APP}-ap-southeast-1": f"aws://{APAC_ACCOUNT}/ap-southeast-1",
        f"{APP}-artifacts-eu-west-1": f"aws://{ACCOUNT}/eu-west-1",
        f"{APP}-artifacts-eu-central-1": f"aws://{ACCOUNT}/eu-central-1",
        f"{APP}-artifacts-ap-southeast-1": f"aws://{ACCOUNT}/ap-southeast-1",
        f"{APP}-pipeline": f"aws://{ACCOUNT}/eu-west-2",
        f"{APP}-dns": f"aws://{DNS_ACCOUNT}/eu-west-2",
    }


@pytest.mark.parametrize(
    ("store", "served"),
    [
        ("eu-west-1", f"{APP}-staging-eu-west-1"),
        ("eu-central-1", f"{APP}-eu-central-1"),
        ("ap-southeast-1", f"{APP}-ap-southeast-1"),
    ],
)
def test_a_store_deploys_after_the_stacks_whose_roles_its_policies_name_and_before_the_pipeline(
    accounts, store, served
):
    assert dependencies(accounts, f"{APP}-artifacts-{store}") == {served}
    assert f"{APP}-artifacts-{store}" in dependencies(accounts, f"{APP}-pipeline")


@pytest.mark.parametrize(
    ("region", "reader"),
    [
        ("eu-west-1", f"{APP}-staging-eu-west-1"),
        ("eu-central-1", f"{APP}-eu-central-1"),
        ("ap-southeast-1", f"{APP}-ap-southeast-1"),
    ],
)
def test_a_stores_bucket_and_customer_key_grant_reading_to_the_regions_deploy_role_only(
    accounts, region, reader
):
    template = accounts.templates[f"{APP}-artifacts-{region}"]
    role = deploy_role_arn(accounts, reader)
    key = only_resource(template, "AWS::KMS::Key")
    assert key["EnableKeyRotation"] is True
    # The key's own account (its IAM decides for the pipeline's roles) and the one reader, by ARN: its
    # account with the role's ARN in a condition, which holds when the role is deleted and made again.
    reader_account = role.split(":")[4]
    assert set(map(str, granted_principals(key["KeyPolicy"]))) == {
        f"arn:aws:iam::{ACCOUNT}:root",
        f"arn:aws:iam::{reader_account}:root",
    }
    (read,) = [s for s in key["KeyPolicy"]["Statement"] if reader_account in s["Principal"]["AWS"]]
    assert read["Condition"] == {"ArnEquals": {"aws:PrincipalArn": [role]}}
    assert sorted(read["Action"]) == ["kms:Decrypt", "kms:DescribeKey"]
    (bucket_id,) = resources(template, "AWS::S3::Bucket").keys() - {
        lid for lid in resources(template, "AWS::S3::Bucket") if lid.startswith("AccessLogs")
    }
    (bucket_policy,) = [
        r["Properties"]["PolicyDocument"]
        for r in resources(template, "AWS::S3::BucketPolicy").values()
        if r["Properties"]["Bucket"] == {"Ref": bucket_id}
    ]
    (grant,) = [s for s in bucket_policy["Statement"] if s["Effect"] == "Allow"]
    assert grant["Principal"] == {"AWS": f"arn:aws:iam::{reader_account}:root"}
    assert grant["Condition"] == {"ArnEquals": {"aws:PrincipalArn": [role]}}
    assert sorted(grant["Action"]) == ["s3:GetBucket*", "s3:GetObject*", "s3:List*"]
    encryption = template["Resources"][bucket_id]["Properties"]["BucketEncryption"]
    (rule,) = encryption["ServerSideEncryptionConfiguration"]
    assert rule["ServerSideEncryptionByDefault"]["SSEAlgorithm"] == "aws:kms"


def test_the_pipeline_names_each_stores_bucket_and_key_by_arn_in_its_region(accounts):
    stores = {
        s["Region"]: s["ArtifactStore"]
        for s in props(accounts.pipeline, "AWS::CodePipeline::Pipeline")["ArtifactStores"]
    }
    assert sorted(stores) == ["ap-southeast-1", "eu-central-1", "eu-west-1", "eu-west-2"]
    for region in ("ap-southeast-1", "eu-central-1", "eu-west-1"):
        template = accounts.templates[f"{APP}-artifacts-{region}"]
        alias = only_resource(template, "AWS::KMS::Alias")["AliasName"]
        assert alias == f"alias/{APP}-artifacts-{region}"
        # By the key's ARN, read from the store's stack: CodePipeline recognizes an alias only in the key's
        # own account ("For cross-account actions, you can only use the key ID or key ARN").
        (key_id,) = resources(template, "AWS::KMS::Key")
        ((output, value),) = template["Outputs"].items()
        assert value == {"Value": {"Fn::GetAtt": [key_id, "Arn"]}}
        assert stores[region]["EncryptionKey"] == {
            "Id": {
                "Fn::GetStackOutput": {
                    "StackName": f"{APP}-artifacts-{region}",
                    "Region": region,
                    "OutputName": output,
                }
            },
            "Type": "KMS",
        }
        (bucket,) = [
            r["Properties"]["BucketName"]
            for lid, r in resources(template, "AWS::S3::Bucket").items()
            if not lid.startswith("AccessLogs")
        ]
        assert stores[region]["Location"] == bucket


def test_every_deploy_action_runs_as_a_role_of_its_targets_account(accounts):
    roles = {name: action["RoleArn"] for name, action in deploy_actions(accounts).items()}
    assert roles == {
        "Deploy_to_Staging/Deploy-eu-west-1": deploy_role_arn(accounts, f"{APP}-staging-eu-west-1"),
        "Deploy_to_Production/Deploy-eu-west-2": deploy_role_arn(accounts, f"{APP}-eu-west-2"),
        "Deploy_to_Production/Deploy-eu-central-1": deploy_role_arn(accounts, f"{APP}-eu-central-1"),
        "Deploy_to_Production/Deploy-ap-southeast-1": deploy_role_arn(accounts, f"{APP}-ap-southeast-1"),
    }


@pytest.mark.parametrize(
    "stack", [f"{APP}-staging-eu-west-1", f"{APP}-eu-west-2", f"{APP}-eu-central-1", f"{APP}-ap-southeast-1"]
)
def test_a_deploy_role_trusts_the_pipelines_role_only_and_decrypts_only_the_tools_accounts_keys(
    accounts, stack
):
    template = accounts.templates[stack]
    region = environments(accounts)[stack].split("/")[3]
    (role_id,) = [
        lid for lid in resources(template, "AWS::IAM::Role") if lid.startswith("PipelineDeployActionRole")
    ]
    pipeline_role = only_named_role(accounts.pipeline, "ReleasePipelineRole")
    (trust,) = template["Resources"][role_id]["Properties"]["AssumeRolePolicyDocument"]["Statement"]
    assert trust["Principal"] == {"AWS": f"arn:aws:iam::{ACCOUNT}:root"}
    assert trust["Condition"] == {
        "ArnEquals": {"aws:PrincipalArn": f"arn:aws:iam::{ACCOUNT}:role/{pipeline_role}"}
    }
    statements = [
        s
        for policy in resources(template, "AWS::IAM::Policy").values()
        if policy["Properties"]["Roles"] == [{"Ref": role_id}]
        for s in policy["Properties"]["PolicyDocument"]["Statement"]
    ]
    kms = [s for s in statements if any(a.startswith("kms:") for a in _actions(s))]
    assert [(sorted(_actions(s)), s["Resource"]) for s in kms] == [
        (["kms:Decrypt", "kms:DescribeKey"], f"arn:aws:kms:{region}:{ACCOUNT}:key/*")
    ]


def test_a_home_region_in_another_account_reads_the_pipelines_own_named_bucket(accounts):
    pipeline = accounts.pipeline
    role = deploy_role_arn(accounts, f"{APP}-eu-west-2")
    (bucket_id,) = [
        lid for lid in resources(pipeline, "AWS::S3::Bucket") if lid.startswith("ReleaseArtifacts")
    ]
    assert pipeline["Resources"][bucket_id]["Properties"]["BucketName"].startswith(f"{APP}-pipeline")
    (key_id,) = [lid for lid in resources(pipeline, "AWS::KMS::Key") if lid.startswith("ReleaseArtifactsKey")]
    key_policy = pipeline["Resources"][key_id]["Properties"]["KeyPolicy"]
    assert [s["Condition"] for s in key_policy["Statement"] if "Condition" in s] == [
        {"ArnEquals": {"aws:PrincipalArn": [role]}}
    ]


def test_the_pipeline_tells_its_own_topic_how_releases_end_when_the_home_region_is_elsewhere(accounts):
    assert "NotificationTopicArn" in accounts.pipeline["Outputs"]
    (rule,) = [
        r["Properties"]
        for r in resources(accounts.pipeline, "AWS::Events::Rule").values()
        if "CodePipeline Pipeline Execution State Change"
        in r["Properties"]["EventPattern"].get("detail-type", [])
    ]
    (target,) = rule["Targets"]
    (topic_id,) = resources(accounts.pipeline, "AWS::SNS::Topic")
    assert target["Arn"] == {"Ref": topic_id}


def test_the_dashboard_shows_only_copies_the_pipelines_account_can_read(accounts):
    assert not resources(accounts.pipeline, "AWS::CloudWatch::Dashboard")


def test_a_pipeline_account_stack_beside_another_accounts_uses_the_stores_role(mixed):
    """Its own role would name the store's bucket and key, whose policies name the other account's role: a
    cycle. The store's stack holds the role instead and deploys after both stacks."""
    assert dependencies(mixed, f"{APP}-artifacts-eu-west-1") == {
        f"{APP}-eu-west-1",
        f"{APP}-staging-eu-west-1",
    }
    roles = {name: action["RoleArn"] for name, action in deploy_actions(mixed).items()}
    assert {name: arn for name, arn in roles.items() if "eu-west" in name} == {
        "Deploy_to_Staging/Deploy-eu-west-1": deploy_role_arn(mixed, f"{APP}-staging-eu-west-1"),
        "Deploy_to_Production_wave_2/Deploy-eu-west-1": deploy_role_arn(mixed, f"{APP}-artifacts-eu-west-1"),
        # The pipeline's own region and account: a role of the pipeline's stack, as with one account.
        "Deploy_to_Production_wave_1/Deploy-eu-west-2": {
            "Fn::GetAtt": ["ReleaseDeployproductioneuwest2ActionRoleD9328200", "Arn"]
        },
    }
    assert not [
        lid
        for lid in resources(mixed.templates[f"{APP}-eu-west-1"], "AWS::IAM::Role")
        if lid.startswith("PipelineDeployActionRole")
    ]
    assert [
        lid
        for lid in resources(mixed.templates[f"{APP}-artifacts-eu-west-1"], "AWS::IAM::Role")
        if lid.startswith("PipelineDeployActionRole")
    ]


def only_named_role(template: dict, prefix: str) -> str:
    (name,) = [
        r["Properties"]["RoleName"]
        for lid, r in resources(template, "AWS::IAM::Role").items()
        if lid.startswith(prefix)
    ]
    return name


def _actions(statement: dict) -> list[str]:
    actions = statement["Action"]
    return [actions] if isinstance(actions, str) else actions


# --- the build across accounts, offline, with IAM enforced on both sides ------------------------------------


def test_the_build_pushes_into_every_accounts_repository_and_reads_each_task_definition_there(
    accounts, tmp_path, iam_simulator
):
    run = run_build(accounts, tmp_path, simulator=iam_simulator)
    assert run.result.returncode == 0, run.result.stderr
    pushed = {t["repository_uri"].split(".")[0] for t in run.plan["targets"]}
    assert pushed == {EU_ACCOUNT, APAC_ACCOUNT, STAGING_ACCOUNT}
    for target in run.plan["targets"]:
        assert run.registry_digest(target["repository_uri"], "build-7-3f2a9c1e7b40")
    # Each region's task definition is read as that region's reader role, in its own account.
    assumed = [
        e["args"] for e in run.events() if e["command"] == "aws" and e["args"][:2] == ["sts", "assume-role"]
    ]
    assert sorted(args[args.index("--role-arn") + 1] for args in assumed) == sorted(
        t["reader_role_arn"] for t in run.plan["targets"]
    )
    assert len(list(run.workdir.glob("taskdef-*.json"))) == len(run.plan["targets"])


def test_without_the_repository_policy_the_build_cannot_push_into_another_account(
    accounts, tmp_path, iam_simulator
):
    def without_repository_policies(world: dict) -> None:
        world["repository_policies"] = {}

    run = run_build(accounts, tmp_path, simulator=iam_simulator, edit_world=without_repository_policies)
    assert run.result.returncode == 1
    assert "is not authorized to perform: ecr:BatchCheckLayerAvailability on resource: arn:aws:ecr:" in (
        run.result.stderr
    )
    assert not list(run.workdir.glob("taskdef-*.json"))


def test_a_reader_role_trusting_someone_else_stops_the_build_from_reading_the_task_definition(
    accounts, tmp_path, iam_simulator
):
    def trusting_another_role(world: dict) -> None:
        for role in world["roles"].values():
            text = json.dumps(role["trust"]).replace("buildprojectrole", "someotherrole")
            role["trust"] = json.loads(text)

    run = run_build(accounts, tmp_path, simulator=iam_simulator, edit_world=trusting_another_role)
    assert run.result.returncode == 1
    assert "is not authorized to perform: sts:AssumeRole on resource: arn:aws:iam::" in run.result.stderr


# --- residency per account (make plan's data stores) ----------------------------------------------------------


def test_each_jurisdictions_account_holds_data_only_in_its_own_regions(accounts):
    stores = data_stores.data_stores(CloudAssembly.read(accounts.outdir))
    config = accounts.config
    allowed = {
        EU_ACCOUNT: {"eu-west-2", "eu-central-1"},
        APAC_ACCOUNT: {"ap-southeast-1"},
        STAGING_ACCOUNT: {"eu-west-1"},
    }
    assert {
        a: {r for r in config.regions if config.account_of(r) == a} for a in (EU_ACCOUNT, APAC_ACCOUNT)
    } == {a: allowed[a] for a in (EU_ACCOUNT, APAC_ACCOUNT)}
    held = {}
    for store in stores:
        if store.account != ACCOUNT:
            held.setdefault(store.account, set()).add(store.region)
    assert held == allowed
    assert all(store.leaves_region == () for store in stores)
    assert "(account 333333333333, ap-southeast-1):" in data_stores.render(stores)


def test_the_pipelines_account_holds_artifacts_and_build_logs_but_no_application_data(accounts):
    stores = [s for s in data_stores.data_stores(CloudAssembly.read(accounts.outdir)) if s.account == ACCOUNT]
    assert {s.stack for s in stores} == {
        f"{APP}-pipeline",
        f"{APP}-artifacts-eu-west-1",
        f"{APP}-artifacts-eu-central-1",
        f"{APP}-artifacts-ap-southeast-1",
    }
    kinds = {s.kind.split()[0] for s in stores}
    # No database; release images live in each jurisdiction's own registry: the one image repository here is
    # the build's layer cache, in the home region where the build runs anyway.
    assert kinds == {"KMS", "bucket", "logs", "image"}
    (cache,) = [s for s in stores if s.kind.startswith("image")]
    assert (cache.region, cache.detail) == ("eu-west-2", "the build's layer cache")
    buckets = {
        s.kind.removeprefix("bucket ").rstrip("0123456789ABCDEF")
        for s in stores
        if s.kind.startswith("bucket")
    }
    assert buckets == {
        "Artifacts",
        "AccessLogs",
        "ReleaseArtifacts",
        "ReleaseAccessLogs",
        "ReleaseSourceBucket",
    }


# --- DNS in the zone's own account ------------------------------------------------------------------------


ZONE_ARN = "arn:aws:route53:::hostedzone/Z0123456789ABCDEFGHIJ"


def change(names: list[str], *, types: list[str], actions: list[str]) -> dict[str, object]:
    """The request context of a ChangeResourceRecordSets call (Route 53's condition keys)."""
    return {
        "route53:ChangeResourceRecordSetsNormalizedRecordNames": names,
        "route53:ChangeResourceRecordSetsRecordTypes": types,
        "route53:ChangeResourceRecordSetsActions": actions,
    }


def test_the_dns_stack_is_in_the_zones_account_and_every_region_of_another_deploys_after_it(accounts):
    assert environments(accounts)[f"{APP}-dns"] == f"aws://{DNS_ACCOUNT}/eu-west-2"
    for stack in (
        f"{APP}-staging-eu-west-1",
        f"{APP}-eu-west-2",
        f"{APP}-eu-central-1",
        f"{APP}-ap-southeast-1",
    ):
        assert f"{APP}-dns" in dependencies(accounts, stack), stack
        template = accounts.templates[stack]
        # Nothing of the zone is CloudFormation's in another account: no record set, no native certificate.
        assert not resources(template, "AWS::Route53::RecordSet")
        assert not resources(template, "AWS::CertificateManager::Certificate")


@pytest.fixture(scope="module")
def writer_of(accounts):
    """The writer role of a regional stack (by its construct path in the DNS stack) as a caller."""
    resolver = Resolver.from_synthesized(accounts)
    template = accounts.templates[f"{APP}-dns"]

    def get(stack: str):
        (role_id,) = [
            lid
            for lid, r in resources(template, "AWS::IAM::Role").items()
            if r["Metadata"]["aws:cdk:path"] == f"{APP}-dns/{stack}/Resource"
        ]
        return caller(resolver, f"{APP}-dns", role_id)

    return get


@pytest.mark.parametrize(
    "case",
    [
        # Its own names, A records, written and removed.
        ("webapp-eu-central-1", ["eu-central-1.shop.example.com"], ["A"], ["UPSERT"], True),
        ("webapp-eu-central-1", ["shop.example.com"], ["A"], ["DELETE"], True),
        # Its certificate's validation records: upserted, never deleted.
        ("webapp-eu-central-1", ["_a1b2.eu-central-1.shop.example.com"], ["CNAME"], ["UPSERT"], True),
        ("webapp-eu-central-1", ["_a1b2.eu-central-1.shop.example.com"], ["CNAME"], ["DELETE"], False),
        # Another region's name, another record type, a name outside its own.
        ("webapp-eu-central-1", ["eu-west-2.shop.example.com"], ["A"], ["UPSERT"], False),
        ("webapp-eu-central-1", ["shop.example.com"], ["NS"], ["UPSERT"], False),
        ("webapp-eu-central-1", ["www.example.com"], ["A"], ["UPSERT"], False),
        (
            "webapp-eu-central-1",
            ["eu-central-1.shop.example.com", "www.example.com"],
            ["A"],
            ["UPSERT"],
            False,
        ),
        # A staging copy writes its own name only, never the shared one.
        ("webapp-staging-eu-west-1", ["eu-west-1.staging.shop.example.com"], ["A"], ["UPSERT"], True),
        ("webapp-staging-eu-west-1", ["shop.example.com"], ["A"], ["UPSERT"], False),
        # Asia brings its own certificate: it writes no validation record at all.
        ("webapp-ap-southeast-1", ["_a1b2.ap-southeast-1.shop.example.com"], ["CNAME"], ["UPSERT"], False),
        ("webapp-ap-southeast-1", ["ap-southeast-1.shop.example.com"], ["A"], ["UPSERT"], True),
    ],
)
def test_a_regions_writer_may_change_its_own_records_only(iam_simulator, writer_of, case):
    stack, names, types, actions, allowed = case
    who = writer_of(stack)
    decision = iam_simulator.decide(
        who, "route53:ChangeResourceRecordSets", ZONE_ARN, context=change(names, types=types, actions=actions)
    )
    assert (decision == ALLOWED) is allowed, (stack, names, types, actions, decision)


def test_residency_records_of_a_region_in_another_account_are_written_with_their_locations(synth_cache):
    """Geolocation routing with the zone in the pipeline's account: London's records are CloudFormation's own,
    Singapore's and Frankfurt's are written through their writer roles, one per location they serve."""
    geolocation = synth_cache("accounts_ecs")
    resolver = Resolver.from_synthesized(geolocation)
    assert resources(geolocation.templates[f"{APP}-eu-west-2"], "AWS::Route53::RecordSet")
    written = {}
    for stack in (f"{APP}-ap-southeast-1", f"{APP}-eu-central-1"):
        template = geolocation.templates[stack]
        assert not resources(template, "AWS::Route53::RecordSet")
        for record in resources(template, "Custom::AWS").values():
            create = json.loads(resolver.resolve(stack, record["Properties"]["Create"]))
            (change,) = create["parameters"]["ChangeBatch"]["Changes"]
            record_set = change["ResourceRecordSet"]
            written[record_set.get("SetIdentifier", record_set["Name"])] = record_set.get("GeoLocation")
    assert written == {
        "ap-southeast-1.shop.example.com": None,
        "ap-southeast-1-as": {"ContinentCode": "AS"},
        "eu-central-1.shop.example.com": None,
        "eu-central-1-de": {"CountryCode": "DE"},
    }
