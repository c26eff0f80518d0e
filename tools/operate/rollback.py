"""Roll back production: every region, or one, to the last release that succeeded everywhere.

    python tools/operate/rollback.py [cdk.out] [--region REGION] [--yes]

The target is chosen from CodePipeline's history (tools/operate/rollback_target.py): the newest release that
succeeded everywhere and started before the release production runs now. Before it asks, the command shows
per region what runs now and what will: task definition revision and image digest, read from the target's
own deployment in that region (or, where that record has expired, the image its build exported).

- Every region: CodePipeline's RollbackStage on each production stage not on the target. CodePipeline
  redeploys the target's artifacts through the stage's deploy actions, with their hooks and alarms; it rolls
  back only to an execution started in the pipeline's current structure version (a ``make deploy`` that
  changed the pipeline starts a new one), so an older target is refused with one line that names the
  one-region path.
- One region (``--region``): that region's deployment of the target's task definition revision, with no
  pipeline involved: a CodeDeploy deployment of the target deployment's own revision (its AppSpec, hooks
  included), or, with the ECS engine, UpdateService to that revision.

It follows the rollback like ``make release`` and exits 0 only when every region it rolled back serves the
target's image. It refuses, with one line, without credentials or with the placeholder account, when a
release or rollback is in flight, when there is nothing to roll back to, and when the one region already
serves the target's revision; it asks for confirmation unless ``--yes`` is given.
"""

from __future__ import annotations

import argparse
import os
import re
import sys
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

if __package__ in (None, ""):  # run as a script: make the repository root importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from botocore.exceptions import ClientError

from tools.cloud_assembly import CloudAssembly
from tools.operate.accounts import operator_aws
from tools.operate.aws_access import utc_minute
from tools.operate.break_glass import full_revision, typed, wait_for_deployment
from tools.operate.cdk_commands import OperatorError, one_line_errors
from tools.operate.halt import closed, reason_of
from tools.operate.patient_aws import Aws, error_code
from tools.operate.regional_state import (
    CODEDEPLOY_GROUP,
    Running,
    StackResources,
    described_service,
    newest_service_deployment,
    running,
    short_digest,
)
from tools.operate.release import FOLLOW_PERMISSIONS, Release, aligned, watched
from tools.operate.release_ledger import attempts, exported_digest, newest
from tools.operate.release_progress import Progress, RegionProgress
from tools.operate.rollback_target import Choice, choose, executions, refuse_in_flight, running_releases
from tools.plan.plan_model import PRODUCTION, DeployAction
from tools.plan.release_plan import plan_of

