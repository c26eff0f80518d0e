"""The integration test apps (tests/integ/integ_*.py), checked offline as integ-runner's snapshot mode would.

Each app is synthesized without credentials. Its stacks under test are held to a JSON snapshot (asset hashes
masked, as integ-runner compares them), and its assertions to what makes them prove anything on a real
account: every production region has its own assertion stack in that region, after the stacks it checks;
each check reads only its own region's outputs; and each waits for its expectation, so one that does not
hold fails its stack's deployment instead of only writing a result.
"""

from __future__ import annotations

import json
import os
import re
import runpy
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest
from conftest import ROOT, built_once
from syrupy.extensions.json import JSONSnapshotExtension
from template_queries import only
from test_snapshots import masked

from constructs.settings.rollout_settings import RolloutSettings
from tools.operate.release_progress import LineView, Progress
from tools.plan.execution_policy import stack_output_reads
from tools.plan.release_plan import read_plan

INTEG = ROOT / "tests" / "integ"
APPS = sorted(p.stem for p in INTEG.glob("integ_*.py"))
REGIONS = ("eu-west-2", "ap-southeast-1")


def synthesize(name: str, target: Path, variant: str = "") -> None:
    """Run the app as integ-runner would, in this process (the CDK is loaded already): no credentials, no run."""
    keys = ("CDK_OUTDIR", "CDK_DEFAULT_ACCOUNT", "ACCEPTANCE_RUN", "ACCEPTANCE_VARIANT")
    saved = {key: os.environ.get(key) for key in keys}
    os.environ["CDK_OUTDIR"] = str(target)
    os.environ.pop("CDK_DEFAULT_ACCOUNT", None)
    os.environ.pop("ACCEPTANCE_RUN", None)
    os.environ["ACCEPTANCE_VARIANT"] = variant
    sys.path.insert(0, str(INTEG))
    try:
        runpy.run_path(str(INTEG / f"{name}.py"), run_name="__main__")
    finally:
        sys.path.remove(str(INTEG))
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def synthesized(tmp_path_factory, name: str) -> Path:
    """The app ``name`` synthesized once per test session (shared by every worker)."""
    return built_once(tmp_path_factory, f"integ-{name}", lambda target: synthesize(name, target))


@pytest.fixture(scope="session", params=APPS)
def integ_app(request, tmp_path_factory) -> tuple[str, Path]:
    return request.param, synthesized(tmp_path_factory, request.param)


def manifest(outdir: Path) -> dict:
    return json.loads((outdir / "integ.json").read_text())


def template(outdir: Path, stack: str) -> dict:
    return json.loads((outdir / f"{stack}.template.json").read_text())


def stack_environment(outdir: Path, stack: str) -> tuple[str, str]:
    """(account, region) of ``stack``."""
    artifact = json.loads((outdir / "manifest.json").read_text())["artifacts"][stack]
    account, region = artifact["environment"].removeprefix("aws://").split("/")
    return account, region


def stack_region(outdir: Path, stack: str) -> str:
    return stack_environment(outdir, stack)[1]


def test_there_are_integration_tests():
    assert {
        "integ_first_create",
        "integ_release",
        "integ_rollback",
        "integ_bake",
        "integ_window",
        "integ_ecs_engine",
        "integ_domain_latency",
        "integ_domain_geolocation",
        "integ_database",
        "integ_accounts",
    } <= set(APPS)


def test_each_app_is_one_test_case_over_the_release_with_its_assertions_in_the_home_region(integ_app):
    _, outdir = integ_app
    (case,) = manifest(outdir)["testCases"].values()
    assert case["stackUpdateWorkflow"] is False
    assert stack_region(outdir, case["assertionStack"]) == "eu-west-2"
    assert "-assert-" in case["assertionStack"]
    assert not [s for s in case["stacks"] if "-assert-" in s], "assertion stacks are not stacks under test"
    assert case["stacks"][-1].endswith("-pipeline")


def every_assertion_stack(outdir: Path) -> list[str]:
    return [p.name.removesuffix(".template.json") for p in outdir.glob("*-assert-*.template.json")]


def assertion_stacks(outdir: Path) -> dict[str, str]:
    """Region -> the stack that checks that region's copy (``<app>-assert-<region>``)."""
    regional = {}
    for name in every_assertion_stack(outdir):
        region = stack_region(outdir, name)
        if name.endswith(f"-assert-{region}"):
            regional[region] = name
    return regional


