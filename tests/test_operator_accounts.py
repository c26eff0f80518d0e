"""The operator commands across accounts: a named profile per account (ACCOUNT_PROFILES), each checked to reach
its account before the first call, and one line naming the account, its stacks and the setting otherwise."""

from __future__ import annotations

import subprocess
import sys

import pytest
from botocore.stub import Stubber
from conftest import ACCOUNT, APAC_ACCOUNT, EU_ACCOUNT, ROOT, for_account, offline_client

from tools.cloud_assembly import CloudAssembly
from tools.operate import status as status_command
from tools.operate.accounts import AccountSessions, operator_aws, parse_profiles
from tools.operate.cdk_commands import OperatorError
from tools.operate.patient_aws import Aws


def test_profiles_are_account_profile_pairs():
    assert parse_profiles(f"{EU_ACCOUNT}=eu-prod, {APAC_ACCOUNT}=apac-prod") == {
        EU_ACCOUNT: "eu-prod",
        APAC_ACCOUNT: "apac-prod",
    }
    assert parse_profiles("") == {} == parse_profiles(None)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            "eu-prod",
            "ACCOUNT_PROFILES: 'eu-prod' is not allowed; expected <12-digit account>=<profile name>, "
            "comma-separated, such as 222222222222=eu-prod",
        ),
        (
            f"{EU_ACCOUNT}=a,{EU_ACCOUNT}=b",
            f"ACCOUNT_PROFILES: account {EU_ACCOUNT} is named twice; give each account one profile",
        ),
    ],
)
def test_a_bad_profile_list_is_refused_with_one_line(text, message):
    with pytest.raises(OperatorError) as raised:
        parse_profiles(text)
    assert str(raised.value) == message


class FakeSession:
    """A botocore session whose STS answers ``account`` and whose other clients are named placeholders."""

    def __init__(self, account: str | None, profile: str | None) -> None:
        self.account, self.profile, self.stubs = account, profile, []

    def create_client(self, service, region_name, config=None):
        if service != "sts":
            return (self.profile, service, region_name)
        client = offline_client("sts", "us-east-1")
        stub = Stubber(client)
        stub.add_response(
            "get_caller_identity",
            {"UserId": "AROAEXAMPLE:op", "Account": self.account, "Arn": f"arn:aws:sts::{self.account}:x"},
        )
        stub.activate()
        self.stubs.append(stub)
        return client


def sessions(reached: dict[str | None, str], **options) -> AccountSessions:
    return AccountSessions(
        {EU_ACCOUNT: "eu-prod"},
        stacks_of={EU_ACCOUNT: ["webapp-eu-west-2"], APAC_ACCOUNT: ["webapp-ap-southeast-1"]},
        session_for=lambda profile: FakeSession(reached.get(profile), profile),
        **options,
    )


def test_each_account_is_reached_with_its_profile_and_checked_once():
    accounts = sessions({"eu-prod": EU_ACCOUNT, None: ACCOUNT})
    factory = accounts.client_for(EU_ACCOUNT)
    assert factory("ecs", "eu-west-2") == ("eu-prod", "ecs", "eu-west-2")
    assert factory("ecs", "eu-central-1") == ("eu-prod", "ecs", "eu-central-1")
    assert accounts.client_for(ACCOUNT)("codepipeline", "eu-west-2") == (None, "codepipeline", "eu-west-2")


def test_an_account_no_credentials_reach_is_refused_with_one_line_naming_its_stacks_and_the_setting():
    accounts = sessions({"eu-prod": EU_ACCOUNT, None: ACCOUNT})
    with pytest.raises(OperatorError) as raised:
        accounts.client_for(APAC_ACCOUNT)("ecs", "ap-southeast-1")
    assert str(raised.value) == (
        f"account {APAC_ACCOUNT} (webapp-ap-southeast-1) cannot be reached: signing in with your own credentials (no "
        "profile in "
        f"ACCOUNT_PROFILES) reaches account {ACCOUNT}; set ACCOUNT_PROFILES={APAC_ACCOUNT}=<profile> (a profile "
        "of your AWS configuration that signs in to that account), see docs/accounts.md"
    )


def test_a_profile_that_signs_in_elsewhere_is_refused():
    accounts = sessions({"eu-prod": APAC_ACCOUNT})
    with pytest.raises(OperatorError, match=f"profile eu-prod reaches account {APAC_ACCOUNT}"):
        accounts.session(EU_ACCOUNT)


