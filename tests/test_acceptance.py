"""make acceptance: its refusals, and the order of what it does on an account (CDK CLI and IAM stood in)."""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path

import pytest
from aws_world import World, expect_gone, expect_service_log_groups, expect_stack_resources
from botocore.stub import Stubber
from conftest import ROOT, offline_client, tool, without_credentials
from test_integ_apps import synthesized

from tools.cloud_assembly import CloudAssembly
from tools.operate import leftovers
from tools.operate.acceptance import (
    CHECKS,
    FAILED,
    HELD,
    SKIPPED,
    Acceptance,
    HostedZone,
    IntegApp,
    hosted_zone,
    runnable_with,
    selected,
)
from tools.operate.cdk_commands import OperatorError
from tools.plan.cost_estimate import PriceTable, estimate
from tools.plan.release_plan import read_plan

ACCOUNT = "123456789012"
(FIRST,) = [c for c in CHECKS if c.test == "integ_first_create"]


def refusal(result: subprocess.CompletedProcess) -> str:
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    (line,) = result.stderr.splitlines()
    return line


def test_without_credentials_it_refuses_with_one_line(tmp_path):
    line = refusal(tool("operate/acceptance.py", "--force", env=without_credentials(tmp_path)))
    assert line.startswith("error: no AWS credentials found; make acceptance deploys to the account of your")


def test_with_the_placeholder_account_it_refuses_with_one_line(tmp_path):
    env = {**without_credentials(tmp_path), "CDK_DEFAULT_ACCOUNT": "111111111111"}
    line = refusal(tool("operate/acceptance.py", "--force", env=env))
    assert line.startswith("error: the account is the placeholder 111111111111; unset CDK_DEFAULT_ACCOUNT")


def test_an_unknown_test_is_refused_naming_the_known_ones(tmp_path):
    line = refusal(tool("operate/acceptance.py", "--tests", "integ_nope", env=without_credentials(tmp_path)))
    assert (
        line
        == "error: TESTS: 'integ_nope' is not an integration test; one of integ_first_create, integ_release, "
        "integ_rollback, integ_bake, integ_window, integ_ecs_engine, integ_domain_latency, integ_domain_geolocation, integ_database, "
        "integ_accounts"
    )


def test_every_check_has_its_integration_test_and_every_test_its_check():
    tests = sorted(p.stem for p in (ROOT / "tests" / "integ").glob("integ_*.py"))
    assert sorted(c.test for c in CHECKS) == tests
    assert selected("integ_first_create") == (FIRST,)
    assert selected(" integ_first_create, integ_first_create,") == (FIRST,)  # as typed: spaces, repeats
    with pytest.raises(OperatorError):
        selected("integ_first_create,nope")
    with pytest.raises(OperatorError, match=r"^TESTS: ',' is not an integration test"):
        selected(",")


@pytest.fixture(scope="session")
def first_create_app(tmp_path_factory) -> Path:
    return synthesized(tmp_path_factory, "integ_first_create")


KEPT = """==> deleting 5 stack(s)
==> kept (1): delete what you no longer need
    eu-west-2  repository  it-first-create-x (1 image(s))
        aws ecr delete-repository --region eu-west-2 --repository-name it-first-create-x --force
"""
KEPT_ITEMS = [
    {
        "region": "eu-west-2",
        "kind": "repository",
        "name": "it-first-create-x",
        "command": "aws ecr delete-repository --region eu-west-2 --repository-name it-first-create-x --force",
        "note": "1 image(s)",
    }
]
KEPT_REPOSITORY = f"arn:aws:ecr:eu-west-2:{ACCOUNT}:repository/it-first-create-x"


class FakeCli:
    """Records every command; answers each CDK action with the status given (and writes deploy outputs)."""

    def __init__(self, statuses: dict[str, int] | None = None, outputs: dict | None = None) -> None:
        self.commands: list[list[str]] = []
        self.statuses = statuses or {}
        self.outputs = outputs or {}

    def __call__(self, command, **_kwargs) -> subprocess.CompletedProcess:
        self.commands.append([str(part) for part in command])
        action = (
            "assert"
            if "--outputs-file" in command
            else "destroy"
            if str(command[1]).endswith("destroy.py")
            else command[1]
        )
        if action == "assert" and not self.statuses.get("assert"):
            Path(command[command.index("--outputs-file") + 1]).write_text(json.dumps(self.outputs))
        status = self.statuses.get(action, 0)
        if action == "destroy" and not status:
            Path(command[command.index("--kept-json") + 1]).write_text(json.dumps(KEPT_ITEMS))
        stdout = KEPT if action == "destroy" and not status else ""
        return subprocess.CompletedProcess(
            command, status, stdout, f"CREATE_FAILED {action}: AWS said no" if status else ""
        )


