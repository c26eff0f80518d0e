"""make status's release ledger: each of the pipeline's last executions with its image and each region's outcome.

The image is the digest the build exported (``IMAGE_DIGEST``, the build action's output variable: the first
region it pushed to; every region receives the same local image); each region's outcome is read from its
deploy action's newest attempt in that execution (CodePipeline's ListActionExecutions):

- ``succeeded``: its action succeeded and no action of its stage failed;
- ``failed``: its action failed;
- ``stage failed``: its action succeeded, but another action of its stage failed (another region's deploy,
  or the ECS engine's wait), so the stage failed; its automatic rollback, when CodePipeline runs one, is an
  execution of its own (``rollback to <execution>``);
- ``deploying``, ``stopped``, ``abandoned``, or ``not reached`` (the execution ended before its stage).

A rollback execution lists the regions of the stage it rolled back only.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime

from release.prepare_release import EXPORTED_DIGEST
from tools.operate.patient_aws import Aws
from tools.operate.regional_state import short_digest

BUILD = ("Build", "Build")  # the build's stage and action (constructs/pipeline/release_pipeline.py)
_EARLIEST = datetime.min.replace(tzinfo=UTC)
# A pipeline execution still running (a release, or a stage rollback): its deployments may move.
RUNNING_PIPELINE = ("InProgress", "Stopping")


def attempts(aws: Aws, region: str, pipeline: str, execution_id: str) -> list[dict]:
    return aws.pages(
        "codepipeline",
        region,
        "list_action_executions",
        "actionExecutionDetails",
        "nextToken",
        pipelineName=pipeline,
        filter={"pipelineExecutionId": execution_id},
    )


def newest(details: list[dict], stage: str, action: str) -> dict | None:
    mine = [d for d in details if d.get("stageName") == stage and d.get("actionName") == action]
    return max(mine, key=lambda d: d.get("startTime") or _EARLIEST) if mine else None


def exported_digest(details: list[dict], build: dict | None = None) -> str:
    """The image digest the execution's build (found in ``details`` unless given) exported (its first target's),
    or "" before it exported one."""
    build = build if build is not None else newest(details, *BUILD) or {}
    return build.get("output", {}).get("outputVariables", {}).get(EXPORTED_DIGEST, "")


def outcomes(details: list[dict], deploys: Sequence[tuple[str, str, str]]) -> list[str]:
    """``<label> <outcome>`` for each deploy action (stage, action name, label)."""
    actions = {(d.get("stageName"), d.get("actionName")) for d in details}
    failed_stages = {
        stage for stage, action in actions if (newest(details, stage, action) or {}).get("status") == "Failed"
    }
    found = []
    for stage, action, label in deploys:
        status = (newest(details, stage, action) or {}).get("status")
        if status is None:
            outcome = "not reached"
        elif status == "Succeeded":
            outcome = "stage failed" if stage in failed_stages else "succeeded"
        elif status == "InProgress":
            outcome = "deploying"
        else:
            outcome = status.lower()
        found.append(f"{label} {outcome}")
    return found


def ledger_line(aws: Aws, region: str, pipeline: str, execution: dict, deploys) -> str:
    """The second line of an execution in make status: its image and each region's outcome."""
    details = attempts(aws, region, pipeline, execution["pipelineExecutionId"])
    if execution.get("executionType") == "ROLLBACK":
        target = execution.get("rollbackMetadata", {}).get("rollbackTargetPipelineExecutionId", "?")
        image = f"rollback to {target}"
        stages = {d.get("stageName") for d in details}
        deploys = [deploy for deploy in deploys if deploy[0] in stages]
    else:
        build = newest(details, *BUILD) or {}
        digest = exported_digest(details, build)
        if digest:
            image = f"image {short_digest(digest)}"
        elif build.get("status") in ("Failed", "Stopped", "Abandoned"):
            image = f"no image (build {build['status'].lower()})"
        else:
            image = "no image yet"
    return f"        {image}; {', '.join(outcomes(details, deploys))}"