def api_calls(template_: dict) -> dict[str, dict]:
    return {k: r for k, r in template_["Resources"].items() if r["Type"].startswith("Custom::DeployAssert@")}


def test_every_region_is_checked_from_a_stack_in_that_region(integ_app):
    _, outdir = integ_app
    stacks = assertion_stacks(outdir)
    assert sorted(stacks) == sorted(REGIONS)
    dependencies = json.loads((outdir / "manifest.json").read_text())["artifacts"]
    for stack in stacks.values():
        needs = set(dependencies[stack].get("dependencies", ()))
        (checked,) = [n for n in needs if n == stack.replace("-assert-", "-")]
        assert stack_environment(outdir, checked) == stack_environment(outdir, stack), (
            f"{stack} is not in the account and region of {checked}"
        )
        assert any(n.endswith("-pipeline") for n in needs)


def test_each_check_reads_only_its_own_regions_stack_and_waits_for_its_answer(integ_app):
    _, outdir = integ_app
    for stack in every_assertion_stack(outdir):
        region = stack_region(outdir, stack)
        calls = api_calls(template(outdir, stack))
        assert calls, f"{stack} checks nothing"
        expectations = 0
        for logical_id, call in calls.items():
            properties = call["Properties"]
            assert {read["Region"] for read in stack_output_reads(properties)} <= {region}, logical_id
            if "expected" not in properties:
                continue  # a call whose answer another check reads
            expectations += 1
            # Without a waiter (or failDeployment) a check only writes its result to an output; with one, a
            # check that does not hold times out (or fails) and fails the deployment.
            assert "stateMachineArn" in properties or properties.get("failDeployment") in (True, "true"), (
                f"{logical_id} in {stack} does not fail its deployment when it does not hold"
            )
            # The handler compares the whole answer unless a path is given, and a flattened answer (output
            # paths, get_att) has no whole: such a check needs assert_at_path.
            if (
                properties.get("flattenResponse") == "true"
                and call["Type"] != "Custom::DeployAssert@AssertEquals"
            ):
                assert "actualPath" in properties, (
                    f"{logical_id} in {stack} compares a flattened answer whole"
                )
        assert expectations, f"{stack} makes calls but checks nothing"


def test_first_create_checks_each_regions_address_and_tasks(tmp_path_factory):
    outdir = synthesized(tmp_path_factory, "integ_first_create")
    for region, stack in assertion_stacks(outdir).items():
        calls = api_calls(template(outdir, stack))
        kinds = sorted(call["Type"] for call in calls.values())
        assert kinds == ["Custom::DeployAssert@HttpCall", "Custom::DeployAssert@SdkCallECSDescribeServices"]
        (http,) = [c for c in calls.values() if c["Type"].endswith("HttpCall")]
        assert json.loads(http["Properties"]["expected"]) == {"$ObjectLike": {"status": 200}}
        (read,) = stack_output_reads(http["Properties"]["parameters"]["url"])
        assert read["StackName"].endswith(f"-{region}")


def test_the_release_test_releases_then_compares_the_answering_image_with_the_running_one(tmp_path_factory):
    outdir = synthesized(tmp_path_factory, "integ_release")
    (case,) = manifest(outdir)["testCases"].values()
    assert case["hooks"]["postDeploy"] == ['.venv/bin/python tools/operate/release.py "$ACCEPTANCE_ASSEMBLY"']
    for stack in assertion_stacks(outdir).values():
        calls = api_calls(template(outdir, stack))
        (equal,) = [c for c in calls.values() if c["Type"] == "Custom::DeployAssert@AssertEquals"]
        assert equal["Properties"]["actual"] == {
            "Fn::GetAtt": ["AnsweringImage", "apiCallResponse.body.image"]
        }
        reads = json.dumps(equal["Properties"]["expected"])
        assert '{"Fn::GetAtt": ["ServingTask", "apiCallResponse.tasks.0.containers.0.image"]}' in reads
        described = calls["ServingTask"]["Properties"]
        assert described["actualPath"] == "tasks.0.containers.0.image"
        assert "@sha256:[0-9a-f]{64}$" in json.dumps(described["expected"])


