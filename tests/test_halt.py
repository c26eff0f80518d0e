"""make halt and make resume on stubbed AWS: which transitions change, what is said, what is refused."""

from __future__ import annotations

from datetime import timedelta, timezone

import pytest
from aws_world import World, expect_stack_resources, minutes_after
from conftest import for_account
from test_status import expect_pipeline

from tools.cloud_assembly import CloudAssembly
from tools.operate import halt
from tools.operate.cdk_commands import OperatorError
from tools.operate.halt import (
    HALT_PERMISSIONS,
    MAX_REASON,
    RESUME_PERMISSIONS,
    Halt,
    disabled_reason,
    keep_halt,
)
from tools.operate.status import PERMISSIONS as STATUS_PERMISSIONS
from tools.operate.status import pipeline_lines

REASON = "make halt - checkout errors in Singapore"
OURS = {"enabled": False, "disabledReason": REASON, "lastChangedBy": "arn:aws:iam::111111111111:user/ops"}
THEIRS = {"enabled": False, "disabledReason": "audit freeze"}


def stage(name: str, transition: dict | None = None, running: str | None = None) -> dict:
    state: dict = {"stageName": name, "inboundTransitionState": transition or {"enabled": True}}
    if running:
        state["latestExecution"] = {"pipelineExecutionId": running, "status": "InProgress"}
    return state


def pipeline_of(world: World, assembly: CloudAssembly, stages: list[dict]) -> tuple[str, str]:
    """The deployed pipeline's name and region, and its stages as GetPipelineState gives them."""
    stack, _ = assembly.pipeline()
    ids = expect_stack_resources(world, stack)
    (logical_id,) = stack.of_type("AWS::CodePipeline::Pipeline")
    name = ids[logical_id]
    world.expect("codepipeline", stack.region, "get_pipeline_state", {"stageStates": stages}, {"name": name})
    return name, stack.region


def transition(world, region, operation, name, stage_name, **reason) -> None:
    world.expect(
        "codepipeline",
        region,
        operation,
        {},
        {"pipelineName": name, "stageName": stage_name, "transitionType": "Inbound", **reason},
    )


def test_halt_closes_every_stage_after_the_source_and_names_the_stage_that_carries_on(default_synth):
    world = World(HALT_PERMISSIONS)
    assembly = CloudAssembly.read(default_synth.outdir)
    stages = [stage("Source"), stage("Build"), stage("Deploy_to_Production", running="exec-7")]
    name, region = pipeline_of(world, assembly, stages)
    for stage_name in ("Build", "Deploy_to_Production"):
        transition(world, region, "disable_stage_transition", name, stage_name, reason=REASON)
    said: list[str] = []
    assert Halt(assembly, world.aws(), said.append).halt("checkout errors in Singapore") == 0
    world.assert_done()
    assert said == [
        "    Build: no release enters it now",
        "    Deploy_to_Production: no release enters it now",
        f"==> {name} halted: {REASON}",
        "    Deploy_to_Production is running execution exec-7: it carries on to its end (a halt stops entry to a "
        "stage, not a deployment under way)",
        "    make resume lets releases go on",
    ]


def test_a_stage_running_before_another_says_which_stage_nothing_enters_after_it(default_synth):
    world = World(HALT_PERMISSIONS)
    assembly = CloudAssembly.read(default_synth.outdir)
    stages = [stage("Source"), stage("Build", running="exec-8"), stage("Deploy_to_Production", THEIRS)]
    name, region = pipeline_of(world, assembly, stages)
    transition(world, region, "disable_stage_transition", name, "Build", reason="make halt")
    said: list[str] = []
    Halt(assembly, world.aws(), said.append).halt(None)
    world.assert_done()
    assert "    Deploy_to_Production: already disabled (audit freeze)" in said
    assert (
        "    Build is running execution exec-8: it carries on to its end (a halt stops entry to a stage, not a "
        "deployment under way); nothing enters Deploy_to_Production after it"
    ) in said


def test_resume_opens_only_what_make_halt_closed_and_names_the_rest(default_synth):
    world = World(RESUME_PERMISSIONS)
    assembly = CloudAssembly.read(default_synth.outdir)
    stages = [stage("Source"), stage("Build", OURS), stage("Deploy_to_Production", THEIRS)]
    name, region = pipeline_of(world, assembly, stages)
    transition(world, region, "enable_stage_transition", name, "Build")
    said: list[str] = []
    assert Halt(assembly, world.aws(), said.append).resume() == 0
    world.assert_done()
    assert said[0] == "    Build: releases enter it again"
    assert said[1].startswith(
        "    Deploy_to_Production: left disabled, not by make halt (audit freeze); aws "
    )
    assert f"--pipeline-name {name} --stage-name Deploy_to_Production --transition-type Inbound" in said[1]
    assert said[2] == (
        f"==> {name} resumed where make halt had halted it; no release enters Deploy_to_Production until that "
        "transition is enabled"
    )


def test_a_second_halt_keeps_the_first_ones_reasons_and_says_so(default_synth):
    world = World(HALT_PERMISSIONS)
    assembly = CloudAssembly.read(default_synth.outdir)
    name, _ = pipeline_of(world, assembly, [stage("Source"), stage("Build", OURS)])
    said: list[str] = []
    Halt(assembly, world.aws(), said.append).halt("another reason")
    world.assert_done()
    assert said[:2] == [
        f"    Build: already disabled ({REASON})",
        f"==> {name} was halted already; each transition keeps the reason above",
    ]