def suite(tmp_path, cli, iam, world: World | None = None) -> Acceptance:
    world = world or World()
    return Acceptance(
        account=ACCOUNT,
        run_id="run1",
        workdir=tmp_path,
        run=cli,
        iam=iam,
        aws=world.aws(),
        sleep=world.slept.append,
        say=lambda _: None,
    )


def expect_resources_read(world: World, app: IntegApp) -> dict[str, dict[str, str]]:
    """Before make destroy: each stack under test's resources (their physical IDs, by stack name)."""
    assembly = CloudAssembly.read(app.directory)
    return {name: expect_stack_resources(world, assembly.stacks[name]) for name in app.stacks}


def expect_nothing_left(
    world: World,
    app: IntegApp,
    ids: dict[str, dict[str, str]] | None,
    *,
    tagged: tuple[str, ...] = (KEPT_REPOSITORY,),
    existing: tuple[str, ...] = (),
) -> None:
    """What AWS answers after a destroy: no stack, only ``tagged`` resources, and of the log groups services
    make for the stacks' resources (named from ``ids``; none asked for without), only ``existing``."""
    assembly = CloudAssembly.read(app.directory)
    stacks = [assembly.stacks[name] for name in app.stacks]
    for stack in stacks:
        expect_gone(world, stack)
    for region in dict.fromkeys(s.region for s in stacks):
        names = [s.name for s in stacks if s.region == region]
        found = [{"ResourceARN": arn} for arn in tagged if f":{region}:" in arn]
        world.expect(
            "resourcegroupstaggingapi",
            region,
            "get_resources",
            {"ResourceTagMappingList": found},
            {"TagFilters": [{"Key": leftovers.STACK_TAG, "Values": names}]},
        )
        for stack in stacks:
            if stack.region == region and ids is not None:
                expect_service_log_groups(world, stack, ids[stack.name], existing)


def clean_teardown(app: IntegApp) -> World:
    """An account on which make destroy leaves nothing but what it lists."""
    world = World()
    expect_nothing_left(world, app, expect_resources_read(world, app))
    return world


def iam_with_roles(present: bool):
    iam = offline_client("iam", "us-east-1")
    stubber = Stubber(iam)
    for role in ("AWSServiceRoleForECS", "AWSServiceRoleForElasticLoadBalancing"):
        if present:
            stubber.add_response("get_role", {"Role": role_answer(role)}, {"RoleName": role})
        else:
            stubber.add_client_error("get_role", "NoSuchEntity", expected_params={"RoleName": role})
    return iam, stubber


def run_one(tmp_path, cli, app: IntegApp, check=FIRST, world: World | None = None) -> Acceptance:
    """One test run by a suite whose account has every service-linked role already; after a clean destroy,
    nothing is left but what it keeps (unless ``world`` answers otherwise)."""
    iam, stubber = iam_with_roles(present=True)
    if world is None:
        if cli.statuses.get("destroy"):
            world = World()
            expect_resources_read(world, app)
        else:
            world = clean_teardown(app)
    with stubber:
        run = suite(tmp_path, cli, iam, world)
        run.test(check, app)
    world.assert_done()
    return run


def role_answer(name: str) -> dict:
    return {
        "Path": "/aws-service-role/",
        "RoleName": name,
        "RoleId": "AROAEXAMPLEEXAMPLE123",
        "Arn": f"arn:aws:iam::{ACCOUNT}:role/aws-service-role/x/{name}",
        "CreateDate": "2026-01-01T00:00:00Z",
    }


