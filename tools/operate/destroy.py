"""Destroy: delete the pipeline stack, then every regional stack in parallel; list what was kept.

    python tools/operate/destroy.py [cdk.out] [--force]

It refuses while a pipeline execution is in progress (the deletion would race
the deployments it runs). After a confirmation (typing the app's name;
``--force`` skips it, and is required when not run from a terminal) it
deletes the stacks in waves, each stack after those that depend on it (the
pipeline stack first, then every regional stack, staging too, at once).
Before deleting a stack it turns off the deletion protection this project
sets (tools/operate/deletion_protection.py), and turns it back on if CloudFormation
refuses the deletion. A stack that is busy (an update in progress) is left
alone; one already being deleted is waited for; one whose deletion failed
is deleted again. It names every failure, then lists what the deleted stacks
keep (tools/operate/kept_resources.py) with the command that deletes each. The CDK
bootstrap stacks are left alone. Without credentials, or with the
placeholder account, it refuses with one line.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Callable, Mapping
from dataclasses import asdict, replace
from pathlib import Path

if __package__ in (None, ""):  # run as a script: make the repository root importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from botocore.exceptions import ClientError

from tools.cloud_assembly import CloudAssembly, StackArtifact
from tools.operate import kept_resources
from tools.operate.accounts import PROFILES_VARIABLE, operator_aws, parse_profiles
from tools.operate.cdk_commands import (
    OperatorError,
    one_line_errors,
    ready_assembly,
)
from tools.operate.deletion_protection import Protected, turn_off, turn_on
from tools.operate.patient_aws import Aws
from tools.operate.regional_state import StackResources, last_deployment, stack_state
from tools.operate.release_ledger import RUNNING_PIPELINE

POLL_SECONDS = 15
# Deployment statuses of CodeDeploy and of ECS service deployments that have not ended.
IN_FLIGHT = (
    *("Created", "Queued", "InProgress", "Baking", "Ready"),
    *("PENDING", "IN_PROGRESS", "STOP_REQUESTED", "ROLLBACK_REQUESTED", "ROLLBACK_IN_PROGRESS"),
)

# Every AWS call the command makes, as IAM actions (the tests refuse any other; docs/operating.md lists them).
PERMISSIONS = (
    "cloudformation:DeleteStack",
    "cloudformation:DescribeStacks",
    "cloudformation:ListStackResources",
    "codedeploy:GetDeploymentGroup",
    "codepipeline:ListPipelineExecutions",
    "ecr:ListImages",
    "ecs:ListServiceDeployments",
    "elasticloadbalancing:ModifyLoadBalancerAttributes",
    "logs:DescribeLogGroups",
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
        profiles: Mapping[str, str] | None = None,
    ) -> None:
        self.assembly, self.aws, self.say, self.poll_seconds = assembly, aws, say, poll_seconds
        self.profiles = dict(profiles or {})  # ACCOUNT_PROFILES: named in what the kept list says to run
        self.deleted: set[str] = set()
        self.kept_items: list[kept_resources.Kept] = []  # what the last run kept

    def on(self, stack: StackArtifact) -> Aws:
        """The calls into ``stack``'s account."""
        return self.aws.of(stack.account)

    def deployed(self) -> dict[str, StackResources]:
        """Every deployed stack of the app, by name, with its resources (stacks not deployed are left out)."""
        found = {}
        for stack in self.assembly.deploy_order():
            resources = StackResources.deployed(self.on(stack), stack)
            if resources is not None:
                found[stack.name] = resources
        return found

    def refuse_during_a_release(self, deployed: dict[str, StackResources]) -> None:
        """A release in flight would race the deletion of the services it deploys: let it end first."""
        stack, _ = self.assembly.pipeline()
        pipeline = deployed[stack.name].named("AWS::CodePipeline::Pipeline") if stack.name in deployed else ()
        if pipeline:
            executions = self.on(stack).call(
                "codepipeline",
                stack.region,
                "list_pipeline_executions",
                pipelineName=pipeline[0],
                maxResults=10,
            )["pipelineExecutionSummaries"]
            running = [e["pipelineExecutionId"] for e in executions if e["status"] in RUNNING_PIPELINE]
            if running:
                raise OperatorError(
                    f"{pipeline[0]} is releasing ({', '.join(running)}); let it end, or stop it with aws codepipeline "
                    f"stop-pipeline-execution --region {stack.region} --pipeline-name {pipeline[0]} "
                    f"--pipeline-execution-id {running[0]} (without --abandon, which leaves its deployments "
                    "running), then run the command again"
                )
        for resources in deployed.values():
            if resources.named("AWS::ECS::Service"):
                last = last_deployment(self.on(resources.stack), resources)
                if last.status in IN_FLIGHT:
                    raise OperatorError(
                        f"{resources.stack.name} ({resources.stack.region}) is deploying ({last.identifier}, "
                        f"{last.status}); let it end, then run the command again"
                    )

    def start_deletion(self, stack: StackArtifact, resources: StackResources) -> tuple[str, list[Protected]]:
        """Delete one stack, protection off first; '' when under way, else one line saying why not."""
        aws = self.on(stack)
        state, _ = stack_state(aws, stack)
        where = f"{stack.name} ({stack.region})"
        if state == "DELETE_COMPLETE":
            return "", []
        if state.endswith("_IN_PROGRESS") and state not in ("DELETE_IN_PROGRESS", "REVIEW_IN_PROGRESS"):
            return f"{where} is {state}; let it end, then run the command again", []
        protected: list[Protected] = []
        if state != "DELETE_IN_PROGRESS":
            try:
                protected = turn_off(aws, stack, resources.physical)
            except (OperatorError, ClientError) as error:
                return f"{where}: {error}", []
            for item in protected:
                self.say(f"    {stack.name}: {item.describe()}: deletion protection off")
            try:
                aws.call("cloudformation", stack.region, "delete_stack", StackName=stack.name)
            except ClientError as error:
                return f"{where}: {error} ({self.restore(aws, protected)})", []
        self.say(f"==> deleting {where}")
        return "", protected

    @staticmethod
    def restore(aws: Aws, protected: list[Protected]) -> str:
        """Protection back on for a stack that stays (``aws``: its account's calls); says whether it is."""
        try:
            turn_on(aws, protected)
        except (OperatorError, ClientError) as error:
            off = ", ".join(p.describe() for p in protected)
            return f"deletion protection NOT restored on {off}: {error}; turn it back on by hand"
        return "deletion protection restored" if protected else "nothing was changed"

    def delete_wave(self, wave: list[StackArtifact], deployed: dict[str, StackResources]) -> list[str]:
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
                state, reason = stack_state(self.on(stack), stack)
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

    def kept(self, deployed: dict[str, StackResources]) -> list[kept_resources.Kept]:
        """What the deleted stacks (only those) keep, also what an earlier, failed deletion removed."""
        found = []
        for stack in self.assembly.deploy_order():
            if stack.name in self.deleted:
                every = {**deployed[stack.name].deleted, **deployed[stack.name].physical}
                kept = [
                    item
                    for kind, name, properties in kept_resources.kept_by(stack, every)
                    for item in kept_resources.describe(self.on(stack), stack.region, kind, name, properties)
                ]
                found += self._in_its_account(
                    stack, kept + kept_resources.service_made(self.on(stack), stack, every)
                )
        return found

    def _in_its_account(
        self, stack: StackArtifact, kept: list[kept_resources.Kept]
    ) -> list[kept_resources.Kept]:
        """For an app in several accounts: each item names its account, and its command the account's profile."""
        if len({s.account for s in self.assembly.stacks.values()}) == 1:
            return kept
        profile = self.profiles.get(stack.account)
        return [
            replace(
                item,
                account=stack.account,
                command=f"{item.command} --profile {profile}" if item.command and profile else item.command,
            )
            for item in kept
        ]

    def run(self, confirm: Callable[[str, list[str]], bool]) -> int:
        deployed = self.deployed()
        if not deployed:
            self.say("==> nothing to delete: no stack of this app is deployed")
            return 0
        self.refuse_during_a_release(deployed)
        waves = deletion_waves(self.assembly)
        names = [s.name for wave in waves for s in wave if s.name in deployed]
        app = self.assembly.pipeline()[0].name.removesuffix("-pipeline")
        if not confirm(app, names):
            raise OperatorError("not confirmed; nothing was deleted")
        failures = []
        for wave in waves:
            failures += self.delete_wave(wave, deployed)
            if failures:
                break  # a stack that others depended on is still there; later waves would fail on it
        for line in failures:
            self.say(f"failed: {line}")
        kept = self.kept_items = self.kept(deployed)
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
    parser.add_argument("--kept-json", type=Path, help="also write what is kept to this file, as JSON")
    args = parser.parse_args(argv)

    def destroy() -> int:
        assembly = ready_assembly(args.assembly)
        command = Destroy(
            assembly,
            operator_aws(assembly, os.environ),
            profiles=parse_profiles(os.environ.get(PROFILES_VARIABLE)),
        )
        status = command.run((lambda *_: True) if args.force else ask)
        if args.kept_json:
            args.kept_json.write_text(json.dumps([asdict(item) for item in command.kept_items], indent=2))
        return status

    return one_line_errors(destroy)


if __name__ == "__main__":
    sys.exit(main())