@pytest.mark.parametrize("app", ["integ_rollback", "integ_accounts"])
def test_the_rollback_tests_release_a_failing_image_and_wait_for_the_automated_rollback(
    tmp_path_factory, app
):
    outdir = synthesized(tmp_path_factory, app)
    (case,) = manifest(outdir)["testCases"].values()
    release = '.venv/bin/python tools/operate/release.py "$ACCEPTANCE_ASSEMBLY"'
    (good, unhealthy) = case["hooks"]["postDeploy"]
    assert good == release
    # The second holds only when the unhealthy release's execution ends Failed.
    assert unhealthy.startswith(f"out=$({release} --source tests/integ/unhealthy_release 2>&1)")
    assert 'grep -Eq "^==> pipeline execution .*: Failed$" <<<"$out"' in unhealthy
    # Only the production stage rolls back on failure: a build that fails must not pass for the test's case.
    assert unhealthy.endswith('grep -Eq "stage Deploy_to_Production: Failed$" <<<"$out"')
    # Where the pipeline is: the home region's assertion stack, or its own in the tools account.
    home = case["assertionStack"]
    assert stack_environment(outdir, home) == stack_environment(outdir, case["stacks"][-1])
    calls = api_calls(template(outdir, home))
    started, succeeded = calls["RollbackStarted"]["Properties"], calls["RollbackSucceeded"]["Properties"]
    assert started["actualPath"] == "pipelineExecutionSummaries.0.trigger.triggerType"
    assert "AutomatedRollback$" in json.dumps(started["expected"])
    assert succeeded["actualPath"] == "pipelineExecutionSummaries.0.status"
    assert "Succeeded$" in json.dumps(succeeded["expected"])
    assert "RollbackStarted" in calls["RollbackSucceeded"].get("DependsOn", [])
    # Each region is checked once the rollback has ended: after the pipeline's checks, in their stack or after it.
    artifacts = json.loads((outdir / "manifest.json").read_text())["artifacts"]
    for stack in assertion_stacks(outdir).values():
        assert stack == home or home in artifacts[stack]["dependencies"], stack
    if stack_region(outdir, home) in assertion_stacks(outdir) and home in assertion_stacks(outdir).values():
        assert "RollbackSucceeded" in calls["ServiceAnswers"].get("DependsOn", [])
    # The unhealthy release answers 503 everywhere: a 200 can only come from a released, healthy image.
    assert "send_response(503)" in (ROOT / "tests/integ/unhealthy_release/server.py").read_text()


def test_the_accounts_test_puts_each_stack_in_its_account_and_checks_each_name_over_https(tmp_path_factory):
    outdir = synthesized(tmp_path_factory, "integ_accounts")
    (case,) = manifest(outdir)["testCases"].values()
    app = case["stacks"][-1].removesuffix("-pipeline")
    tools, _ = stack_environment(outdir, f"{app}-pipeline")
    production, _ = stack_environment(outdir, f"{app}-eu-west-2")
    zone, _ = stack_environment(outdir, f"{app}-dns")
    assert len({tools, production, zone}) == 3
    assert {stack: stack_environment(outdir, stack) for stack in case["stacks"]} == {
        f"{app}-eu-west-2": (production, "eu-west-2"),
        f"{app}-ap-southeast-1": (production, "ap-southeast-1"),
        f"{app}-artifacts-ap-southeast-1": (tools, "ap-southeast-1"),
        f"{app}-dns": (zone, "eu-west-2"),
        f"{app}-pipeline": (tools, "eu-west-2"),
    }
    assert stack_environment(outdir, case["assertionStack"]) == (tools, "eu-west-2")
    for region, stack in assertion_stacks(outdir).items():
        assert stack_environment(outdir, stack) == (production, region)
        regional = template(outdir, f"{app}-{region}")["Resources"]
        # CloudFormation's own validation writes only into a zone of the stack's account.
        assert not [r for r in regional.values() if r["Type"] == "AWS::CertificateManager::Certificate"]
        calls = api_calls(template(outdir, stack))
        # support.domain("acc") in a synth without a run: it-acc-snapshot below the stand-in zone.
        shared = "it-acc-snapshot.example.com"
        for construct_id, name in (("RegionalName", f"{region}.{shared}"), ("SharedName", shared)):
            properties = calls[f"{construct_id}Answers"]["Properties"]
            assert properties["parameters"]["url"] == f"https://{name}/"
            assert json.loads(properties["expected"]) == {
                "$ObjectLike": {"status": 200, "body": {"region": region}}
            }
        assert "ServingTask" in calls