def test_it_deploys_the_stacks_then_the_assertions_and_always_destroys(first_create_app, tmp_path):
    app = IntegApp.read(first_create_app)
    cli = FakeCli(outputs={app.assertions[0]: {"AssertionResultsServiceAnswers": '{"status":"success"}'}})
    run = run_one(tmp_path, cli, app)
    actions = [(c[1], [s for s in c if s.startswith("it-")]) for c in cli.commands]
    assert actions[:2] == [("deploy", list(app.stacks)), ("deploy", list(app.assertions))]
    assert "--exclusively" in cli.commands[1]
    # make destroy's teardown (deletion protection off first), on the test's own assembly, without asking.
    assert cli.commands[2][1:] == [
        str(ROOT / "tools" / "operate" / "destroy.py"),
        str(app.directory),
        "--force",
        "--kept-json",
        str(app.directory / "destroy-kept.json"),
    ]
    assert [(o.check, o.status) for o in run.outcomes] == [
        ("service-linked roles", SKIPPED),
        ("first create", HELD),
        ("destroy", HELD),
    ]
    listing = app.directory / "destroy.txt"
    assert (
        run.outcomes[-1].detail
        == f"nothing left but the 1 resource(s) make destroy lists as kept: see {listing}"
    )
    assert "aws ecr delete-repository" in listing.read_text()


def test_a_failed_deploy_is_reported_with_awss_error_and_the_stacks_are_destroyed(first_create_app, tmp_path):
    app = IntegApp.read(first_create_app)
    cli = FakeCli(statuses={"deploy": 1})
    run = run_one(tmp_path, cli, app)
    assert cli.commands[0][1] == "deploy"
    assert cli.commands[1][1].endswith("destroy.py")
    assert run.outcomes[-2].status == FAILED
    assert run.outcomes[-2].detail == "deploy: CREATE_FAILED deploy: AWS said no"


def test_a_check_that_does_not_hold_fails_the_assertions_deploy_and_says_so(first_create_app, tmp_path):
    app = IntegApp.read(first_create_app)
    cli = FakeCli(statuses={"assert": 1})
    run = run_one(tmp_path, cli, app)
    assert cli.commands[-1][1].endswith("destroy.py")
    assert (run.outcomes[-2].status, run.outcomes[-2].detail) == (FAILED, "CREATE_FAILED assert: AWS said no")


def test_a_result_output_saying_fail_fails_the_check(first_create_app, tmp_path):
    app = IntegApp.read(first_create_app)
    cli = FakeCli(
        outputs={app.assertions[0]: {"AssertionResultsTasksRunning": '{"status":"fail","message":"x"}'}}
    )
    run = run_one(tmp_path, cli, app)
    assert run.outcomes[-2].status == FAILED
    assert "AssertionResultsTasksRunning" in run.outcomes[-2].detail


def test_missing_service_linked_roles_are_created_before_the_first_create(first_create_app, tmp_path):
    app = IntegApp.read(first_create_app)
    iam, stubber = iam_with_roles(present=False)
    # create_missing looks again just before it creates (a role made meanwhile counts as there).
    for role in ("AWSServiceRoleForECS", "AWSServiceRoleForElasticLoadBalancing"):
        stubber.add_client_error("get_role", "NoSuchEntity", expected_params={"RoleName": role})
    for role, service in (
        ("AWSServiceRoleForECS", "ecs.amazonaws.com"),
        ("AWSServiceRoleForElasticLoadBalancing", "elasticloadbalancing.amazonaws.com"),
    ):
        stubber.add_response(
            "create_service_linked_role", {"Role": role_answer(role)}, {"AWSServiceName": service}
        )
    world = clean_teardown(app)
    with stubber:
        run = suite(tmp_path, FakeCli(outputs={}), iam, world)
        run.test(FIRST, app)
    roles = run.outcomes[0]
    assert (roles.status, roles.detail) == (
        HELD,
        "created AWSServiceRoleForECS, AWSServiceRoleForElasticLoadBalancing before the first create",
    )


def test_a_failed_teardown_is_reported_with_what_to_delete_by_hand(first_create_app, tmp_path):
    app = IntegApp.read(first_create_app)
    run = run_one(tmp_path, FakeCli(statuses={"destroy": 1}, outputs={}), app)
    teardown = run.outcomes[-1]
    assert (teardown.check, teardown.status) == ("destroy", FAILED)
    assert teardown.detail == (
        f"CREATE_FAILED destroy: AWS said no; run .venv/bin/python tools/operate/destroy.py {app.directory} "
        "--force again once the cause is fixed (docs/acceptance.md, If a run stops)"
    )


