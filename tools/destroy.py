"""Destroy: delete the pipeline stack, then every regional stack in parallel; list what was kept.

    python tools/destroy.py [cdk.out] [--force]

It refuses while a pipeline execution is in progress (the deletion would race
the deployments it runs). After a confirmation (typing the app's name;
``--force`` skips it, and is required when not run from a terminal) it
deletes the stacks in waves, each stack after those that depend on it (the
pipeline stack first, then every regional stack, staging too, at once).
Before deleting a stack it turns off the deletion protection this project
sets (tools/deletion_protection.py), and turns it back on if CloudFormation
refuses the deletion. A stack that is busy (an update in progress) is left
alone; one already being deleted is waited for; one whose deletion failed
is deleted again. It names every failure, then lists what the deleted stacks
keep (tools/kept_resources.py) with the command that deletes each. The CDK
bootstrap stacks are left alone. Without credentials, or with the
placeholder account, it refuses with one line.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from pathlib import Path

if __package__ in (None, ""):  # run as a script: make the repository root importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from botocore.exceptions import ClientError

from tools import kept_resources
from tools.cloud_assembly import CloudAssembly, StackArtifact
from tools.deletion_protection import Protected, turn_off, turn_on
from tools.operate import OperatorError, aws_client, one_line_errors, ready_assembly
from tools.patient_aws import Aws, error_code
from tools.regional_state import StackResources, pipeline_stack

POLL_SECONDS = 15

# Every AWS call the command makes, as IAM actions (the tests refuse any other; README lists them).
PERMISSIONS = (
    "cloudformation:DeleteStack",
    "cloudformation:DescribeStacks",
    "cloudformation:ListStackResources",
    "codepipeline:ListPipelineExecutions",
    "ecr:ListImages",
    "elasticloadbalancing:ModifyLoadBalancerAttributes",
    "rds:DescribeDBClusterSnapshots",
    "rds:DescribeDBClusters",
    "rds:ModifyDBCluster",
)


def deletion_waves(assembly: CloudAssembly) -> list[list[StackArtifact]]:
    """The stacks in the order they can be deleted: each wave after every stack that depends on it."""
    stacks = assembly.deploy_order()
    dependents = {s.artifact_id: [d for d in stacks if s.artifact_id in d.dependencies] for s in stacks}
    level: dict[str, int] = {}
    for stack in reversed(stacks):  # dependents come later in deploy order, so they are levelled first
        level[stack.artifact_id] = 1 + max(
            (level[d.artifact_id] for d in dependents[stack.artifact_id]), default=-1
        )
    return [
        sorted((s for s in stacks if level[s.artifact_id] == n), key=lambda s: s.name)
        for n in range(max(level.values()) + 1)
    ]


class Destroy:
    """One teardown, against botocore clients made by ``aws`` (so it can be tested with Stubbers)."""

    def __init__(
        self,
        assembly: CloudAssembly,
        aws: Aws,
        *,
        say: Callable[[str], None] = print,
        poll_seconds: float = POLL_SECONDS,
    ) -> None:
        self.assembly, self.aws, self.say, self.poll_seconds = assembly, aws, say, poll_seconds
        self.deleted: set[str] = set()

    def deployed(self) -> dict[str, dict[str, str]]:
        """Physical IDs by logical ID of every deployed stack of the app (stacks not deployed are left out)."""
        found = {}
        for stack in self.assembly.deploy_order():
            resources = StackResources.deployed(self.aws, stack)
            if resources is not None:
                found[stack.name] = resources.physical
        return found

    def refuse_during_a_release(self, deployed: dict[str, dict[str, str]]) -> None:
        """A release in flight would race the deletion of the services it deploys: stop it or let it end."""
        stack = pipeline_stack(self.assembly.stacks.values())
        if stack.name not in deployed:
            return
        (pipeline_id,) = stack.of_type("AWS::CodePipeline::Pipeline")
        pipeline = deployed[stack.name].get(pipeline_id)
        if pipeline is None:
            return
        executions = self.aws.call(
            "codepipeline", stack.region, "list_pipeline_executions", pipelineName=pipeline, maxResults=10
        )["pipelineExecutionSummaries"]
        running = [e["pipelineExecutionId"] for e in executions if e["status"] in ("InProgress", "Stopping")]
        if running:
            raise OperatorError(
                f"{pipeline} is releasing ({', '.join(running)}); let it end, or stop it with aws codepipeline "
                f"stop-pipeline-execution --region {stack.region} --pipeline-name {pipeline} --pipeline-execution-id "
                f"{running[0]} --abandon, then run the command again"
            )

    def start_deletion(self, stack: StackArtifact, resources: dict[str, str]) -> tuple[str, list[Protected]]:
        """Delete one stack, protection off first; '' when under way, else one line saying why not."""
        state, _ = self.stack_state(stack)
        if state == "DELETE_COMPLETE":
            return "", []
        if state.endswith("_IN_PROGRESS") and state != "DELETE_IN_PROGRESS":
            return f"{stack.name} ({stack.region}) is {state}; let it end, then run the command again", []
        protected = [] if state == "DELETE_IN_PROGRESS" else turn_off(self.aws, stack, resources)
        for item in protected:
            self.say(f"    {stack.name}: {item.describe()}: deletion protection off")
        if state != "DELETE_IN_PROGRESS":
            try:
                self.aws.call("cloudformation", stack.region, "delete_stack", StackName=stack.name)
            except ClientError as error:
                turn_on(self.aws, protected)  # the stack stays: so does its protection
                return f"{stack.name} ({stack.region}): {error} (deletion protection restored)", []
        self.say(f"==> deleting {stack.name} ({stack.region})")
        return "", protected

    def delete_wave(self, wave: list[StackArtifact], deployed: dict[str, dict[str, str]]) -> list[str]:
        """Delete the wave's deployed stacks at once; return one line per stack that failed."""
        failures, pending, protected = [], [], {}
        for stack in (s for s in wave if s.name in deployed):
            failure, protected[stack.name] = self.start_deletion(stack, deployed[stack.name])
            if failure:
                failures.append(failure)
            else:
                pending.append(stack)
        while pending:
            self.aws.sleep(self.poll_seconds)
            still = []
            for stack in pending:
                state, reason = self.stack_state(stack)
                if state == "DELETE_COMPLETE":
                    self.deleted.add(stack.name)
                    self.say(f"    {stack.name}: deleted")
                elif state == "DELETE_FAILED":
                    off = ", ".join(p.describe() for p in protected[stack.name])
                    failures.append(
                        f"{stack.name} ({stack.region}): DELETE_FAILED: {reason}"
                        + (f"; deletion protection is OFF on {off}: run make destroy again" if off else "")
                    )
                else:
                    still.append(stack)
            pending = still
        return failures

    def stack_state(self, stack: StackArtifact) -> tuple[str, str]:
        try:
            (described,) = self.aws.call(
                "cloudformation", stack.region, "describe_stacks", StackName=stack.name
            )["Stacks"]
        except ClientError as error:
            if error_code(error) == "ValidationError" and "does not exist" in str(error):
                return "DELETE_COMPLETE", ""
            raise
        return described["StackStatus"], described.get("StackStatusReason", "")

    def kept(self, deployed: dict[str, dict[str, str]]) -> list[kept_resources.Kept]:
        """What the deleted stacks (only those) keep."""
        found = []
        for stack in self.assembly.deploy_order():
            if stack.name in self.deleted:
                for kind, name in kept_resources.kept_by(stack, deployed[stack.name]):
                    found += kept_resources.describe(self.aws, stack.region, kind, name)
        return found

    def run(self, confirm: Callable[[str, list[str]], bool]) -> int:
        deployed = self.deployed()
        if not deployed:
            self.say("==> nothing to delete: no stack of this app is deployed")
            return 0
        self.refuse_during_a_release(deployed)
        waves = deletion_waves(self.assembly)
        names = [s.name for wave in waves for s in wave if s.name in deployed]
        app = pipeline_stack(self.assembly.stacks.values()).name.removesuffix("-pipeline")
        if not confirm(app, names):
            raise OperatorError("not confirmed; nothing was deleted")
        failures = []
        for wave in waves:
            failures += self.delete_wave(wave, deployed)
            if failures:
                break  # a stack that others depended on is still there; later waves would fail on it
        for line in failures:
            self.say(f"failed: {line}")
        kept = self.kept(deployed)
        if kept:
            self.say(f"==> kept ({len(kept)}): delete what you no longer need")
            for item in kept:
                for line in item.lines():
                    self.say(line)
        return 1 if failures else 0


def ask(app: str, names: list[str]) -> bool:
    if not sys.stdin.isatty():
        raise OperatorError("confirm with --force (FORCE=1 for make) when not run from a terminal")
    print(f"This deletes {len(names)} stack(s): {', '.join(names)}")
    return input(f"Type the app's name ({app}) to delete them: ").strip() == app


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("assembly", nargs="?", default="cdk.out")
    parser.add_argument("--force", action="store_true", help="do not ask for confirmation")
    args = parser.parse_args(argv)
    return one_line_errors(
        lambda: Destroy(ready_assembly(args.assembly), Aws(aws_client)).run(
            (lambda *_: True) if args.force else ask
        )
    )


if __name__ == "__main__":
    sys.exit(main())
