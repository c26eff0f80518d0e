"""make acceptance across accounts: integ_accounts' accounts checked, bootstrapped and reached (stood in)."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
from aws_world import World, expect_gone, expect_stack_resources
from test_acceptance import expect_bootstrap
from test_integ_apps import synthesized

from tools.cloud_assembly import CloudAssembly
from tools.operate import leftovers
from tools.operate.acceptance import CHECKS, FAILED, HELD, Acceptance, HostedZone, IntegApp, runnable_with
from tools.operate.acceptance_accounts import OtherAccounts, calls_across, profiles_for
from tools.operate.aws_access import OperatorError
from tools.operate.bootstrap_accounts import account_bootstraps
from tools.operate.patient_aws import Aws
from tools.operate.service_linked_roles import needed

TOOLS, PRODUCTION, ZONE = "123456789012", "210987654321", "345678901234"  # tests/integ/support.py's stand-ins
PROFILES = f"{PRODUCTION}=prod,{ZONE}=dns"
(ACCOUNTS,) = [c for c in CHECKS if c.test == "integ_accounts"]
ZONE_GIVEN = HostedZone("Z0123456789ABCDEFGHIJ", "example.com")


@pytest.fixture(scope="module")
def accounts_app(tmp_path_factory) -> IntegApp:
    return IntegApp.read(synthesized(tmp_path_factory, "integ_accounts"))


@pytest.fixture(scope="module")
def first_create_app(tmp_path_factory) -> IntegApp:
    return IntegApp.read(synthesized(tmp_path_factory, "integ_first_create"))


@pytest.mark.parametrize(
    ("production", "zone", "line"),
    [
        (
            "2109876543",
            None,
            "PRODUCTION_ACCOUNT: '2109876543' is not allowed; expected a 12-digit account ID",
        ),
        (
            TOOLS,
            None,
            f"PRODUCTION_ACCOUNT: {TOOLS} is the account of your credentials (the tools account); give another "
            "account, or leave it out",
        ),
        (None, TOOLS, f"ZONE_ACCOUNT: {TOOLS} is the account of your credentials (the tools account)"),
        (
            PRODUCTION,
            PRODUCTION,
            f"ZONE_ACCOUNT: {PRODUCTION} is PRODUCTION_ACCOUNT too; integ_accounts needs",
        ),
    ],
)
def test_the_other_accounts_are_refused_in_one_line_naming_the_setting(production, zone, line):
    with pytest.raises(OperatorError) as refused:
        OtherAccounts.given(production=production, zone=zone).check_against(TOOLS)
    assert str(refused.value).startswith(line)
    assert "\n" not in str(refused.value)


def test_both_accounts_and_a_zone_run_integ_accounts_and_reach_its_synth():
    others = OtherAccounts.given(production=PRODUCTION, zone=ZONE)
    runnable, skipped = runnable_with(CHECKS, ZONE_GIVEN, others)
    assert (len(runnable), skipped) == (len(CHECKS), [])
    runnable, skipped = runnable_with(CHECKS, ZONE_GIVEN, OtherAccounts.given(production=None, zone=ZONE))
    assert [o.test for o in skipped] == ["integ_accounts"]
    run = Acceptance(account=TOOLS, run_id="run1", workdir=Path("x"), others=others)
    env = run.environment()
    assert (env["ACCEPTANCE_PRODUCTION_ACCOUNT"], env["ACCEPTANCE_ZONE_ACCOUNT"]) == (PRODUCTION, ZONE)
    assert run.zone_account == ZONE


def test_a_profile_for_an_account_the_run_does_not_reach_is_not_used():
    others = OtherAccounts.given(production=PRODUCTION, zone=None)
    across = calls_across(TOOLS, others, {"ACCOUNT_PROFILES": PROFILES})
    assert across.of(PRODUCTION) is not across  # each account through its own session
    alone = calls_across(TOOLS, OtherAccounts(), {"ACCOUNT_PROFILES": PROFILES})
    assert alone.of(PRODUCTION) is alone  # one account: every call with your own credentials


@pytest.mark.parametrize(
    ("arguments", "line"),
    [
        (
            ["--tests", "integ_accounts"],
            "error: TESTS: integ_accounts cannot run: needs two accounts besides yours: make acceptance "
            "PRODUCTION_ACCOUNT=",
        ),
        (
            ["--tests", "integ_accounts", "--production-account", "22222222222"],
            "error: PRODUCTION_ACCOUNT: '22222222222' is not allowed; expected a 12-digit account ID",
        ),
    ],
)
def test_a_test_asked_for_that_cannot_run_and_a_bad_account_are_refused_before_signing_in(
    tmp_path, arguments, line, monkeypatch, capsys
):
    from tools.operate import acceptance

    def no_sign_in(environ):
        raise AssertionError("signed in before refusing")

    monkeypatch.setattr(acceptance, "account_of_credentials", no_sign_in)
    assert acceptance.main([*arguments, "--report", str(tmp_path)]) == 1
    (said,) = capsys.readouterr().err.strip().splitlines()
    assert said.startswith(line), said


def test_a_run_refused_before_it_deploys_leaves_no_directory_for_the_next_minute(tmp_path, monkeypatch):
    from tools.operate import acceptance

    monkeypatch.setattr(acceptance, "account_of_credentials", lambda environ: TOOLS)

    def synthesize(self, check):
        self.workdir.mkdir(parents=True)

    def check_account(self, apps):
        raise OperatorError("account 210987654321 cannot be reached")

    monkeypatch.setattr(acceptance.Acceptance, "synthesize", synthesize)
    monkeypatch.setattr(acceptance.Acceptance, "check_account", check_account)
    assert acceptance.main(["--tests", "integ_first_create", "--force", "--report", str(tmp_path)]) == 1
    assert list(tmp_path.iterdir()) == []


def test_the_hooks_and_destroy_get_the_profiles_of_their_apps_accounts_only(accounts_app, first_create_app):
    environ = {"ACCOUNT_PROFILES": PROFILES, "HOME": "/h"}
    assert profiles_for(CloudAssembly.read(accounts_app.directory), environ)["ACCOUNT_PROFILES"] == PROFILES
    single = profiles_for(CloudAssembly.read(first_create_app.directory), environ)
    assert (single["ACCOUNT_PROFILES"], single["HOME"]) == ("", "/h")


class RecordingCli:
    """Every command with its environment; the CDK CLI and hooks succeed, make destroy fails (no leftovers
    look), and a ``cdk bootstrap`` fails when ``bootstrap_fails``."""

    def __init__(self, *, bootstrap_fails: bool = False) -> None:
        self.commands: list[tuple[list[str], dict | None]] = []
        self.bootstrap_fails = bootstrap_fails

    def __call__(self, command, **kwargs) -> subprocess.CompletedProcess:
        command = [str(part) for part in command]
        self.commands.append((command, kwargs.get("env")))
        destroy = command[1].endswith("destroy.py")
        failed = destroy or (self.bootstrap_fails and command[1] == "bootstrap")
        return subprocess.CompletedProcess(command, int(failed), "", "it failed" if failed else "")

    def named(self) -> list[str]:
        return [" ".join([Path(c[0]).name, *c[1:3]]) for c, _ in self.commands]


def worlds() -> dict[str, World]:
    return {account: World() for account in (TOOLS, PRODUCTION, ZONE)}


def across(by_account: dict[str, World]) -> Aws:
    tools = by_account[TOOLS]
    return Aws(tools.client, sleep=tools.slept.append, accounts=lambda account: by_account[account].client)


def expect_no_bootstrap(world: World, regions) -> None:
    for region in regions:
        world.fail(
            "cloudformation",
            region,
            "describe_stacks",
            "ValidationError",
            "Stack with id CDKToolkit does not exist",
        )


def expect_roles(by_account: dict[str, World], assembly: CloudAssembly) -> None:
    for account, roles in needed(assembly).items():
        for role in roles:
            by_account[account].expect(
                "iam",
                "us-east-1",
                "get_role",
                {
                    "Role": {
                        "Path": "/aws-service-role/",
                        "RoleName": role.role_name,
                        "RoleId": "AROAEXAMPLEEXAMPLE123",
                        "Arn": f"arn:aws:iam::{account}:role/aws-service-role/x/{role.role_name}",
                        "CreateDate": "2026-01-01T00:00:00Z",
                    }
                },
                {"RoleName": role.role_name},
            )


def expect_policies_created(by_account: dict[str, World], assembly: CloudAssembly) -> dict[str, int]:
    """Both other accounts, not bootstrapped yet: every execution policy is created. Returns their counts."""
    counts = {}
    for bootstrap in account_bootstraps(assembly):
        if not bootstrap.trusted:
            continue
        world = by_account[bootstrap.account]
        for index in range(len(bootstrap.policies)):
            name = f"it-accounts-cdk-execution-{index + 1}"
            world.fail("iam", "us-east-1", "get_policy", "NoSuchEntity")
            world.expect(
                "iam",
                "us-east-1",
                "create_policy",
                {"Policy": {"PolicyName": name}},
            )
        counts[bootstrap.account] = len(bootstrap.policies)
    return counts


def expect_a_first_run(by_account: dict[str, World], app: IntegApp) -> dict[str, int]:
    """Accounts with their service-linked roles, the two others not bootstrapped yet; each stack under test
    read in its own account before make destroy. Returns each other account's count of execution policies."""
    assembly = CloudAssembly.read(app.directory)
    expect_roles(by_account, assembly)
    expect_no_bootstrap(by_account[PRODUCTION], ("eu-west-2", "ap-southeast-1"))
    expect_no_bootstrap(by_account[ZONE], ("eu-west-2",))
    counts = expect_policies_created(by_account, assembly)
    for name in app.stacks:
        stack = assembly.stacks[name]
        expect_stack_resources(by_account[stack.account], stack)
    return counts