class ReleasingAtFirst(FakeCli):
    """make destroy refuses while a release is in flight, ``times`` times, then deletes."""

    def __init__(self, times: int) -> None:
        super().__init__(outputs={})
        self.times = times

    def __call__(self, command, **kwargs) -> subprocess.CompletedProcess:
        if str(command[1]).endswith("destroy.py") and self.times:
            self.times -= 1
            self.commands.append([str(part) for part in command])
            line = "error: it-x-pipeline is releasing (e-1); let it end, or stop it with aws codepipeline ..."
            return subprocess.CompletedProcess(command, 1, "", line)
        return super().__call__(command, **kwargs)


def test_the_teardown_waits_for_a_release_in_flight_to_end(first_create_app, tmp_path):
    """A test that stops early may leave a release running (a stage rollback): make destroy refuses until it
    ends, so the teardown asks again every minute instead of leaving every stack behind."""
    app = IntegApp.read(first_create_app)
    world = clean_teardown(app)
    run = run_one(tmp_path, ReleasingAtFirst(times=3), app, world=world)
    assert [c[1].endswith("destroy.py") for c in run.run.commands].count(True) == 4
    assert world.slept[:3] == [60, 60, 60]
    assert (run.outcomes[-1].check, run.outcomes[-1].status) == ("destroy", HELD)


def test_the_report_names_each_check_and_its_result(first_create_app, tmp_path):
    app = IntegApp.read(first_create_app)
    run = run_one(tmp_path, FakeCli(statuses={"deploy": 1}), app)
    path = run.report(tmp_path / "report")
    assert (
        "| first create | integ_first_create | failed | deploy: CREATE_FAILED deploy: AWS said no |"
        in path.read_text()
    )
    assert json.loads((tmp_path / "report" / "acceptance-report.json").read_text())[0]["status"] == SKIPPED


def test_the_estimate_is_the_plans_cost_for_the_tests_minutes(first_create_app, tmp_path):
    app = IntegApp.read(first_create_app)
    minutes, usd = suite(tmp_path, FakeCli(), None).estimate([FIRST], {FIRST.test: app})
    table = PriceTable.load()
    monthly = sum(cost.total for cost in estimate(read_plan(first_create_app), table))
    assert minutes == FIRST.minutes
    assert usd == pytest.approx(monthly / table.hours_per_month * FIRST.minutes / 60)
    assert usd > 0


def test_the_release_hook_runs_between_the_deploy_and_the_assertions_on_the_tests_assembly(
    tmp_path_factory, tmp_path
):
    app = IntegApp.read(synthesized(tmp_path_factory, "integ_release"))
    assert app.post_deploy == ('.venv/bin/python tools/operate/release.py "$ACCEPTANCE_ASSEMBLY"',)
    seen_environments: list[str] = []

    class Recording(FakeCli):
        def __call__(self, command, **kwargs):
            if command[0] == "bash":
                env = kwargs["env"]
                seen_environments.append(env["ACCEPTANCE_ASSEMBLY"])
                # A hook that synthesizes the app again (integ_ecs_engine's deploys) names the same stacks.
                assert (env["ACCEPTANCE_RUN"], env["CDK_DEFAULT_ACCOUNT"], env["PYTHONPATH"]) == (
                    "run1",
                    ACCOUNT,
                    str(ROOT),
                )
            return super().__call__(command, **kwargs)

    cli = Recording(outputs={})
    (release_check,) = [c for c in CHECKS if c.test == "integ_release"]
    run = run_one(tmp_path, cli, app, release_check)
    assert [c[0] if c[0] == "bash" else c[1] for c in cli.commands][:3] == ["deploy", "bash", "deploy"]
    assert cli.commands[3][1].endswith("destroy.py")
    assert seen_environments == [str(app.directory)]
    # The run's first test checks the service-linked roles, whichever it is.
    assert [(o.check, o.test, o.status) for o in run.outcomes] == [
        ("service-linked roles", "integ_release", SKIPPED),
        ("a release", "integ_release", HELD),
        ("destroy", "integ_release", HELD),
    ]