def test_a_one_account_app_keeps_the_operators_own_clients(default_synth):
    aws = operator_aws(CloudAssembly.read(default_synth.outdir), {})
    assert aws.of(ACCOUNT) is aws


def test_a_profile_for_an_account_the_app_does_not_use_is_refused(default_synth):
    with pytest.raises(OperatorError, match=f"ACCOUNT_PROFILES: account {EU_ACCOUNT} is not allowed"):
        operator_aws(CloudAssembly.read(default_synth.outdir), {"ACCOUNT_PROFILES": f"{EU_ACCOUNT}=eu-prod"})


def test_status_reads_each_copy_in_its_own_account(synth_cache, monkeypatch):
    assembly = CloudAssembly.read(synth_cache("accounts").outdir)
    asked: list[tuple[str, str]] = []
    monkeypatch.setattr(
        status_command, "region_lines", lambda aws, stack: asked.append((aws.account, stack.name)) or []
    )
    monkeypatch.setattr(
        status_command,
        "pipeline_lines",
        lambda aws, stack, *_: asked.append((aws.account, stack.name)) or [],
    )
    status_command.status(assembly, accounts_aws(assembly), say=lambda line: None)
    assert sorted(asked) == sorted(
        (stack.account, stack.name) for stack in [*assembly.service_stacks(), assembly.pipeline()[0]]
    )


def accounts_aws(assembly: CloudAssembly) -> Aws:
    """An Aws whose calls into each account carry that account's number (``.account``) and make no client."""
    aws = Aws(lambda service, region: None, accounts=lambda account: account)
    for account in {s.account for s in assembly.stacks.values()}:
        aws.of(account).account = account
    return aws


def test_a_release_reads_each_region_in_its_own_account_and_the_pipeline_in_the_tools_account(
    synth_cache, monkeypatch
):
    from tools.operate import release as release_command

    assembly = CloudAssembly.read(synth_cache("accounts").outdir)
    read: list[tuple[str, str]] = []
    monkeypatch.setattr(
        release_command.StackResources,
        "read",
        lambda aws, stack: read.append((aws.account, stack.name)) or stack,
    )
    release = release_command.Release(assembly, accounts_aws(assembly))
    assert release.aws.account == ACCOUNT
    release.regions()
    assert sorted(read) == sorted((s.account, s.name) for s in assembly.service_stacks())
    assert {account for account, _ in read} == {EU_ACCOUNT, APAC_ACCOUNT, "444444444444"}


def test_destroy_finds_and_deletes_each_stack_in_its_own_account(synth_cache, monkeypatch):
    from tools.operate import destroy as destroy_command

    assembly = CloudAssembly.read(synth_cache("accounts").outdir)
    asked: list[tuple[str, str]] = []
    monkeypatch.setattr(
        destroy_command.StackResources,
        "deployed",
        lambda aws, stack: asked.append((aws.account, stack.name)),
    )
    destroy_command.Destroy(assembly, accounts_aws(assembly)).deployed()
    assert sorted(asked) == sorted((s.account, s.name) for s in assembly.deploy_order())


def test_make_diff_reads_each_deployed_template_in_its_own_account(synth_cache, tmp_path, monkeypatch):
    """What cdk deploy cannot change is found from each region's deployed template, read in its account."""
    from botocore.exceptions import ClientError

    from tools.operate import accounts, cdk_commands

    assembly = CloudAssembly.read(
        for_account(synth_cache("accounts").outdir, tmp_path / "cdk.out", "123456789012")
    )
    asked: list[tuple[str, str]] = []

    class NotDeployed:
        def __init__(self, account: str, region: str) -> None:
            self.account, self.region = account, region

        def get_template(self, StackName, TemplateStage):  # noqa: N803 (botocore's names)
            asked.append((self.account, StackName))
            raise ClientError(
                {"Error": {"Code": "ValidationError", "Message": f"Stack {StackName} does not exist"}},
                "GetTemplate",
            )

    aws = Aws(
        lambda service, region: None,
        accounts=lambda account: lambda service, region: NotDeployed(account, region),
    )
    monkeypatch.setattr(accounts, "operator_aws", lambda *_: aws)
    # The CDK CLI runs as the pipeline's account, with its profile when one is named.
    monkeypatch.setenv("ACCOUNT_PROFILES", "123456789012=tools")
    done, ran = type("Done", (), {"returncode": 0})(), []

    def execute(command, **_options):
        ran.append(command)
        return done

    assert cdk_commands.run("diff", str(assembly.directory), credentials=True, execute=execute) == 0
    assert sorted(asked) == sorted((s.account, s.name) for s in assembly.service_stacks())
    assert ran[0][-2:] == ["--profile", "tools"]


