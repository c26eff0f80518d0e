"""Which release ``make rollback`` returns production to, and which production stages are not on it.

Read from CodePipeline's own history (ListPipelineExecutions without a filter: the ``succeededInStage``
filter returns only executions of the pipeline's current version, so it would hide every release from before
a ``make deploy`` that changed the pipeline):

- each production stage runs the release of its latest execution, or, when that was a rollback, the release
  it rolled back to (GetPipelineState; GetPipelineExecution's ``rollbackMetadata``);
- when every stage runs one release, the target is the newest release that succeeded everywhere (a standard
  execution whose status is Succeeded: it passed every stage) and started before it;
- when the stages run different releases (a later wave failed and rolled back, an earlier one kept the new
  release), the target is the newest release that succeeded everywhere, and only the stages not on it move.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass

from tools.operate.cdk_commands import OperatorError
from tools.operate.patient_aws import Aws
from tools.operate.release_ledger import RUNNING_PIPELINE

PAGE = 100  # ListPipelineExecutions' largest page


@dataclass(frozen=True)
class Choice:
    """The release to return to (its ListPipelineExecutions summary) and the release each stage runs now."""

    target: dict
    running: dict[str, str]  # stage -> pipeline execution ID of the release it runs

    @property
    def target_id(self) -> str:
        return self.target["pipelineExecutionId"]

    @property
    def stages(self) -> list[str]:
        """The stages to roll back, in pipeline order: those not on the target."""
        return [stage for stage, release in self.running.items() if release != self.target_id]

    @property
    def current(self) -> str:
        """The release(s) production runs now, for a sentence."""
        return " and ".join(dict.fromkeys(self.running.values()))


def executions(aws: Aws, region: str, pipeline: str) -> Iterator[list[dict]]:
    """The pipeline's executions, a page at a time (read only as far as needed). ListPipelineExecutions
    documents no order: reading stops early on the order it returns, newest first; ``_decide`` sorts what it
    has read by start time, so an older order costs more pages, not a wrong target within them."""
    token = None
    while True:
        page = aws.call(
            "codepipeline",
            region,
            "list_pipeline_executions",
            pipelineName=pipeline,
            maxResults=PAGE,
            **({"nextToken": token} if token else {}),
        )
        yield page["pipelineExecutionSummaries"]
        token = page.get("nextToken")
        if not token:
            return


def refuse_in_flight(newest: list[dict], region: str, pipeline: str) -> None:
    """A release or a rollback under way (RollbackStage refuses a running stage; a deployment would race it)."""
    busy = next((e for e in newest if e["status"] in RUNNING_PIPELINE), None)
    if busy is None:
        return
    kind = "a rollback" if busy.get("executionType") == "ROLLBACK" else "a release"
    raise OperatorError(
        f"{kind} is in flight ({pipeline} execution {busy['pipelineExecutionId']}, {busy['status']}); roll back "
        "once it has ended (make status shows it), or stop it first with aws codepipeline stop-pipeline-execution "
        f"--region {region} --pipeline-name {pipeline} --pipeline-execution-id {busy['pipelineExecutionId']}"
    )


def running_releases(
    aws: Aws, region: str, pipeline: str, state: dict, stages: Sequence[str]
) -> dict[str, str]:
    """Each of ``stages`` and the release it runs (GetPipelineState's ``stageStates``)."""
    latest = {s["stageName"]: s.get("latestExecution") for s in state["stageStates"]}
    running = {}
    for stage in stages:
        execution = latest.get(stage)
        if execution is None:
            raise OperatorError(f"nothing to roll back: no release has reached {stage} yet")
        if execution.get("type") != "ROLLBACK":
            running[stage] = execution["pipelineExecutionId"]
            continue
        rolled_back = aws.call(
            "codepipeline",
            region,
            "get_pipeline_execution",
            pipelineName=pipeline,
            pipelineExecutionId=execution["pipelineExecutionId"],
        )["pipelineExecution"]
        restored = rolled_back.get("rollbackMetadata", {}).get("rollbackTargetPipelineExecutionId")
        if not restored:
            raise OperatorError(
                f"{stage} runs rollback execution {execution['pipelineExecutionId']}, and CodePipeline does not say "
                "which release it restored; make status shows the images each region serves"
            )
        running[stage] = restored
    return running


def choose(pages: Iterator[list[dict]], first: list[dict], running: dict[str, str]) -> Choice:
    """The release to return to, reading ``first`` and then ``pages`` only until it is known."""
    seen = list(first)
    while True:
        found = _decide(seen, running, complete=False)
        if found is not None:
            return Choice(found, running)
        page = next(pages, None)
        if page is None:
            break
        seen += page
    found = _decide(seen, running, complete=True)
    if found is None:
        raise OperatorError(
            f"nothing to roll back to: no release before {Choice({}, running).current} succeeded in every "
            "production region (CodePipeline keeps 12 months of its executions)"
        )
    return Choice(found, running)


def _decide(seen: list[dict], running: dict[str, str], *, complete: bool) -> dict | None:
    good = sorted(
        (e for e in seen if e.get("executionType", "STANDARD") == "STANDARD" and e["status"] == "Succeeded"),
        key=lambda e: e["startTime"],
        reverse=True,
    )
    releases = set(running.values())
    if len(releases) > 1:  # stages on different releases: return them all to the newest good one
        return good[0] if good else None
    (current,) = releases
    start = next((e["startTime"] for e in seen if e["pipelineExecutionId"] == current), None)
    if start is None:  # not listed (yet): once every page is read, any good release but the current one
        return next((e for e in good if e["pipelineExecutionId"] != current), None) if complete else None
    return next((e for e in good if e["startTime"] < start), None)