def test_the_roles_are_checked_once_per_run(first_create_app, tmp_path):
    app = IntegApp.read(first_create_app)
    run = run_one(tmp_path, FakeCli(outputs={}), app)
    run.iam = None  # a second test of the run makes no IAM call (None would fail one)
    world = clean_teardown(app)
    run.aws, run.sleep = world.aws(), world.slept.append
    run.test(FIRST, app)
    world.assert_done()
    assert [o.check for o in run.outcomes].count("service-linked roles") == 1


def test_without_a_hosted_zone_the_domain_checks_are_skipped_saying_how_to_run_them():
    runnable, skipped = runnable_with(CHECKS, None)
    assert [c.test for c in runnable] == [
        c.test for c in CHECKS if not c.test.startswith("integ_domain") and c.test != "integ_accounts"
    ]
    assert [(o.test, o.status) for o in skipped] == [
        ("integ_domain_latency", SKIPPED),
        ("integ_domain_geolocation", SKIPPED),
        ("integ_accounts", SKIPPED),
    ]
    assert skipped[0].detail.startswith("no hosted zone given: make acceptance HOSTED_ZONE_ID=Z...")
    assert skipped[2].detail.startswith(
        "needs two accounts besides yours: make acceptance PRODUCTION_ACCOUNT="
    )
    runnable, skipped = runnable_with(CHECKS, HostedZone("Z0123456789ABCDEFGHIJ", "example.com"))
    assert (len(runnable), [o.test for o in skipped]) == (len(CHECKS) - 1, ["integ_accounts"])


def test_the_hosted_zone_needs_both_halves_and_valid_ones():
    assert hosted_zone(None, None) is None
    assert hosted_zone("Z0123456789ABCDEFGHIJ", "example.com") == HostedZone(
        "Z0123456789ABCDEFGHIJ", "example.com"
    )
    with pytest.raises(OperatorError, match=r"^HOSTED_ZONE_NAME: missing; HOSTED_ZONE_ID is given"):
        hosted_zone("Z0123456789ABCDEFGHIJ", None)
    with pytest.raises(
        OperatorError,
        match=r"^HOSTED_ZONE_ID: 'example\.com' is not allowed; expected a Route 53 hosted zone ID",
    ):
        hosted_zone("example.com", "example.com")
    with pytest.raises(
        OperatorError, match=r"^HOSTED_ZONE_NAME: 'Example\.COM' is not allowed; expected a lowercase"
    ):
        hosted_zone("Z0123456789ABCDEFGHIJ", "Example.COM")


def test_a_zone_given_reaches_the_tests_synth_and_hooks(tmp_path):
    run = suite(tmp_path, FakeCli(), None)
    run.zone = HostedZone("Z0123456789ABCDEFGHIJ", "example.com")
    env = run.environment(CDK_OUTDIR="x")
    assert (env["ACCEPTANCE_HOSTED_ZONE_ID"], env["ACCEPTANCE_HOSTED_ZONE_NAME"], env["CDK_OUTDIR"]) == (
        "Z0123456789ABCDEFGHIJ",
        "example.com",
        "x",
    )


@pytest.mark.parametrize(
    ("arn", "kept"),
    [
        (KEPT_REPOSITORY, True),
        (f"arn:aws:ecr:eu-west-2:{ACCOUNT}:repository/it-first-create-x-other", False),
        ("arn:aws:s3:::it-first-create-x", True),
        (f"arn:aws:logs:eu-west-2:{ACCOUNT}:log-group:it-first-create-x", True),
        (f"arn:aws:elasticloadbalancing:eu-west-2:{ACCOUNT}:loadbalancer/app/it-first/0123", False),
    ],
)
def test_a_resource_counts_as_kept_only_by_its_whole_name(arn, kept):
    assert leftovers.listed(arn, {"it-first-create-x"}) is kept


@pytest.fixture
def quick(monkeypatch):
    """The leftovers look twice before they give up."""
    monkeypatch.setattr(leftovers, "SETTLE_SECONDS", 2 * leftovers.POLL_SECONDS)


def balancer_exists(world: World, arn: str) -> None:
    """Elastic Load Balancing still describes the load balancer (it is not only a stale tag)."""
    world.expect(
        "elbv2",
        "eu-west-2",
        "describe_load_balancers",
        {"LoadBalancers": [{"LoadBalancerArn": arn}]},
        {"LoadBalancerArns": [arn]},
    )