def run_accounts_test(tmp_path, monkeypatch, app: IntegApp, cli: RecordingCli, by_account) -> Acceptance:
    monkeypatch.setenv("ACCOUNT_PROFILES", PROFILES)
    run = Acceptance(
        account=TOOLS,
        run_id="run1",
        workdir=tmp_path,
        run=cli,
        aws=across(by_account),
        others=OtherAccounts.given(production=PRODUCTION, zone=ZONE),
        sleep=lambda _: None,
        say=lambda _: None,
    )
    run.test(ACCOUNTS, app)
    for world in by_account.values():
        world.assert_done()
    return run


def test_the_other_accounts_are_bootstrapped_trusting_the_tools_account_before_the_deploy(
    accounts_app, tmp_path, monkeypatch
):
    by_account = worlds()
    counts = expect_a_first_run(by_account, accounts_app)
    cli = RecordingCli()
    run = run_accounts_test(tmp_path, monkeypatch, accounts_app, cli, by_account)

    # In deploy order (the DNS stack comes first), both before the first deploy.
    assert cli.named()[:3] == [
        f"cdk bootstrap aws://{ZONE}/eu-west-2",
        f"cdk bootstrap aws://{PRODUCTION}/ap-southeast-1",
        "cdk deploy --require-approval",
    ]
    (zone, _), (production, _) = cli.commands[:2]
    policies = [
        f"arn:aws:iam::{PRODUCTION}:policy/it-accounts-cdk-execution-{i + 1}"
        for i in range(counts[PRODUCTION])
    ]
    assert production[1:] == [
        "bootstrap",
        f"aws://{PRODUCTION}/ap-southeast-1",
        f"aws://{PRODUCTION}/eu-west-2",
        "--trust",
        TOOLS,
        "--cloudformation-execution-policies",
        ",".join(policies),
        "--profile",
        "prod",
    ]
    assert zone[-4:] == ["--cloudformation-execution-policies", zone[-3], "--profile", "dns"]
    assert zone[zone.index("--trust") + 1] == TOOLS
    assert [(o.check, o.status, o.detail) for o in run.outcomes[:3]] == [
        (
            "service-linked roles",
            "skipped",
            f"account {PRODUCTION}: the account has them already (a "
            "service-linked role, once created, stays)",
        ),
        (
            "bootstrap across accounts",
            HELD,
            f"{PRODUCTION}, {ZONE} bootstrapped trusting {TOOLS}, with the it-accounts-cdk-execution-<n> "
            "policies only",
        ),
        ("one account per jurisdiction", HELD, "0 assertion output(s) read"),
    ]
    # The hooks and make destroy reach both accounts through their profiles.
    hooks = [
        env for command, env in cli.commands if command[0] == "bash" or command[1].endswith("destroy.py")
    ]
    assert len(hooks) == 3
    assert all(env["ACCOUNT_PROFILES"] == PROFILES for env in hooks)
    assert all(env["ACCEPTANCE_PRODUCTION_ACCOUNT"] == PRODUCTION for env in hooks)