def test_no_answer_from_aws_is_the_machines_problem_not_the_profiles():
    from botocore.exceptions import EndpointConnectionError

    class Offline:
        def create_client(self, service, region_name, config=None):
            raise EndpointConnectionError(endpoint_url="https://sts.us-east-1.amazonaws.com/")

    accounts = AccountSessions({EU_ACCOUNT: "eu-prod"}, session_for=lambda profile: Offline())
    with pytest.raises(OperatorError) as raised:
        accounts.session(EU_ACCOUNT)
    assert str(raised.value).startswith("AWS cannot be reached from this machine (EndpointConnectionError: ")


def test_preflight_needs_none_of_the_development_tools():
    """make preflight runs with requirements.txt alone: cfn-lint's schemas are for make bootstrap only."""
    checked = subprocess.run(
        [sys.executable, "-c", "import sys, tools.operate.preflight; print('cfnlint' in sys.modules)"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    )
    assert checked.stdout.strip() == "False"


def test_what_destroy_keeps_names_its_account_and_the_command_that_accounts_profile(synth_cache, monkeypatch):
    """make destroy's list of what stays: in another account, the delete command must run there."""
    from tools.operate import destroy as destroy_command
    from tools.operate import kept_resources

    assembly = CloudAssembly.read(synth_cache("accounts").outdir)
    europe = next(s for s in assembly.service_stacks() if s.account == EU_ACCOUNT)
    repository = kept_resources.Kept(
        europe.region, "repository", "webapp-x", f"aws ecr delete-repository --region {europe.region} ..."
    )
    monkeypatch.setattr(destroy_command.kept_resources, "kept_by", lambda stack, every: [("K", "n", {})])
    monkeypatch.setattr(destroy_command.kept_resources, "describe", lambda *args: [repository])
    monkeypatch.setattr(destroy_command.kept_resources, "service_made", lambda *args: [])
    command = destroy_command.Destroy(assembly, accounts_aws(assembly), profiles={EU_ACCOUNT: "eu-prod"})
    command.deleted = {europe.name}
    resources = type("Resources", (), {"deleted": {}, "physical": {}})()
    (kept,) = command.kept({europe.name: resources})
    assert (kept.account, kept.command) == (
        EU_ACCOUNT,
        f"aws ecr delete-repository --region {europe.region} ... --profile eu-prod",
    )
    assert kept.lines()[0].split()[0] == f"{EU_ACCOUNT}/{europe.region}"


def test_a_kept_name_counts_only_in_its_own_account(synth_cache):
    """make acceptance's leftovers look: a kept name of one account does not hide the same name in another."""
    from aws_world import World, expect_gone

    from tools.operate import leftovers

    assembly = CloudAssembly.read(synth_cache("accounts").outdir)
    eu = [s for s in assembly.service_stacks() if s.account == EU_ACCOUNT and s.region == "eu-west-2"]
    tools = [s for s in assembly.stacks.values() if s.account == ACCOUNT and s.region == "eu-west-2"]
    worlds = {EU_ACCOUNT: World(), ACCOUNT: World()}
    for stack in [*eu, *tools]:
        expect_gone(worlds[stack.account], stack)
    for account, stacks in ((EU_ACCOUNT, eu), (ACCOUNT, tools)):
        arn = f"arn:aws:logs:eu-west-2:{account}:log-group:webapp-kept"
        worlds[account].expect(
            "resourcegroupstaggingapi",
            "eu-west-2",
            "get_resources",
            {"ResourceTagMappingList": [{"ResourceARN": arn}]},
            {"TagFilters": [{"Key": leftovers.STACK_TAG, "Values": [s.name for s in stacks]}]},
        )
    aws = Aws(worlds[ACCOUNT].client, accounts=lambda account: worlds[account].client)
    kept = [
        {
            "region": "eu-west-2",
            "kind": "log group",
            "name": "webapp-kept",
            "command": "",
            "account": EU_ACCOUNT,
        }
    ]
    found = leftovers.left_behind(aws, assembly, [s.name for s in [*eu, *tools]], kept, {})
    assert found == [f"arn:aws:logs:eu-west-2:{ACCOUNT}:log-group:webapp-kept"]