# Every AWS call the command makes, as IAM actions (the tests refuse any other; docs/operating.md lists them).
PERMISSIONS = tuple(
    sorted(
        {
            *FOLLOW_PERMISSIONS,
            "cloudformation:ListStackResources",
            "codedeploy:CreateDeployment",
            "codedeploy:GetApplicationRevision",
            # Not called: IAM requires it beside CreateDeployment (CodeDeploy user guide, "CodeDeploy permissions
            # reference": "you must also specify GetDeploymentConfig permissions for the deployment configuration").
            "codedeploy:GetDeploymentConfig",
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
ECS_FINISHED = ("SUCCESSFUL", "STOPPED", "ROLLBACK_SUCCESSFUL", "ROLLBACK_FAILED")
POLL_SECONDS = 15
# How long the one-region ECS rollback follows its service deployment (the pipeline's ECS action waits 60).
ECS_WAIT_MINUTES = 90
# The task definition's ARN in a CodeDeploy AppSpec (YAML or JSON) once CodePipeline has filled it in.
APPSPEC_TASK_DEFINITION = re.compile(r'TaskDefinition"?\s*:\s*"?(arn:[^"\s,}]+)')


@dataclass(frozen=True)
class TargetRevision:
    """What one region ran for the target release: its task definition and that definition's image digest."""

    task_definition: str  # the ARN
    digest: str
    codedeploy_revision: dict | None = None  # the CodeDeploy revision that deployed it (AppSpec included)

    @property
    def revision(self) -> str:
        """``family:revision``, as make status and ECS's running tasks name it ("" when not on record)."""
        return self.task_definition.rsplit("/", 1)[-1]

    @property
    def shown(self) -> str:
        return f"{self.revision or 'a new revision'} {short_digest(self.digest)}"


@dataclass(frozen=True)
class Region:
    """One production copy in scope: its deploy action, deployed resources and the calls into its account."""

    action: DeployAction
    resources: StackResources
    aws: Aws

    @property
    def key(self) -> str:
        return f"{self.action.stage}/{self.action.name}"


def production_scope(production: list[DeployAction], region: str | None) -> list[DeployAction]:
    """The production deploy actions a rollback covers: every one, or ``region``'s (refused in one line
    when it is not a production region)."""
    if region is None:
        return production
    chosen = [a for a in production if a.region == region]
    if not chosen:
        regions = ", ".join(a.region for a in production)
        raise OperatorError(
            f"REGION={region} is not a production region of this app; expected one of {regions}"
        )
    return chosen


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

    def scope(self, region: str | None) -> list[DeployAction]:
        return production_scope(self.production, region)

    def run(self, region: str | None, view) -> int:
        actions = self.scope(region)
        pipeline = self.release.pipeline_name()
        state = self.aws.call("codepipeline", self.home, "get_pipeline_state", name=pipeline)
        pages = executions(self.aws, self.home, pipeline)
        newest = next(pages)
        refuse_in_flight(newest, self.home, pipeline)
        stages = list(dict.fromkeys(a.stage for a in actions))
        choice = choose(pages, newest, running_releases(self.aws, self.home, pipeline, state, stages))
        target = choice.target
        if region is None:
            self.refuse_other_version(pipeline, state, target)
        regions = [self.region_of(a) for a in actions if a.stage in choice.stages]
        details = attempts(self.aws, self.home, pipeline, choice.target_id)
        built = exported_digest(details)
        revisions = {
            r.key: self.target_revision(target, details, r, built, needed=region is not None) for r in regions
        }
        self.preview(choice, regions, revisions, state, one=region)
        if not self.confirm(region or PRODUCTION):
            raise OperatorError("not confirmed; nothing was changed")
        if region is None:
            ended = self.roll_back_stages(pipeline, choice, regions, view)
        else:
            ended = self.redeploy(regions[0], revisions[regions[0].key])
        return 0 if self.summary(target, regions, revisions, ended) else 1

    def execution(self, pipeline: str, execution_id: str) -> dict:
        return self.aws.call(
            "codepipeline",
            self.home,
            "get_pipeline_execution",
            pipelineName=pipeline,
            pipelineExecutionId=execution_id,
        )["pipelineExecution"]

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

    def target_revision(
        self, target: dict, details: list[dict], region: Region, built: str, *, needed: bool
    ) -> TargetRevision:
        """The task definition the target's deploy action (in its action ``details``) put in service in
        ``region``, and that definition's image digest. Where the deployment is no longer on record (ECS keeps
        90 days of service deployments; CodeDeploy documents no period), a stage rollback still works: then the image the build exported
        (``built``) stands for it, unless the revision itself is ``needed`` (one region)."""
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
            if needed or not built:
                kept = (
                    "CodeDeploy no longer returns it"
                    if region.resources.named(CODEDEPLOY_GROUP)
                    else "ECS keeps service deployments 90 days"
                )
                raise OperatorError(
                    f"{region.action.label}: the deployment of {target['pipelineExecutionId']} is no longer on "
                    f"record ({kept}); release that source again instead"
                )
            return TargetRevision("", built)
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
        try:
            return full_revision(
                region.aws.client("codedeploy", region.action.region),
                region.resources.one("AWS::CodeDeploy::Application"),
                deployment,
            )
        except ClientError as error:
            if error_code(error) == "DeploymentDoesNotExistException":
                return None
            raise

    def ecs_task_definition(self, region: Region, action: dict) -> str:
        """The revision of the service deployment the action started: the newest created while it ran."""
        if "startTime" not in action:
            return ""
        window = {"after": action["startTime"], "before": action["lastUpdateTime"]}
        newest_brief = newest_service_deployment(region.aws, region.resources, **window)
        if newest_brief is None:
            return ""
        arn = newest_brief["serviceDeploymentArn"]
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

    def preview(
        self, choice: Choice, regions: list[Region], revisions: dict, state: dict, *, one: str | None
    ) -> None:
        target = choice.target
        started = utc_minute(target["startTime"])
        source = ", ".join(r.get("revisionId", "") for r in target.get("sourceRevisions", ())) or "unknown"
        self.say(
            f"==> roll back {one or 'every production region'} to release {choice.target_id} (started {started}, "
            f"source {source}), the last before {choice.current} that succeeded everywhere"
        )
        table = [("region", "now", "after the rollback")]
        for region in regions:
            now, after = self.serving(region), revisions[region.key]
            if one and now.task_definition == after.revision:
                raise OperatorError(
                    f"{region.action.label} already serves {after.shown}, the revision of {choice.target_id}"
                )
            table.append((region.action.label, f"{now.task_definition} {now.short_digest}", after.shown))
        for line in aligned(table):
            self.say(f"    {line}")
        if one:
            how = (
                "a CodeDeploy deployment of that revision, with its hooks and alarms"
                if regions[0].resources.named(CODEDEPLOY_GROUP)
                else "an ECS service update to that revision, through the service's blue/green deployment"
            )
            self.say(f"    how: {how}; the pipeline is not involved")
        else:
            self.say(
                f"    how: CodePipeline's stage rollback of {', '.join(choice.stages)} (the release's artifacts "
                "redeployed through each region's deploy action: a new task definition revision with the image above)"
            )
            halted = [s for s in state["stageStates"] if s["stageName"] in choice.stages and closed(s)]
            for stage in halted:
                self.say(
                    f"    ! {stage['stageName']} is halted ({reason_of(stage)}); AWS does not document whether a "
                    "stage rollback waits at a disabled transition: if it does not start, make resume"
                )
        self.say(
            f"    ! until a release after {choice.current} succeeds, a failed release's automatic rollback may return "
            f"a stage to {choice.current} (a rollback is never a rollback's target); make halt keeps releases out"
        )

    def roll_back_stages(self, pipeline: str, choice: Choice, regions: list[Region], view) -> str:
        """Start the rollback of every stage off the target at once (a later wave does not wait for an earlier
        one's bake), then follow each; the first status that is not Succeeded, else Succeeded."""
        started = {}
        for stage in choice.stages:
            started[stage] = self.aws.call(
                "codepipeline",
                self.home,
                "rollback_stage",
                pipelineName=pipeline,
                stageName=stage,
                targetPipelineExecutionId=choice.target_id,
            )["pipelineExecutionId"]
            self.say(
                f"==> {stage}: rollback execution {started[stage]} started (Ctrl-C stops watching, not the rollback)"
            )
        statuses = []
        for stage, execution in started.items():
            mine = [r for r in regions if r.action.stage == stage]
            rows = {
                r.key: RegionProgress(label=r.action.label, region=r.action.region, stage=stage) for r in mine
            }
            progress = Progress(execution, regions=rows)
            self.release.follow(pipeline, progress, {r.key: r.resources for r in mine}, view)
            statuses.append(progress.status)
        return next((status for status in statuses if status != "Succeeded"), "Succeeded")

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
                description=f"make rollback to {revision.revision}",
            )
            return wait_for_deployment(
                region.aws.client("codedeploy", name), created["deploymentId"], self.say, self.aws.sleep
            )
        cluster, service = region.resources.cluster, region.resources.service
        before = described_service(region.aws, name, cluster, service).get("currentServiceDeployment")
        region.aws.call(
            "ecs",
            name,
            "update_service",
            cluster=cluster,
            service=service,
            taskDefinition=revision.task_definition,
        )
        self.say(
            f"==> {region.action.label}: service updated to {revision.shown}; waiting for its deployment"
        )
        return self.wait_for_service(region, before)

    def wait_for_service(self, region: Region, before: str | None) -> str:
        """Follow the service deployment the update started: the service's current one once it is not ``before``."""
        name, cluster, service = region.action.region, region.resources.cluster, region.resources.service
        deadline, shown = self.clock() + timedelta(minutes=ECS_WAIT_MINUTES), ""
        while True:
            current = described_service(region.aws, name, cluster, service).get("currentServiceDeployment")
            status = "PENDING"
            if current and current != before:
                (deployment,) = region.aws.call(
                    "ecs", name, "describe_service_deployments", serviceDeploymentArns=[current]
                )["serviceDeployments"]
                status = deployment["status"]
            if status != shown:
                shown = status
                self.say(f"    {region.action.label}: {status.lower().replace('_', ' ')}")
            if status in ECS_FINISHED:
                return "Succeeded" if status == "SUCCESSFUL" else status.replace("_", " ").capitalize()
            if self.clock() > deadline:
                raise OperatorError(
                    f"{region.action.label}: the service's deployment has not ended within {ECS_WAIT_MINUTES} minutes "
                    "(make status shows where it stands)"
                )
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

    def region_first() -> int:  # a REGION that is not production is refused before credentials are looked at
        actions = plan_of(CloudAssembly.read(args.assembly)).deploy_actions
        production_scope([a for a in actions if a.environment == PRODUCTION], args.region)
        return 0

    if args.region and one_line_errors(region_first):
        return 1
    return watched(args.assembly, rollback, "rollback")


if __name__ == "__main__":
    sys.exit(main())
