"""integ_window's post-deploy hook: a release waits at a closed deployment window, then an override lets it in.

    .venv/bin/python tests/integ/window_hold.py ASSEMBLY

It releases the sample through ``make release`` (tools/operate/release.py) and, once that execution's
DeploymentWindow rule is in progress at the windowed stage's entry (ListRuleExecutions), checks for
HOLD_MINUTES that the rule stays in progress, that no action of the stage starts and that the execution stays
in progress: a wait until the window opens, not a failure. It then overrides the stage's entry condition
(OverrideStageCondition, BEFORE_ENTRY), checks that GetPipelineState calls it Overridden, and exits 0 only
when the release then succeeds.
"""

from __future__ import annotations

import os
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from hooks import await_during, start_release  # noqa: E402

from tools.operate.accounts import operator_aws  # noqa: E402 (after the repository root is importable)
from tools.operate.cdk_commands import ready_assembly  # noqa: E402
from tools.operate.regional_state import StackResources  # noqa: E402
from tools.operate.release_ledger import attempts  # noqa: E402
from tools.operate.release_progress import RegionProgress  # noqa: E402
from tools.operate.window_waits import window_rows  # noqa: E402
from tools.plan.release_plan import plan_of  # noqa: E402

WAIT_SECONDS = 60 * 60  # for the build and the first wave to reach the window
HOLD_MINUTES = 10
POLL_SECONDS = 15
CLOCK_SKEW = timedelta(minutes=2)


def newest_execution(aws, region: str, pipeline: str, since: datetime) -> str | None:
    """The newest execution started since ``since`` (less two minutes for this machine's clock): the test's
    pipeline is its own, so the release's."""
    executions = aws.call(
        "codepipeline", region, "list_pipeline_executions", pipelineName=pipeline, maxResults=5
    )
    started = [e for e in executions["pipelineExecutionSummaries"] if e["startTime"] >= since - CLOCK_SKEW]
    return max(started, key=lambda e: e["startTime"])["pipelineExecutionId"] if started else None


def entry_status(aws, region: str, pipeline: str, stage: str) -> str:
    """The stage's entry condition's status (GetPipelineState): InProgress, Overridden, Succeeded, ..."""
    states = aws.call("codepipeline", region, "get_pipeline_state", name=pipeline)["stageStates"]
    (state,) = [s for s in states if s["stageName"] == stage]
    return state.get("beforeEntryConditionState", {}).get("latestExecution", {}).get("status", "")


def main(argv: list[str]) -> int:
    directory = argv[0]
    assembly = ready_assembly(directory)
    plan = plan_of(assembly)
    (stage,) = [s.name for s in plan.stages if s.window]
    aws = operator_aws(assembly, os.environ).of(plan.pipeline_stack.account)
    region = plan.pipeline_stack.region
    pipeline = StackResources.read(aws, plan.pipeline_stack).one("AWS::CodePipeline::Pipeline")
    since = datetime.now(UTC)
    release = start_release(directory)
    execution = None

    def waiting() -> RegionProgress | None:
        nonlocal execution
        execution = execution or newest_execution(aws, region, pipeline, since)
        row = (
            window_rows(aws, region, pipeline, execution, datetime.now(UTC)).get(stage) if execution else None
        )
        return row if row is not None and row.status == "InProgress" else None

    missing = f"the release never waited at {stage}'s entry for its window"
    if await_during(release, waiting, seconds=WAIT_SECONDS, poll=POLL_SECONDS, missing=missing) is None:
        return 1
    for _ in range(HOLD_MINUTES * 60 // POLL_SECONDS):
        time.sleep(POLL_SECONDS)
        row = window_rows(aws, region, pipeline, execution, datetime.now(UTC))[stage]
        status = aws.call(
            "codepipeline",
            region,
            "get_pipeline_execution",
            pipelineName=pipeline,
            pipelineExecutionId=execution,
        )["pipelineExecution"]["status"]
        entered = [a for a in attempts(aws, region, pipeline, execution) if a["stageName"] == stage]
        if row.status != "InProgress" or status != "InProgress" or entered:
            release.kill()
            print(
                f"!!! a closed window did not hold the release: rule {row.status} ({row.detail}), execution "
                f"{status}, {len(entered)} action(s) of {stage} started"
            )
            return 1
    print(f"==> the release waited {HOLD_MINUTES} minutes at {stage}'s entry; overriding its entry condition")
    aws.call(
        "codepipeline",
        region,
        "override_stage_condition",
        pipelineName=pipeline,
        stageName=stage,
        pipelineExecutionId=execution,
        conditionType="BEFORE_ENTRY",
    )
    for _ in range(8):
        time.sleep(POLL_SECONDS)
        if entry_status(aws, region, pipeline, stage) == "Overridden":
            break
    else:
        release.kill()
        print(f"!!! {stage}'s entry condition is not Overridden after the override")
        return 1
    out = release.communicate()[0]
    print(out)
    return release.returncode


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