def test_what_destroy_left_and_did_not_list_fails_the_destroy_check(first_create_app, tmp_path, quick):
    app = IntegApp.read(first_create_app)
    balancer = f"arn:aws:elasticloadbalancing:eu-west-2:{ACCOUNT}:loadbalancer/app/it-first/0123"
    world = World()
    ids = expect_resources_read(world, app)
    for _ in range(3):  # two looks that wait, and the last
        expect_nothing_left(world, app, ids, tagged=(KEPT_REPOSITORY, balancer))
        balancer_exists(world, balancer)
    run = run_one(tmp_path, FakeCli(outputs={}), app, world=world)
    teardown = run.outcomes[-1]
    assert (teardown.check, teardown.status) == ("destroy", FAILED)
    assert teardown.detail == f"left behind and not in make destroy's list: {balancer}"
    assert world.slept == [leftovers.POLL_SECONDS] * 2


def test_a_leftover_the_tagging_api_still_shows_for_a_while_is_waited_out(first_create_app, tmp_path, quick):
    app = IntegApp.read(first_create_app)
    balancer = f"arn:aws:elasticloadbalancing:eu-west-2:{ACCOUNT}:loadbalancer/app/it-first/0123"
    world = World()
    ids = expect_resources_read(world, app)
    expect_nothing_left(world, app, ids, tagged=(KEPT_REPOSITORY, balancer))
    balancer_exists(world, balancer)
    expect_nothing_left(world, app, ids)
    run = run_one(tmp_path, FakeCli(outputs={}), app, world=world)
    assert run.outcomes[-1].status == HELD
    assert world.slept == [leftovers.POLL_SECONDS]


def test_a_stale_tag_and_an_inactive_task_definition_are_not_leftovers(first_create_app):
    """The Tagging API still names a deleted listener, and ECS keeps every deregistered revision (INACTIVE)."""
    app = IntegApp.read(first_create_app)
    assembly = CloudAssembly.read(app.directory)
    listener = f"arn:aws:elasticloadbalancing:eu-west-2:{ACCOUNT}:listener/app/it-first/0123/4567"
    revision = f"arn:aws:ecs:eu-west-2:{ACCOUNT}:task-definition/it-first-web:3"
    world = World()
    expect_nothing_left(world, app, None, tagged=(KEPT_REPOSITORY, listener, revision))
    world.fail("elbv2", "eu-west-2", "describe_listeners", "ListenerNotFound")
    world.expect(
        "ecs",
        "eu-west-2",
        "describe_task_definition",
        {"taskDefinition": {"taskDefinitionArn": revision, "status": "INACTIVE"}},
        {"taskDefinition": revision},
    )
    assert leftovers.left_behind(world.aws(), assembly, app.stacks, KEPT_ITEMS, {}) == []
    world.assert_done()


def test_a_log_group_a_service_made_and_destroy_did_not_list_is_a_leftover(first_create_app, tmp_path, quick):
    """Lambda's own log group of a function of the stack, named after the function (CloudFormation shortens a
    long stack name inside a generated function name, so it is read from the stack before its deletion)."""
    app = IntegApp.read(first_create_app)
    assembly = CloudAssembly.read(app.directory)
    home = assembly.stacks[app.stacks[0]]
    world = World()
    ids = expect_resources_read(world, app)
    function = next(lid for lid in home.of_type("AWS::Lambda::Function"))
    group = f"/aws/lambda/{ids[home.name][function]}"
    for _ in range(3):  # two looks that wait, and the last
        expect_nothing_left(world, app, ids, existing=(group,))
    run = run_one(tmp_path, FakeCli(outputs={}), app, world=world)
    assert (run.outcomes[-1].status, run.outcomes[-1].detail) == (
        FAILED,
        f"left behind and not in make destroy's list: log group {group} ({home.region})",
    )


BOOTSTRAP_PARAMETER = "/cdk-bootstrap/hnb659fds/version"


def expect_bootstrap(world: World, versions: dict[str, str | None]) -> None:
    """Each region's CDK bootstrap version parameter (None: not bootstrapped)."""
    for region, version in versions.items():
        if version is None:
            world.fail("ssm", region, "get_parameter", "ParameterNotFound")
        else:
            world.expect(
                "ssm",
                region,
                "get_parameter",
                {"Parameter": {"Name": BOOTSTRAP_PARAMETER, "Value": version}},
                {"Name": BOOTSTRAP_PARAMETER},
            )


