"""`make halt` and `make resume`: stop releases from entering the next stage, and let them go on.

    python tools/operate/halt.py halt [cdk.out] [--reason TEXT]
    python tools/operate/halt.py resume [cdk.out]

``halt`` disables the inbound transition of every stage after the source (CodePipeline's
DisableStageTransition), with the reason ``make halt - <REASON>``: no execution enters another stage,
and a new release stops after its source. A stage already running carries on to its end (a disabled
transition stops entry to a stage only; a deployment under way is not stopped), and the command names each.
``resume`` enables the transitions ``make halt`` disabled, and names any other disabled one, which it leaves
alone. ``make status`` shows a halted pipeline and why. Without credentials, or with the placeholder account,
either refuses with one line.
"""

from __future__ import annotations

import argparse
import os
import re
import sys
from collections.abc import Callable
from pathlib import Path

import botocore.session

if __package__ in (None, ""):  # run as a script: make the repository root importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from tools.cloud_assembly import CloudAssembly
from tools.operate.accounts import operator_aws
from tools.operate.aws_access import utc_minute
from tools.operate.cdk_commands import OperatorError, one_line_errors, ready_assembly
from tools.operate.patient_aws import Aws
from tools.operate.regional_state import StackResources

# Every AWS call the commands make, as IAM actions (the tests refuse any other; docs/operating.md lists them).
HALT_PERMISSIONS = (
    "cloudformation:ListStackResources",
    "codepipeline:DisableStageTransition",
    "codepipeline:GetPipelineState",
)
RESUME_PERMISSIONS = (
    "cloudformation:ListStackResources",
    "codepipeline:EnableStageTransition",
    "codepipeline:GetPipelineState",
)
PERMISSIONS = tuple(sorted({*HALT_PERMISSIONS, *RESUME_PERMISSIONS}))
# CodePipeline's DisabledReason, as botocore's model of DisableStageTransition gives it (1-300 characters of
# a set), less what the marker takes.
MARKER = "make halt"
_REASON = (
    botocore.session.get_session()
    .get_service_model("codepipeline")
    .operation_model("DisableStageTransition")
    .input_shape.members["reason"]
)
REASON_TEXT = re.compile(f"^{_REASON.metadata['pattern']}$")
MAX_REASON = _REASON.metadata["max"] - len(f"{MARKER} - ")


def disabled_reason(reason: str | None) -> str:
    """What the disabled transitions say: ``make halt``, and the operator's reason if given (checked)."""
    if not reason:
        return MARKER
    if len(reason) > MAX_REASON or not REASON_TEXT.fullmatch(reason):
        other = next((c for c in reason if not REASON_TEXT.fullmatch(c)), None)
        why = f"{other!r} is not among its characters" if other else f"it has {len(reason)} characters"
        raise OperatorError(
            f"REASON: {reason!r} is not allowed ({why}); expected at most {MAX_REASON} letters, digits, spaces "
            "and ! @ ( ) . * ? - (what CodePipeline keeps as a disabled transition's reason)"
        )
    return f"{MARKER} - {reason}"


def closed(state: dict) -> bool:
    """Whether a stage's inbound transition is disabled (GetPipelineState's ``stageStates`` entry)."""
    return not state.get("inboundTransitionState", {}).get("enabled", True)


def reason_of(state: dict) -> str:
    return state.get("inboundTransitionState", {}).get("disabledReason", "no reason given")


def halted_by_us(state: dict) -> bool:
    return closed(state) and reason_of(state).startswith(MARKER)


class PipelineNotDeployedError(OperatorError):
    """The pipeline's stack is not deployed."""


