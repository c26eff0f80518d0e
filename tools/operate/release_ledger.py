"""make status's release ledger: each of the pipeline's last executions with its image and each region's outcome.

The image is the digest the build exported (``IMAGE_DIGEST``, the build action's output variable: the
pipeline region's repository's); each region's outcome is read from its deploy action's newest attempt in
that execution (CodePipeline's ListActionExecutions):

- ``succeeded``: its action succeeded and so did its stage;
- ``failed``: its action failed, and the stage rolled it back with every region of the stage;
- ``rolled back``: its action succeeded, but another region of its stage failed, so the stage rolled it back
  (OnFailure: ROLLBACK);
- ``deploying`` or ``not reached`` (the execution ended, or has not come, before its stage).
"""

from __future__ import annotations

from collections.abc import Sequence

from tools.operate.patient_aws import Aws

DIGEST_VARIABLE = "IMAGE_DIGEST"


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
    return max(mine, key=lambda d: d.get("startTime") or 0) if mine else None


def outcomes(details: list[dict], deploys: Sequence[tuple[str, str, str]]) -> list[str]:
    """``<label> <outcome>`` for each deploy action (stage, action name, label)."""
    failed_stages = {
        stage
        for stage, action, _ in deploys
        if (newest(details, stage, action) or {}).get("status") == "Failed"
    }
    found = []
    for stage, action, label in deploys:
        status = (newest(details, stage, action) or {}).get("status")
        if status is None:
            outcome = "not reached"
        elif status == "Succeeded":
            outcome = "rolled back" if stage in failed_stages else "succeeded"
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
    else:
        build = newest(details, "Build", "Build") or {}
        digest = build.get("output", {}).get("outputVariables", {}).get(DIGEST_VARIABLE)
        image = f"image {digest[:19]}" if digest else "no image yet"
    return f"        {image}; {', '.join(outcomes(details, deploys))}"
