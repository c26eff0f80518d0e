"""A release held at a stage's entry by its deployment window: the rows ``make release`` follows, the lines
``make status`` shows.

The pipeline gives a wave's stage a deployment window as its entry condition (CodePipeline's DeploymentWindow
rule: constructs/pipeline/release_pipeline.py). While an execution waits there, the rule's execution is in
progress (ListRuleExecutions) and the stage's entry condition is too (GetPipelineState's
``beforeEntryConditionState``); when the window opens is this project's reading of the rule's cron expression
and time zone (constructs/settings/deployment_windows.py).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from constructs.settings.deployment_windows import RULE_PROVIDER, DeploymentWindow, window_of
from tools.operate.patient_aws import Aws
from tools.operate.release_progress import RegionProgress
from tools.plan.plan_model import Stage

# What following an execution through its windows calls, as IAM actions.
WINDOW_PERMISSIONS = ("codepipeline:ListRuleExecutions",)


def window_rows(
    aws: Aws, region: str, pipeline: str, execution_id: str, now: datetime
) -> dict[str, RegionProgress]:
    """A row per stage whose deployment window holds (or held) the execution at its entry, by stage name."""
    details = aws.pages(
        "codepipeline",
        region,
        "list_rule_executions",
        "ruleExecutionDetails",
        "nextToken",
        pipelineName=pipeline,
        filter={"pipelineExecutionId": execution_id},
    )
    newest: dict[str, dict] = {}
    for detail in sorted(details, key=lambda d: d["startTime"]):
        if detail.get("input", {}).get("ruleTypeId", {}).get("provider") == RULE_PROVIDER:
            newest[detail["stageName"]] = detail
    return {stage: _row(detail, now) for stage, detail in newest.items()}


def _row(detail: dict, now: datetime) -> RegionProgress:
    stage, status = detail["stageName"], detail["status"]
    row = RegionProgress(label=f"{stage} entry", region="", stage=stage, status=status)
    window = window_of(detail["input"].get("configuration", {}))
    shown = f"its deployment window, {window}" if window else "its deployment window"
    if status == "InProgress":
        row.step = f"waiting for {shown}"
        row.until = window.opens_at(now) if window else None
    elif status == "Succeeded":
        row.step = f"entered inside {shown}"
    elif status == "Abandoned":
        row.step = (
            f"stopped waiting for {shown} (the entry condition overridden, the release superseded or stopped)"
        )
    else:
        summary = detail.get("output", {}).get("executionResult", {}).get("externalExecutionSummary", "")
        row.detail = f"{shown} did not let the release in{f': {summary}' if summary else ''}"
    return row


def window_notes(stages: Sequence[Stage], now: datetime) -> list[str]:
    """For ``make release``'s start: each windowed stage and whether its window is open or when it opens."""
    return [
        f"{stage.name} starts only inside {stage.window}: {stage.window.opening(now)}"
        for stage in stages
        if stage.window
    ]


def window_lines(stages: Sequence[Stage], states: Sequence[dict], now: datetime) -> list[str]:
    """For ``make status``: each windowed stage, its window and when it opens, and a release waiting at its
    entry (``states``: GetPipelineState's stage states)."""
    entering = {
        state["stageName"]
        for state in states
        if state.get("beforeEntryConditionState", {}).get("latestExecution", {}).get("status") == "InProgress"
    }
    lines = []
    for stage, note in zip((s for s in stages if s.window), window_notes(stages, now), strict=True):
        lines.append(f"window: {note}")
        if stage.name in entering:
            lines.append(
                f"    ! a release is waiting at its entry for the window {_until(stage.window, now)}"
            )
    return lines


def _until(window: DeploymentWindow, now: datetime) -> str:
    opens = window.opens_at(now)
    return f"(until {opens:%Y-%m-%d %H:%M} UTC)" if opens else "(it does not open within the years looked at)"
