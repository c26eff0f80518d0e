"""Roll back production: every region, or one, to the last release that succeeded everywhere.

    python tools/operate/rollback.py [cdk.out] [--region REGION] [--yes]

The target is the newest standard pipeline execution that succeeded in the last production stage (so in every
production region) and is older than the release production runs now (a rollback execution's target counts
as the release it restored). Before it asks, the command shows per region what runs now and what will run:
task definition revision and image digest, read from the target's own deployment in that region.

- Every region: CodePipeline's RollbackStage on each production stage, to the target. CodePipeline redeploys
  the target's artifacts through the stage's deploy actions, with their hooks and alarms; it rolls back only
  to an execution started in the pipeline's current structure version (a ``make deploy`` that changed the
  pipeline starts a new one), so an older target is refused with one line that names the one-region path.
- One region (``--region``): that region's deployment of the target's task definition revision, with no
  pipeline involved: a CodeDeploy deployment of the target deployment's own revision (its AppSpec, hooks
  included), or, with the ECS engine, UpdateService to that revision. The pipeline still records the newer
  release there; the next release replaces both.

It follows the rollback like ``make release`` and exits 0 only when every region it rolled back serves the
target's image. It refuses, with one line, without credentials or with the placeholder account, when a
release or rollback is in flight, and when there is nothing to roll back to; it asks for confirmation unless
``--yes`` is given.
"""

from __future__ import annotations

import argparse
import os
import re
import sys
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

if __package__ in (None, ""):  # run as a script: make the repository root importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from tools.cloud_assembly import CloudAssembly
from tools.operate.accounts import operator_aws
from tools.operate.aws_access import utc_minute
from tools.operate.break_glass import full_revision, typed, wait_for_deployment
from tools.operate.cdk_commands import OperatorError
from tools.operate.halt import closed, reason_of
from tools.operate.patient_aws import Aws
from tools.operate.regional_state import (
    CODEDEPLOY_GROUP,
    Running,
    StackResources,
    running,
    service_deployments,
    short_digest,
)
from tools.operate.release import FOLLOW_PERMISSIONS, Release, aligned, watched
from tools.operate.release_ledger import attempts, newest
from tools.operate.release_progress import Progress, RegionProgress
from tools.plan.plan_model import PRODUCTION, DeployAction

# Every AWS call the command makes, as IAM actions (the tests refuse any other; docs/operating.md lists them).
PERMISSIONS = tuple(
    sorted(
        {
            *FOLLOW_PERMISSIONS,
            "cloudformation:ListStackResources",
            "codedeploy:CreateDeployment",
            "codedeploy:GetApplicationRevision",
            "codepipeline:GetPipelineState",
            "codepipeline:ListPipelineExecutions",
            "codepipeline:RollbackStage",
            "ecs:DescribeServiceRevisions",
            "ecs:DescribeTaskDefinition",
            "ecs:DescribeTasks",
            "ecs:ListTasks",
            "ecs:UpdateService",
        }
    )
)
IN_FLIGHT = ("InProgress", "Stopping")
ECS_FINISHED = ("SUCCESSFUL", "STOPPED", "ROLLBACK_SUCCESSFUL", "ROLLBACK_FAILED")
POLL_SECONDS = 15
# The task definition's ARN in a CodeDeploy AppSpec (YAML or JSON) once CodePipeline has filled it in.
APPSPEC_TASK_DEFINITION = re.compile(r'TaskDefinition"?\s*:\s*"?(arn:[^"\s,}]+)')


@dataclass(frozen=True)
class TargetRevision:
    """What one region ran for the target release: its task definition and that definition's image digest."""

    task_definition: str  # the ARN
    digest: str
    codedeploy_revision: dict | None = None  # the CodeDeploy revision that deployed it (AppSpec included)

    @property
    def shown(self) -> str:
        return f"{self.task_definition.rsplit('/', 1)[-1]} {short_digest(self.digest)}"


@dataclass(frozen=True)
class Region:
    """One production copy in scope: its deploy action, deployed resources and the calls into its account."""

    action: DeployAction
    resources: StackResources
    aws: Aws

    @property
    def key(self) -> str:
        return f"{self.action.stage}/{self.action.name}"