def expect_zone(world: World, name: str, *, private: bool = False) -> None:
    world.expect(
        "route53",
        "us-east-1",
        "get_hosted_zone",
        {
            "HostedZone": {
                "Id": "/hostedzone/Z0123456789ABCDEFGHIJ",
                "Name": f"{name}.",
                "CallerReference": "x",
                "Config": {"PrivateZone": private},
            }
        },
        {"Id": "Z0123456789ABCDEFGHIJ"},
    )


def checked(tmp_path, app: IntegApp, world: World, zone: HostedZone | None = None) -> None:
    run = suite(tmp_path, FakeCli(), None, world)
    run.zone = zone
    run.check_account([app, app])  # two tests in the same regions: each region is asked once
    world.assert_done()


def test_an_account_bootstrapped_in_both_regions_with_the_zone_named_passes(first_create_app, tmp_path):
    world = World()
    expect_bootstrap(world, {"eu-west-2": "30", "ap-southeast-1": "30"})
    expect_zone(world, "example.com")
    checked(
        tmp_path, IntegApp.read(first_create_app), world, HostedZone("Z0123456789ABCDEFGHIJ", "example.com")
    )


def test_a_region_not_bootstrapped_is_refused_with_the_command_that_bootstraps_both(
    first_create_app, tmp_path
):
    world = World()
    expect_bootstrap(world, {"eu-west-2": "30", "ap-southeast-1": None})
    with pytest.raises(OperatorError) as refused:
        checked(tmp_path, IntegApp.read(first_create_app), world)
    assert re.fullmatch(
        rf"ap-southeast-1: CDK bootstrap >= \d+ needed, found not bootstrapped; run npx cdk bootstrap "
        rf"aws://{ACCOUNT}/ap-southeast-1 aws://{ACCOUNT}/eu-west-2",
        str(refused.value),
    )


@pytest.mark.parametrize(
    ("found", "reason"),
    [
        (
            ("example.com", True),
            "HOSTED_ZONE_NAME: example.com: zone Z0123456789ABCDEFGHIJ is the private zone example.com; the "
            "domain checks need the public zone of that name",
        ),
        (
            ("example.org", False),
            "HOSTED_ZONE_NAME: example.com: zone Z0123456789ABCDEFGHIJ is the public zone example.org; the "
            "domain checks need the public zone of that name",
        ),
        (
            None,
            f"HOSTED_ZONE_ID: Z0123456789ABCDEFGHIJ: NoSuchHostedZone; give a public hosted zone of account {ACCOUNT}",
        ),
    ],
    ids=["private", "another-name", "not-in-the-account"],
)
def test_a_zone_that_is_not_the_accounts_public_zone_of_that_name_is_refused(
    first_create_app, tmp_path, found, reason
):
    world = World()
    expect_bootstrap(world, {"eu-west-2": "30", "ap-southeast-1": "30"})
    if found is None:
        world.fail("route53", "us-east-1", "get_hosted_zone", "NoSuchHostedZone")
    else:
        expect_zone(world, found[0], private=found[1])
    with pytest.raises(OperatorError) as refused:
        checked(
            tmp_path,
            IntegApp.read(first_create_app),
            world,
            HostedZone("Z0123456789ABCDEFGHIJ", "example.com"),
        )
    assert str(refused.value) == reason


def test_an_aws_error_while_looking_for_leftovers_fails_the_destroy_row_not_the_run(
    first_create_app, tmp_path
):
    app = IntegApp.read(first_create_app)
    assembly = CloudAssembly.read(app.directory)
    world = World()
    expect_resources_read(world, app)
    for name in app.stacks:
        expect_gone(world, assembly.stacks[name])
    world.fail("resourcegroupstaggingapi", "eu-west-2", "get_resources", "AccessDeniedException")
    run = run_one(tmp_path, FakeCli(outputs={}), app, world=world)
    teardown = run.outcomes[-1]
    assert (teardown.check, teardown.status) == ("destroy", FAILED)
    assert teardown.detail.startswith("looking for what is left: An error occurred (AccessDeniedException)")