def test_the_database_test_counts_a_visit_and_proves_a_plain_connection_refused(tmp_path_factory):
    outdir = synthesized(tmp_path_factory, "integ_database")
    for region, stack in assertion_stacks(outdir).items():
        resources = template(outdir, stack)["Resources"]
        calls = api_calls(template(outdir, stack))
        assert json.loads(calls["VisitCounted"]["Properties"]["expected"]) == {
            "$ObjectLike": {"status": 200, "body": {"status": "hello"}}
        }
        run = calls["PlainConnection"]["Properties"]["parameters"]
        (override,) = json.loads(run["overrides"])["containerOverrides"]
        assert override["name"] == "setup"
        probe = override["command"][2]
        # Plain refused, then the same credentials over TLS accepted, verified against the RDS bundle: the
        # refusal is for want of TLS whatever PostgreSQL's wording (which AWS does not document).
        assert (
            probe.index("ssl_context=False") < probe.index("ssl_context=tls") < probe.index("SystemExit(10)")
        )
        assert 'cafile=os.environ["DB_CA_BUNDLE"]' in probe
        compile(probe, "probe", "exec")  # what the container runs is Python
        assert run["launchType"] == '"FARGATE"'
        refused = calls["PlainConnectionRefused"]["Properties"]
        assert refused["actualPath"] == "tasks.0.containers.0.exitCode"
        assert json.loads(refused["expected"]) == 10
        # RunTask passes the setup task's roles: the assertion provider may pass exactly those two.
        passes = [
            statement
            for role in resources.values()
            if role["Type"] == "AWS::IAM::Role"
            for policy in role["Properties"].get("Policies", [])
            for statement in policy["PolicyDocument"]["Statement"]
            if "iam:PassRole" in json.dumps(statement["Action"])
        ]
        (passing,) = passes
        assert len(passing["Resource"]) == 2
        assert {read["Region"] for read in stack_output_reads(passing["Resource"])} == {region}


# The matchers the deployed assertion handler knows (integ-tests-alpha's lambda-handler/assertion.js); any other
# expected value is compared literally, so {"$Exact": v} never matches anything.
MATCHERS = {"$ObjectLike", "$StringLike", "$ArrayWith", "$SerializedJson"}


def test_every_expectation_is_one_the_handler_can_hold(integ_app):
    _, outdir = integ_app
    for stack in every_assertion_stack(outdir):
        for logical_id, call in api_calls(template(outdir, stack)).items():
            expected = call["Properties"].get("expected")
            if expected is None:
                continue
            text = json.dumps(expected)
            assert set(re.findall(r"\$[A-Za-z]+", text.replace("\\", ""))) <= MATCHERS, (logical_id, text)
            # The handler takes an answer of 0 for a missing one: a check for 0 can never hold.
            assert expected != "0", logical_id


@pytest.fixture
def snapshot_json(snapshot):
    return snapshot.use_extension(JSONSnapshotExtension)


def test_the_stacks_under_test_are_as_snapshotted(integ_app, snapshot_json):
    """integ-runner's snapshot check: a change to what an integration test deploys fails until re-pinned
    (make integ-snapshots)."""
    _, outdir = integ_app
    (case,) = manifest(outdir)["testCases"].values()
    assert {stack: masked(template(outdir, stack)) for stack in case["stacks"]} == snapshot_json


@pytest.mark.parametrize(
    ("variant", "changed"),
    [
        ("alarm", {"AWS::CloudWatch::Alarm"}),
        ("task", {"AWS::CloudWatch::Alarm", "AWS::ECS::TaskDefinition", "Custom::ReleasedImage"}),
    ],
)
def test_the_ecs_engines_deploys_change_only_their_change_and_keep_what_the_assertions_read(
    tmp_path_factory, variant, changed
):
    """integ_ecs_engine's hooks cdk deploy a variant of the app: the variant must change only what it is for,
    and keep every output the assertion stacks read (removing one would fail their deploy)."""
    base = synthesized(tmp_path_factory, "integ_ecs_engine")
    other = built_once(
        tmp_path_factory,
        f"integ-ecs-engine-{variant}",
        lambda target: synthesize("integ_ecs_engine", target, variant),
    )
    (case,) = manifest(base)["testCases"].values()
    for stack in case["stacks"]:
        before, after = template(base, stack), template(other, stack)
        assert sorted(before.get("Outputs", {})) == sorted(after.get("Outputs", {})), stack
        resources = set(before["Resources"]) | set(after["Resources"])
        differ = {
            (before["Resources"].get(r) or after["Resources"][r])["Type"]
            for r in resources
            if before["Resources"].get(r) != after["Resources"].get(r)
        }
        assert differ == (changed if stack.endswith(REGIONS) else set()), stack