class Rollback:
    """One rollback, against botocore clients made by ``aws`` (so it can be tested with Stubbers)."""

    def __init__(
        self,
        assembly: CloudAssembly,
        aws: Aws,
        *,
        say: Callable[[str], None] = print,
        confirm: Callable[[str], bool] = lambda _: True,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        poll_seconds: float = POLL_SECONDS,
    ) -> None:
        self.release = Release(assembly, aws, say=say, clock=clock, poll_seconds=poll_seconds)
        self.aws, self.home = self.release.aws, self.release.region
        self.say, self.confirm, self.clock, self.poll_seconds = say, confirm, clock, poll_seconds
        self.production = [a for a in self.release.plan.deploy_actions if a.environment == PRODUCTION]
        self.stages = list(dict.fromkeys(a.stage for a in self.production))

    def scope(self, region: str | None) -> list[DeployAction]:
        if region is None:
            return self.production
        chosen = [a for a in self.production if a.region == region]
        if not chosen:
            regions = ", ".join(a.region for a in self.production)
            raise OperatorError(
                f"REGION={region} is not a production region of this app; expected one of {regions}"
            )
        return chosen

    def run(self, region: str | None, view) -> int:
        actions = self.scope(region)
        pipeline = self.release.pipeline_name()
        state = self.aws.call("codepipeline", self.home, "get_pipeline_state", name=pipeline)
        self.refuse_in_flight(pipeline)
        current = self.current_release(pipeline, state)
        target = self.target(pipeline, current)
        if region is None:
            self.refuse_other_version(pipeline, state, target)
        regions = [self.region_of(action) for action in actions]
        details = attempts(self.aws, self.home, pipeline, target["pipelineExecutionId"])
        revisions = {r.key: self.target_revision(target, details, r) for r in regions}
        self.preview(target, current, regions, revisions, state, one=region)
        if not self.confirm(region or PRODUCTION):
            raise OperatorError("not confirmed; nothing was changed")
        if region is None:
            ended = self.roll_back_stages(pipeline, target, regions, view)
        else:
            ended = self.redeploy(regions[0], revisions[regions[0].key])
        return 0 if self.summary(target, regions, revisions, ended) else 1

    def refuse_in_flight(self, pipeline: str) -> None:
        """A release or a rollback under way: roll back once it has ended (RollbackStage refuses a running stage)."""
        recent = self.aws.call(
            "codepipeline", self.home, "list_pipeline_executions", pipelineName=pipeline, maxResults=25
        )["pipelineExecutionSummaries"]
        busy = next((e for e in recent if e["status"] in IN_FLIGHT), None)
        if busy is not None:
            kind = "a rollback" if busy.get("executionType") == "ROLLBACK" else "a release"
            raise OperatorError(
                f"{kind} is in flight ({pipeline} execution {busy['pipelineExecutionId']}, {busy['status']}); "
                "roll back once it has ended (make status shows it), or stop it first with aws codepipeline "
                f"stop-pipeline-execution --region {self.home} --pipeline-name {pipeline} --pipeline-execution-id "
                f"{busy['pipelineExecutionId']}"
            )

    def current_release(self, pipeline: str, state: dict) -> str:
        """The release production runs: the last production stage's latest execution, or what it rolled back to."""
        stages = {s["stageName"]: s for s in state["stageStates"]}
        latest = stages.get(self.stages[-1], {}).get("latestExecution")
        if latest is None:
            raise OperatorError(f"nothing to roll back: no release has reached {self.stages[-1]} yet")
        if latest.get("type") != "ROLLBACK":
            return latest["pipelineExecutionId"]
        execution = self.execution(pipeline, latest["pipelineExecutionId"])
        return execution.get("rollbackMetadata", {}).get("rollbackTargetPipelineExecutionId", "")

    def execution(self, pipeline: str, execution_id: str) -> dict:
        return self.aws.call(
            "codepipeline",
            self.home,
            "get_pipeline_execution",
            pipelineName=pipeline,
            pipelineExecutionId=execution_id,
        )["pipelineExecution"]

    def target(self, pipeline: str, current: str) -> dict:
        """The newest standard execution older than ``current`` that succeeded in the last production stage."""
        succeeded = self.aws.pages(
            "codepipeline",
            self.home,
            "list_pipeline_executions",
            "pipelineExecutionSummaries",
            "nextToken",
            pipelineName=pipeline,
            maxResults=100,
            filter={"succeededInStage": {"stageName": self.stages[-1]}},
        )
        succeeded.sort(key=lambda e: e["startTime"], reverse=True)
        ids = [e["pipelineExecutionId"] for e in succeeded]
        older = succeeded[ids.index(current) + 1 :] if current in ids else succeeded
        found = next((e for e in older if e.get("executionType", "STANDARD") == "STANDARD"), None)
        if found is None:
            raise OperatorError(
                f"nothing to roll back to: no release before {current} succeeded in every production region "
                f"({pipeline} keeps its executions' history for 12 months)"
            )
        return found

    def refuse_other_version(self, pipeline: str, state: dict, target: dict) -> None:
        version = self.execution(pipeline, target["pipelineExecutionId"]).get("pipelineVersion")
        if version != state.get("pipelineVersion"):
            raise OperatorError(
                f"CodePipeline cannot roll back to {target['pipelineExecutionId']}, the last release that succeeded "
                f"everywhere: it ran in version {version} of {pipeline}, which a deploy has since changed to version "
                f"{state.get('pipelineVersion')} (a stage rolls back only to an execution of the current version); "
                "make rollback REGION=<region> returns one region at a time, or release that source again"
            )

    def region_of(self, action: DeployAction) -> Region:
        stack = self.release.assembly.stacks[action.stack]
        aws = self.aws.of(stack.account)
        return Region(action, StackResources.read(aws, stack), aws)

    def target_revision(self, target: dict, details: list[dict], region: Region) -> TargetRevision:
        """The task definition the target's deploy action (in its action ``details``) put in service in
        ``region``, and that definition's image digest."""
        action = newest(details, region.action.stage, region.action.name) or {}
        revision = None
        if region.resources.named(CODEDEPLOY_GROUP):
            revision = self.codedeploy_revision(region, action)
            found = APPSPEC_TASK_DEFINITION.search(
                (revision or {}).get("appSpecContent", {}).get("content", "")
            )
            task_definition = found.group(1) if found else ""
        else:
            task_definition = self.ecs_task_definition(region, action)
        if not task_definition:
            raise OperatorError(
                f"{region.action.label}: the deployment of {target['pipelineExecutionId']} is no longer on record "
                "(CodeDeploy or ECS keeps it for a limited time); release that source again instead"
            )
        described = region.aws.call(
            "ecs", region.action.region, "describe_task_definition", taskDefinition=task_definition
        )["taskDefinition"]
        images = [c["image"] for c in described["containerDefinitions"] if "@sha256:" in c.get("image", "")]
        digest = images[0].split("@", 1)[1] if images else ""
        return TargetRevision(described["taskDefinitionArn"], digest, revision)

    def codedeploy_revision(self, region: Region, action: dict) -> dict | None:
        """The revision (AppSpec with the task definition and hooks) of the action's CodeDeploy deployment."""
        deployment = action.get("output", {}).get("executionResult", {}).get("externalExecutionId")
        if not deployment:
            return None
        return full_revision(
            region.aws.client("codedeploy", region.action.region),
            region.resources.one("AWS::CodeDeploy::Application"),
            deployment,
        )

    def ecs_task_definition(self, region: Region, action: dict) -> str:
        """The revision of the service deployment the action started: the newest created while it ran."""
        if "startTime" not in action:
            return ""
        window = {"after": action["startTime"], "before": action["lastUpdateTime"]}
        briefs = service_deployments(region.aws, region.resources, **window)
        if not briefs:
            return ""
        arn = max(briefs, key=lambda brief: brief["createdAt"])["serviceDeploymentArn"]
        (deployment,) = region.aws.call(
            "ecs", region.action.region, "describe_service_deployments", serviceDeploymentArns=[arn]
        )["serviceDeployments"]
        (revision,) = region.aws.call(
            "ecs",
            region.action.region,
            "describe_service_revisions",
            serviceRevisionArns=[deployment["targetServiceRevision"]["arn"]],
        )["serviceRevisions"]
        return revision["taskDefinition"]

    def serving(self, region: Region) -> Running:
        return running(region.aws, region.action.region, region.resources.cluster, region.resources.service)

    def preview(self, target, current, regions, revisions, state, *, one: str | None) -> None:
        started = utc_minute(target["startTime"])
        source = ", ".join(r.get("revisionId", "") for r in target.get("sourceRevisions", ())) or "unknown"
        self.say(
            f"==> roll back {one or 'every production region'} to release {target['pipelineExecutionId']} "
            f"(started {started}, source {source}), the last before {current} that succeeded everywhere"
        )
        table = [("region", "now", "after the rollback")]
        for region in regions:
            now = self.serving(region)
            table.append(
                (
                    region.action.label,
                    f"{now.task_definition} {now.short_digest}",
                    revisions[region.key].shown,
                )
            )
        for line in aligned(table):
            self.say(f"    {line}")
        if one:
            how = (
                "a CodeDeploy deployment of that revision, with its hooks and alarms"
                if regions[0].resources.named(CODEDEPLOY_GROUP)
                else "an ECS service update to that revision, through the service's blue/green deployment"
            )
            self.say(f"    how: {how}; the pipeline is not involved, and its next release replaces it")
            return
        self.say(
            f"    how: CodePipeline's stage rollback of {', '.join(self.stages)} (the release's artifacts redeployed "
            "through each region's deploy action: a new task definition revision with the image above)"
        )
        halted = [s for s in state["stageStates"] if s["stageName"] in self.stages and closed(s)]
        for stage in halted:
            self.say(
                f"    ! {stage['stageName']} is halted ({reason_of(stage)}); AWS does not document whether a stage "
                "rollback waits at a disabled transition: if it does not start, make resume"
            )

    def roll_back_stages(self, pipeline: str, target: dict, regions: list[Region], view) -> str:
        status = "Succeeded"
        for stage in self.stages:
            started = self.aws.call(
                "codepipeline",
                self.home,
                "rollback_stage",
                pipelineName=pipeline,
                stageName=stage,
                targetPipelineExecutionId=target["pipelineExecutionId"],
            )["pipelineExecutionId"]
            self.say(
                f"==> {stage}: rollback execution {started} started (Ctrl-C stops watching, not the rollback)"
            )
            mine = [r for r in regions if r.action.stage == stage]
            rows = {
                r.key: RegionProgress(label=r.action.label, region=r.action.region, stage=stage) for r in mine
            }
            progress = Progress(started, regions=rows)
            self.release.follow(pipeline, progress, {r.key: r.resources for r in mine}, view)
            status = progress.status
            if status != "Succeeded":
                break
        return status

    def redeploy(self, region: Region, revision: TargetRevision) -> str:
        name = region.action.region
        if revision.codedeploy_revision is not None:
            created = region.aws.call(
                "codedeploy",
                name,
                "create_deployment",
                applicationName=region.resources.one("AWS::CodeDeploy::Application"),
                deploymentGroupName=region.resources.one(CODEDEPLOY_GROUP),
                revision=revision.codedeploy_revision,
                description=f"make rollback to {revision.task_definition.rsplit('/', 1)[-1]}",
            )
            return wait_for_deployment(
                region.aws.client("codedeploy", name), created["deploymentId"], self.say, self.aws.sleep
            )
        begun = self.clock()
        region.aws.call(
            "ecs",
            name,
            "update_service",
            cluster=region.resources.cluster,
            service=region.resources.service,
            taskDefinition=revision.task_definition,
        )
        self.say(
            f"==> {region.action.label}: service updated to {revision.shown}; waiting for its deployment"
        )
        return self.wait_for_service(region, begun)

    def wait_for_service(self, region: Region, begun: datetime) -> str:
        shown = ""
        while True:
            briefs = service_deployments(region.aws, region.resources, after=begun)
            newest_brief = max(briefs, key=lambda brief: brief["createdAt"]) if briefs else None
            status = newest_brief["status"] if newest_brief else "PENDING"
            if status != shown:
                shown = status
                self.say(f"    {region.action.label}: {status.lower().replace('_', ' ')}")
            if status in ECS_FINISHED:
                return "Succeeded" if status == "SUCCESSFUL" else status.replace("_", " ").capitalize()
            self.aws.sleep(self.poll_seconds)

    def summary(self, target: dict, regions: list[Region], revisions: dict, ended: str) -> bool:
        self.say(f"==> rollback to {target['pipelineExecutionId']}: {ended}")
        table, back = [("region", "task definition", "image", "on the target's image")], True
        for region in regions:
            now = self.serving(region)
            expected = revisions[region.key].digest
            there = bool(expected) and expected in now.digests
            back = back and there
            table.append(
                (region.action.label, now.task_definition, now.short_digest, "yes" if there else "no")
            )
        for line in aligned(table):
            self.say(f"    {line}")
        return ended == "Succeeded" and back


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("assembly", nargs="?", default="cdk.out")
    parser.add_argument("--region", help="roll back this production region only (default: every one)")
    parser.add_argument("--yes", action="store_true", help="do not ask for confirmation")
    args = parser.parse_args(argv)

    def ask(scope: str) -> bool:
        return typed(scope, f"Type {scope} to roll it back: ")

    def rollback(assembly: CloudAssembly, view) -> int:
        confirm = (lambda _: True) if args.yes else ask
        return Rollback(assembly, operator_aws(assembly, os.environ), confirm=confirm).run(args.region, view)

    return watched(args.assembly, rollback, "rollback")


if __name__ == "__main__":
    sys.exit(main())