def test_resume_of_a_whole_pipeline_says_releases_enter_again(default_synth):
    world = World(RESUME_PERMISSIONS)
    assembly = CloudAssembly.read(default_synth.outdir)
    name, region = pipeline_of(world, assembly, [stage("Source"), stage("Build", OURS)])
    transition(world, region, "enable_stage_transition", name, "Build")
    said: list[str] = []
    Halt(assembly, world.aws(), said.append).resume()
    world.assert_done()
    assert said[-1] == f"==> {name} resumed: releases enter the stages again"


def test_resume_of_a_pipeline_not_halted_changes_nothing(default_synth):
    world = World(RESUME_PERMISSIONS)
    assembly = CloudAssembly.read(default_synth.outdir)
    name, _ = pipeline_of(world, assembly, [stage("Source"), stage("Build")])
    said: list[str] = []
    Halt(assembly, world.aws(), said.append).resume()
    world.assert_done()
    assert said == [f"==> {name} was not halted by make halt: nothing to resume"]


def test_status_shows_a_halted_pipeline_why_by_whom_and_since_when(default_synth):
    world = World(STATUS_PERMISSIONS)
    assembly = CloudAssembly.read(default_synth.outdir)
    stack, _ = assembly.pipeline()
    # botocore gives a timestamp in the machine's own zone: shown in UTC whatever that zone is.
    since = {**OURS, "lastChangedAt": minutes_after(30).astimezone(timezone(timedelta(hours=8)))}
    expect_pipeline(
        world,
        stack,
        [stage("Source"), stage("Build", since), stage("Deploy_to_Production", THEIRS)],
        ledger=False,
    )
    lines = pipeline_lines(world.aws(), stack)  # no deploy actions given: no ledger lines
    world.assert_done()
    assert lines[3:5] == [
        f"    halted before Build: {REASON} (by arn:aws:iam::111111111111:user/ops, 2026-11-27 09:30 UTC); make "
        "resume lets releases go on",
        "    halted before Deploy_to_Production: audit freeze",
    ]


@pytest.mark.parametrize(
    ("reason", "why"),
    [
        ("why, because", "',' is not among its characters"),
        ("a" * (MAX_REASON + 1), "it has 289 characters"),
        ("tab\there", "'\\t' is not among its characters"),
    ],
)
def test_a_reason_codepipeline_would_refuse_is_refused_in_one_line_saying_why(reason, why):
    with pytest.raises(OperatorError) as refused:
        disabled_reason(reason)
    assert str(refused.value).startswith(
        f"REASON: {reason!r} is not allowed ({why}); expected at most 288 letters"
    )
    assert disabled_reason("a" * MAX_REASON).endswith("a" * MAX_REASON)


def test_a_bad_reason_is_refused_before_anything_is_read(capsys):
    assert halt.main(["halt", "/nonexistent", "--reason", "why, because"]) == 1
    (line,) = capsys.readouterr().err.strip().splitlines()
    assert line.startswith("error: REASON: 'why, because' is not allowed")


def test_without_credentials_both_refuse_with_one_line(default_synth, tmp_path, monkeypatch, capsys):
    monkeypatch.setattr("tools.operate.cdk_commands.has_credentials", lambda: False)
    assembly = for_account(default_synth.outdir, tmp_path / "out")
    for action in ("halt", "resume"):
        assert halt.main([action, str(assembly)]) == 1
        (line,) = capsys.readouterr().err.strip().splitlines()
        assert line.startswith("error: no AWS credentials"), line


def test_a_deploy_during_a_halt_disables_again_what_it_enabled(default_synth):
    """AWS does not document whether updating the pipeline's stack keeps its disabled transitions: make deploy
    reads them before and disables again any the deploy enabled, with its reason."""
    world = World(("cloudformation:ListStackResources", *HALT_PERMISSIONS))
    assembly = CloudAssembly.read(default_synth.outdir)
    before = [stage("Source"), stage("Build", OURS), stage("Deploy_to_Production", THEIRS)]
    name, region = pipeline_of(world, assembly, before)
    after = [stage("Source"), stage("Build"), stage("Deploy_to_Production", THEIRS)]
    world.expect("codepipeline", region, "get_pipeline_state", {"stageStates": after}, {"name": name})
    transition(world, region, "disable_stage_transition", name, "Build", reason=REASON)
    said: list[str] = []
    again = keep_halt(assembly, world.aws(), said.append)
    again()
    world.assert_done()
    assert said == [f"==> Build: its transition was enabled by the deploy; disabled again ({REASON})"]


def test_a_deploy_of_a_pipeline_not_halted_reads_its_stages_once(default_synth):
    world = World(HALT_PERMISSIONS)
    assembly = CloudAssembly.read(default_synth.outdir)
    pipeline_of(world, assembly, [stage("Source"), stage("Build")])
    keep_halt(assembly, world.aws(), lambda _: None)()
    world.assert_done()


def test_a_stage_the_deploy_removed_while_halted_fails_the_deploy_saying_halt_again(default_synth):
    world = World(HALT_PERMISSIONS)
    assembly = CloudAssembly.read(default_synth.outdir)
    name, region = pipeline_of(world, assembly, [stage("Source"), stage("Build", OURS)])
    world.expect(
        "codepipeline", region, "get_pipeline_state", {"stageStates": [stage("Source")]}, {"name": name}
    )
    again = keep_halt(assembly, world.aws(), lambda _: None)
    with pytest.raises(
        OperatorError, match=r"^the pipeline was halted before Build, which the deploy removed"
    ):
        again()
    world.assert_done()