def test_a_failed_bootstrap_stops_the_test_before_any_deploy_and_still_destroys(
    accounts_app, tmp_path, monkeypatch
):
    by_account = worlds()
    expect_a_first_run(by_account, accounts_app)
    cli = RecordingCli(bootstrap_fails=True)
    run = run_accounts_test(tmp_path, monkeypatch, accounts_app, cli, by_account)
    assert [name for name in cli.named() if "deploy" in name] == []
    assert cli.commands[-1][0][1].endswith("destroy.py")  # make destroy, whatever happened
    failed = [o for o in run.outcomes if o.check == "bootstrap across accounts"]
    assert [(o.status, o.detail) for o in failed] == [(FAILED, "it failed")]


def checking(tmp_path, by_account: dict[str, World], zone: HostedZone | None = None) -> Acceptance:
    return Acceptance(
        account=TOOLS,
        run_id="run1",
        workdir=tmp_path,
        aws=across(by_account),
        zone=zone,
        others=OtherAccounts.given(production=PRODUCTION, zone=ZONE),
        say=lambda _: None,
    )


def test_an_account_another_app_bootstrapped_is_refused_before_the_run_asks(
    accounts_app, tmp_path, monkeypatch
):
    by_account = worlds()
    expect_bootstrap(by_account[TOOLS], {"eu-west-2": "30", "ap-southeast-1": "30"})
    expect_no_bootstrap(by_account[ZONE], ("eu-west-2",))
    by_account[PRODUCTION].expect(
        "cloudformation",
        "ap-southeast-1",
        "describe_stacks",
        {
            "Stacks": [
                {
                    "StackName": "CDKToolkit",
                    "CreationTime": "2026-01-01T00:00:00Z",
                    "StackStatus": "UPDATE_COMPLETE",
                    "Parameters": [
                        {"ParameterKey": "TrustedAccounts", "ParameterValue": "999999999999"},
                        {"ParameterKey": "CloudFormationExecutionPolicies", "ParameterValue": ""},
                    ],
                }
            ]
        },
    )
    with pytest.raises(OperatorError) as refused:
        checking(tmp_path, by_account).check_account([accounts_app])
    assert str(refused.value).startswith(
        f"account {PRODUCTION} (ap-southeast-1) is bootstrapped for something else: make bootstrap would replace its "
        "trust in 999999999999"
    )
    assert str(refused.value).endswith("run it again with REPLACE_BOOTSTRAP=1 to replace them")