def test_the_bake_test_has_two_wave_stages_a_short_bake_and_its_four_hooks(tmp_path_factory, monkeypatch):
    outdir = synthesized(tmp_path_factory, "integ_bake")
    (case,) = manifest(outdir)["testCases"].values()
    release = '.venv/bin/python tools/operate/release.py "$ACCEPTANCE_ASSEMBLY"'
    good, alarmed, third, rollback = case["hooks"]["postDeploy"]
    assert good == release
    assert alarmed == '.venv/bin/python tests/integ/alarm_during_bake.py "$ACCEPTANCE_ASSEMBLY"'
    assert third.endswith(f'{release} --source "$d/source"')
    assert '>> "$d/source/server.py"' in third  # a new image, so that the rollback has one to undo
    assert rollback == '.venv/bin/python tools/operate/rollback.py "$ACCEPTANCE_ASSEMBLY" --yes'
    plan = read_plan(outdir)
    assert [(b.stage, b.minutes, b.regions) for b in plan.bakes] == [
        ("Deploy_to_Production_wave_1", 5, ("eu-west-2",))
    ]
    assert sorted({a.stage for a in plan.deploy_actions}) == [
        "Deploy_to_Production_wave_1",
        "Deploy_to_Production_wave_2",
    ]
    # The hook holds on the first wave's failure and the second wave's absence, as make release prints them.
    monkeypatch.syspath_prepend(str(INTEG))
    stopped_in_first_wave = runpy.run_path(str(INTEG / "alarm_during_bake.py"))["stopped_in_first_wave"]

    def printed(stages: dict[str, str]) -> str:
        said: list[str] = []
        LineView(said.append).update(Progress("exec-2", status="Failed", stages=stages), 0)
        return "\n".join(said)

    assert stopped_in_first_wave(printed({"Build": "Succeeded", "Deploy_to_Production_wave_1": "Failed"}))
    assert not stopped_in_first_wave(printed({"Deploy_to_Production_wave_1": "Succeeded"}))
    assert not stopped_in_first_wave(
        printed({"Deploy_to_Production_wave_1": "Failed", "Deploy_to_Production_wave_2": "InProgress"})
    )


def test_the_window_test_holds_its_second_wave_behind_a_leap_day_window_and_its_hook_overrides_it(
    tmp_path_factory,
):
    outdir = synthesized(tmp_path_factory, "integ_window")
    (case,) = manifest(outdir)["testCases"].values()
    assert case["hooks"]["postDeploy"] == [
        '.venv/bin/python tests/integ/window_hold.py "$ACCEPTANCE_ASSEMBLY"'
    ]
    plan = read_plan(outdir)
    # Its waves do not bake (wave_bake_minutes 0): two wave stages, and the first wave keeps blue only the
    # configured termination wait.
    assert plan.bakes == ()
    (first,) = [a for a in plan.deploy_actions if a.stage == "Deploy_to_Production_wave_1"]
    _, group = only(template(outdir, first.stack), "AWS::CodeDeploy::DeploymentGroup")
    kept = group["Properties"]["BlueGreenDeploymentConfiguration"][
        "TerminateBlueInstancesOnDeploymentSuccess"
    ]
    assert kept["TerminationWaitTimeInMinutes"] == RolloutSettings().termination_wait_minutes
    stages = plan.stages
    windows = {s.name: s.window for s in stages if s.window}
    assert {name: str(window) for name, window in windows.items()} == {
        "Deploy_to_Production_wave_2": "* * * 29 FEB ? * (Asia/Singapore)"
    }
    (window,) = windows.values()
    assert window.opens_at(datetime(2027, 3, 1, tzinfo=UTC)) == datetime(2028, 2, 28, 16, tzinfo=UTC)