class Halt:
    """The pipeline of ``assembly``, halted or resumed through ``aws``; what happened said through ``say``."""

    def __init__(self, assembly: CloudAssembly, aws: Aws, say: Callable[[str], None] = print) -> None:
        self.stack = assembly.pipeline()[0]
        self.aws, self.say = aws.of(self.stack.account), say
        resources = StackResources.deployed(self.aws, self.stack)
        if resources is None:
            raise PipelineNotDeployedError(
                f"the pipeline stack {self.stack.name} is not deployed in {self.stack.region}; nothing to halt"
            )
        self.pipeline = resources.one("AWS::CodePipeline::Pipeline")

    def stages(self) -> list[dict]:
        return self.aws.call("codepipeline", self.stack.region, "get_pipeline_state", name=self.pipeline)[
            "stageStates"
        ]

    def transition(self, operation: str, stage: str, **reason: str) -> None:
        self.aws.call(
            "codepipeline",
            self.stack.region,
            operation,
            pipelineName=self.pipeline,
            stageName=stage,
            transitionType="Inbound",
            **reason,
        )

    def halt(self, reason: str | None) -> int:
        text = disabled_reason(reason)
        stages = self.stages()
        newly = 0
        for state in stages[1:]:
            if closed(state):  # left as it is, with its own reason: a halt never rewrites another one's
                self.say(f"    {state['stageName']}: already disabled ({reason_of(state)})")
                continue
            self.transition("disable_stage_transition", state["stageName"], reason=text)
            newly += 1
            self.say(f"    {state['stageName']}: no release enters it now")
        if newly:
            self.say(f"==> {self.pipeline} halted: {text}")
        else:
            self.say(f"==> {self.pipeline} was halted already; each transition keeps the reason above")
        for here, after in zip(stages, [*stages[1:], None], strict=True):
            latest = here.get("latestExecution", {})
            if latest.get("status") == "InProgress":
                stops = f"; nothing enters {after['stageName']} after it" if after else ""
                self.say(
                    f"    {here['stageName']} is running execution {latest['pipelineExecutionId']}: it carries on "
                    f"to its end (a halt stops entry to a stage, not a deployment under way){stops}"
                )
        self.say("    make resume lets releases go on")
        return 0

    def resume(self) -> int:
        enabled, still_closed = 0, []
        for state in self.stages():
            if not closed(state):
                continue
            if halted_by_us(state):
                self.transition("enable_stage_transition", state["stageName"])
                enabled += 1
                self.say(f"    {state['stageName']}: releases enter it again")
            else:
                still_closed.append(state["stageName"])
                self.say(
                    f"    {state['stageName']}: left disabled, not by make halt "
                    f"({reason_of(state)}); aws codepipeline "
                    f"enable-stage-transition --region {self.stack.region} --pipeline-name {self.pipeline} "
                    f"--stage-name {state['stageName']} --transition-type Inbound enables it"
                )
        if not enabled:
            self.say(f"==> {self.pipeline} was not halted by make halt: nothing to resume")
            return 0
        if still_closed:
            self.say(
                f"==> {self.pipeline} resumed where make halt had halted it; no release enters "
                f"{', '.join(still_closed)} until that transition is enabled"
            )
        else:
            self.say(f"==> {self.pipeline} resumed: releases enter the stages again")
        return 0


def keep_halt(
    assembly: CloudAssembly, aws: Aws | None = None, say: Callable[[str], None] = print
) -> Callable[[], None]:
    """For make deploy: the pipeline's disabled transitions before the deploy, and what disables them again
    after it if the deploy enabled them. AWS does not document whether a CloudFormation update of the
    pipeline (whose template names no disabled transition) leaves them disabled; nothing here relies on it."""
    try:
        pipeline = Halt(assembly, aws or operator_aws(assembly, os.environ), say)
    except PipelineNotDeployedError:  # the first deploy: nothing can be halted yet
        return lambda: None
    before = {s["stageName"]: reason_of(s) for s in pipeline.stages() if closed(s)}

    def again() -> None:
        if not before:
            return
        now = {s["stageName"]: s for s in pipeline.stages()}
        for stage, reason in before.items():
            if stage in now and not closed(now[stage]):
                pipeline.transition("disable_stage_transition", stage, reason=reason)
                say(f"==> {stage}: its transition was enabled by the deploy; disabled again ({reason})")
        gone = [stage for stage in before if stage not in now]
        if gone:
            raise OperatorError(
                f"the pipeline was halted before {', '.join(gone)}, which the deploy removed; the pipeline may no "
                "longer be halted: run make halt again"
            )

    return again


def halt_lines(stages: list[dict]) -> list[str]:
    """For make status: each disabled transition, and whether make halt disabled it."""
    lines = []
    for state in filter(closed, stages):
        transition = state["inboundTransitionState"]
        when = transition.get("lastChangedAt")
        by = transition.get("lastChangedBy")
        changed = ", ".join(filter(None, (f"by {by}" if by else "", utc_minute(when) if when else "")))
        lines.append(
            f"    halted before {state['stageName']}: {reason_of(state)}{f' ({changed})' if changed else ''}"
            + ("; make resume lets releases go on" if halted_by_us(state) else "")
        )
    return lines


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("action", choices=("halt", "resume"))
    parser.add_argument("assembly", nargs="?", default="cdk.out")
    parser.add_argument("--reason", help="why (make halt REASON=...): letters, digits, spaces, !@().*?-")
    args = parser.parse_args(argv)

    def run() -> int:
        if args.action == "halt":
            disabled_reason(args.reason)  # a bad REASON is refused before anything is read
        assembly = ready_assembly(args.assembly)
        command = Halt(assembly, operator_aws(assembly, os.environ))
        return command.halt(args.reason) if args.action == "halt" else command.resume()

    return one_line_errors(run)


if __name__ == "__main__":
    sys.exit(main())