def test_the_zone_is_looked_up_in_its_own_account(accounts_app, tmp_path):
    by_account = worlds()
    expect_bootstrap(by_account[TOOLS], {"eu-west-2": "30", "ap-southeast-1": "30"})
    expect_no_bootstrap(by_account[PRODUCTION], ("eu-west-2", "ap-southeast-1"))
    expect_no_bootstrap(by_account[ZONE], ("eu-west-2",))
    by_account[ZONE].fail("route53", "us-east-1", "get_hosted_zone", "NoSuchHostedZone")
    with pytest.raises(OperatorError) as refused:
        checking(tmp_path, by_account, ZONE_GIVEN).check_account([accounts_app])
    assert str(refused.value) == (
        f"HOSTED_ZONE_ID: Z0123456789ABCDEFGHIJ: NoSuchHostedZone; give a public hosted zone of account {ZONE}"
    )
    for world in by_account.values():
        world.assert_done()


def test_what_is_left_is_looked_for_in_each_stacks_own_account(accounts_app):
    assembly = CloudAssembly.read(accounts_app.directory)
    by_account = worlds()
    places: dict[tuple[str, str], list[str]] = {}
    for name in accounts_app.stacks:
        stack = assembly.stacks[name]
        expect_gone(by_account[stack.account], stack)
        places.setdefault((stack.account, stack.region), []).append(stack.name)
    for (account, region), names in places.items():
        left = (
            [f"arn:aws:sns:{region}:{account}:left"]
            if account == PRODUCTION and region == "eu-west-2"
            else []
        )
        by_account[account].expect(
            "resourcegroupstaggingapi",
            region,
            "get_resources",
            {"ResourceTagMappingList": [{"ResourceARN": arn} for arn in left]},
            {"TagFilters": [{"Key": leftovers.STACK_TAG, "Values": names}]},
        )
    found = leftovers.left_behind(across(by_account), assembly, accounts_app.stacks, [], {})
    assert found == [f"arn:aws:sns:eu-west-2:{PRODUCTION}:left"]
    assert len(places) == 5  # tools and production in both regions, the zone's account in one
    for world in by_account.values():
        world.assert_done()


def test_the_docs_take_the_trust_away_with_untrust():
    """The pinned CDK CLI keeps a bootstrap's trusted accounts unless --untrust names them
    (removeUntrusted over the stack's own TrustedAccounts): a bootstrap without --trust removes nothing."""
    from pathlib import Path

    cli = (Path(__file__).resolve().parents[1] / "node_modules" / "aws-cdk" / "lib" / "index.js").read_text()
    assert "splitCfnArray(current.parameters.TrustedAccounts)" in cli
    assert (
        "--untrust <your account>"
        in (Path(__file__).resolve().parents[1] / "docs" / "acceptance.md").read_text()
    )
