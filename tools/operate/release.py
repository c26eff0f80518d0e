"""Release: upload the source, follow the pipeline execution it starts, and summarise every region.

    python tools/operate/release.py [cdk.out] [--source DIR]

With the default S3 source it zips DIR (default ``sample/``; a Dockerfile at
its root), uploads it to the pipeline's source bucket, and finds the execution
that upload started (by the object's version). With a GitHub source it starts
an execution of the branch's head (``--source`` is refused: push instead).
It then shows each stage and, per region, the deployment's lifecycle step and
the share of production traffic on the new revision, with elapsed time: a
live table on a terminal, plain lines otherwise. It ends with a table, one
row per region (result, task definition revision, image digest shortened as
Docker does), and each region's address (its stack's ``ServiceUrl`` output),
and exits 0 only when the execution and every region succeeded. Without credentials, or with the
placeholder account, it refuses with one line.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

if __package__ in (None, ""):  # run as a script: make the repository root importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from tools.cloud_assembly import CloudAssembly
from tools.operate.accounts import operator_aws
from tools.operate.cdk_commands import OperatorError, one_line_errors, ready_assembly
from tools.operate.halt import closed, reason_of
from tools.operate.patient_aws import Aws
from tools.operate.regional_state import (
    CODEDEPLOY_GROUP,
    StackResources,
    newest_service_deployment,
    running,
    service_url,
    stack_outputs,
)
from tools.operate.release_ledger import attempts
from tools.operate.release_progress import LineView, LiveView, Progress, RegionProgress
from tools.operate.sample_source import SAMPLE, pack
from tools.operate.window_waits import WINDOW_PERMISSIONS, window_notes, window_rows
from tools.plan.release_plan import plan_of

ROOT = Path(__file__).resolve().parents[2]
ARCHIVE = ROOT / "dist" / "release-source.zip"
POLL_SECONDS = 10
START_TIMEOUT_SECONDS = 300

# The calls following an execution makes (Release.follow): its actions, and each region's deployment.
FOLLOW_PERMISSIONS = (
    *WINDOW_PERMISSIONS,
    "codedeploy:BatchGetDeploymentTargets",
    "codedeploy:GetDeployment",
    "codedeploy:ListDeploymentTargets",
    "codepipeline:GetPipelineExecution",
    "codepipeline:ListActionExecutions",
    "ecs:DescribeServiceDeployments",
    "ecs:DescribeServices",
    "ecs:ListServiceDeployments",
)
# Every AWS call the command makes, as IAM actions (the tests refuse any other; docs/operating.md lists them).
PERMISSIONS = tuple(
    sorted(
        {
            *FOLLOW_PERMISSIONS,
            "cloudformation:DescribeStacks",
            "cloudformation:ListStackResources",
            "codepipeline:GetPipelineState",
            "codepipeline:ListPipelineExecutions",
            "codepipeline:StartPipelineExecution",
            "ecs:DescribeTasks",
            "ecs:ListTasks",
            "s3:PutObject",
        }
    )
)


@dataclass(frozen=True)
class PipelineSource:
    """Where the pipeline reads its source: an S3 object (``key``) or a GitHub branch."""

    provider: str
    key: str = ""
    repository: str = ""
    branch: str = ""

    @classmethod
    def of(cls, pipeline: dict) -> PipelineSource:
        """The source of a pipeline resource (its first stage's one action)."""
        action = pipeline["Properties"]["Stages"][0]["Actions"][0]
        configuration = action["Configuration"]
        return cls(
            provider=action["ActionTypeId"]["Provider"],
            key=configuration.get("S3ObjectKey", ""),
            repository=configuration.get("FullRepositoryId", ""),
            branch=configuration.get("BranchName", ""),
        )


def check_source(directory: Path) -> None:
    if not directory.is_dir():
        raise OperatorError(
            f"SOURCE={directory} is not a directory; give the directory that holds the Dockerfile"
        )
    if not (directory / "Dockerfile").is_file():
        raise OperatorError(
            f"SOURCE={directory} has no Dockerfile at its root; the pipeline builds the image from ./Dockerfile"
        )


class Release:
    """One release, against botocore clients made by ``aws`` (so it can be tested with Stubbers)."""

    def __init__(
        self,
        assembly: CloudAssembly,
        aws: Aws,
        *,
        say: Callable[[str], None] = print,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        poll_seconds: float = POLL_SECONDS,
        start_timeout_seconds: float = START_TIMEOUT_SECONDS,
        archive: Path = ARCHIVE,
    ) -> None:
        self.assembly, self.aws, self.say, self.clock = assembly, aws, say, clock
        self.poll_seconds, self.start_timeout_seconds = poll_seconds, start_timeout_seconds
        self.plan = plan_of(assembly)
        self.pipeline_stack = self.plan.pipeline_stack
        self.aws = aws.of(self.pipeline_stack.account)  # the pipeline's calls; Aws.of reaches the regions
        self.region = self.pipeline_stack.region
        self.source = PipelineSource.of(assembly.pipeline()[1])
        self.begun = clock()
        self.archive = archive

    def seconds(self, moment: datetime | None = None) -> float:
        return ((moment or self.clock()) - self.begun).total_seconds()

    def pipeline_name(self) -> str:
        resources = StackResources.deployed(self.aws, self.pipeline_stack)
        if resources is None:
            raise OperatorError(
                f"the pipeline stack {self.pipeline_stack.name} is not deployed in {self.region}; run make deploy"
            )
        return resources.one("AWS::CodePipeline::Pipeline")

    def check(self, source: Path | None) -> None:
        """Refuse a SOURCE the pipeline cannot release, before anything is read or uploaded."""
        if self.source.provider != "S3":
            if source is not None:
                raise OperatorError(
                    f"the pipeline releases {self.source.repository}@{self.source.branch} from GitHub; push "
                    "there, or run make release without SOURCE to release the branch's head again"
                )
            return
        check_source(source or SAMPLE)

    def start(self, pipeline: str, source: Path | None) -> str:
        """Start an execution (after :meth:`check`): upload the source (S3) or release the branch's head (GitHub)."""
        if self.source.provider != "S3":
            execution = self.aws.call("codepipeline", self.region, "start_pipeline_execution", name=pipeline)
            self.say(f"==> started {pipeline} on the head of {self.source.repository}@{self.source.branch}")
            return execution["pipelineExecutionId"]
        directory = source or SAMPLE
        names = pack(self.archive, directory)
        bucket = stack_outputs(self.aws, self.pipeline_stack)["SourceBucketName"]
        uploaded = self.aws.call(
            "s3",
            self.region,
            "put_object",
            Bucket=bucket,
            Key=self.source.key,
            Body=self.archive.read_bytes(),
        )
        version = uploaded["VersionId"]
        shown = directory.relative_to(ROOT) if directory.is_relative_to(ROOT) else directory
        self.say(f"==> uploaded {shown}/ ({len(names)} files) to s3://{bucket}/{self.source.key} ({version})")
        return self.execution_of(pipeline, version)

    def execution_of(self, pipeline: str, version: str) -> str:
        """The execution the upload of ``version`` started (the bucket's EventBridge rule starts it)."""
        deadline = self.seconds() + self.start_timeout_seconds
        while True:
            executions = self.aws.call(
                "codepipeline", self.region, "list_pipeline_executions", pipelineName=pipeline, maxResults=25
            )["pipelineExecutionSummaries"]
            for execution in executions:
                if any(r.get("revisionId") == version for r in execution.get("sourceRevisions", ())):
                    return execution["pipelineExecutionId"]
            if self.seconds() > deadline:
                raise OperatorError(
                    f"no execution of {pipeline} started for source version {version} within "
                    f"{self.start_timeout_seconds // 60:.0f} minutes: a newer upload may have started it with its "
                    "own version (make status), or the pipeline stack's SourceUploaded rule did not fire"
                )
            self.aws.sleep(self.poll_seconds)

    def regions(self) -> tuple[dict[str, RegionProgress], dict[str, StackResources]]:
        """A progress row and the deployed resources of every deploy action, keyed ``stage/action``."""
        rows, resources = {}, {}
        for action in self.plan.deploy_actions:
            key = f"{action.stage}/{action.name}"
            rows[key] = RegionProgress(label=action.label, region=action.region, stage=action.stage)
            stack = self.assembly.stacks[action.stack]
            resources[key] = StackResources.read(self.aws.of(stack.account), stack)
        return rows, resources

    def follow(self, pipeline: str, progress: Progress, resources: dict[str, StackResources], view) -> None:
        execution_id = progress.execution
        with view:
            while True:
                execution = self.aws.call(
                    "codepipeline",
                    self.region,
                    "get_pipeline_execution",
                    pipelineName=pipeline,
                    pipelineExecutionId=execution_id,
                )["pipelineExecution"]
                progress.status = execution["status"]
                progress.now = self.clock()
                self.apply(progress, attempts(self.aws, self.region, pipeline, execution_id), resources)
                if any(stage.window for stage in self.plan.stages):
                    progress.waits = window_rows(self.aws, self.region, pipeline, execution_id, progress.now)
                view.update(progress, self.seconds())
                if progress.finished:
                    return
                self.aws.sleep(self.poll_seconds)

    def apply(self, progress: Progress, actions: list[dict], resources: dict[str, StackResources]) -> None:
        # A retried stage lists every attempt of its actions: the newest of each counts.
        latest: dict[str, dict] = {}
        for action in sorted(actions, key=lambda a: a["startTime"]):
            latest[f"{action['stageName']}/{action['actionName']}"] = action
        by_stage: dict[str, list[str]] = {}
        for key, action in latest.items():
            by_stage.setdefault(action["stageName"], []).append(action["status"])
            row = progress.regions.get(key)
            if row is None or (row.attempt == action["actionExecutionId"] and row.ended is not None):
                continue
            row.attempt, row.ended, row.detail = action["actionExecutionId"], None, ""
            row.status = action["status"]
            row.started = self.seconds(action["startTime"])
            if row.status != "InProgress":
                row.ended = self.seconds(action["lastUpdateTime"])
            self.deployment_of(row, action, resources[key])
        for stage, statuses in by_stage.items():
            progress.stages[stage] = next(
                (s for s in ("Failed", "Abandoned", "InProgress") if s in statuses), "Succeeded"
            )
        for action in latest.values():
            if (
                action["status"] == "InProgress"
                and action.get("input", {}).get("actionTypeId", {}).get("category") == "Approval"
            ):
                progress.stages[action["stageName"]] = "waiting for approval (console or put-approval-result)"

    def deployment_of(self, row: RegionProgress, action: dict, resources: StackResources) -> None:
        aws = self.aws.of(resources.stack.account)
        row.until = None
        if resources.named(CODEDEPLOY_GROUP):
            code_deploy_step(aws, row, action, resources)
        else:
            ecs_step(aws, row, action, resources)

    def summary(self, progress: Progress, resources: dict[str, StackResources]) -> bool:
        """One row per copy (result, serving revision, short image digest), then each copy's address."""
        self.say(f"==> pipeline execution {progress.execution}: {progress.status}")
        succeeded = progress.status == "Succeeded"
        table, details, addresses = [("region", "result", "task definition", "image")], [""], []
        for key, row in progress.regions.items():
            deployed = resources[key]
            aws = self.aws.of(deployed.stack.account)
            serving = running(aws, row.region, deployed.cluster, deployed.service)
            result = row.status if row.status != "Waiting" else "not started"
            table.append((row.label, result, serving.task_definition, serving.short_digest))
            details.append(row.detail)
            addresses.append((row.label, service_url(aws, deployed.stack)))
            succeeded = succeeded and row.status == "Succeeded"
        for line, detail in zip(aligned(table), details, strict=True):
            self.say(f"    {line}")
            if detail:
                self.say(f"      ! {detail}")
        self.say("==> where each copy answers (make status shows the images' full digests)")
        for line in aligned(addresses):
            self.say(f"    {line}")
        return succeeded

    def run(self, source: Path | None, view) -> int:
        self.check(source)
        pipeline = self.pipeline_name()
        rows, resources = self.regions()
        self.refuse_when_halted(pipeline)
        execution_id = self.start(pipeline, source)
        self.say(
            f"==> following {pipeline} execution {execution_id} (Ctrl-C stops watching, not the release)"
        )
        for note in window_notes(self.plan.stages, self.clock()):
            self.say(f"==> {note}")
        progress = Progress(execution_id, regions=rows)
        self.follow(pipeline, progress, resources, view)
        if progress.status == "Failed":
            self.rollback_note(pipeline)
        if progress.status == "Superseded":
            self.say(
                "==> a newer release took this one's place before it reached every stage "
                "(execution_mode: superseded); make status shows the newer one"
            )
        return 0 if self.summary(progress, resources) else 1

    def refuse_when_halted(self, pipeline: str) -> None:
        """A release started while a transition is disabled (make halt) would wait there: say so instead."""
        stages = self.aws.call("codepipeline", self.region, "get_pipeline_state", name=pipeline)[
            "stageStates"
        ]
        halted = next(filter(closed, stages), None)
        if halted is not None:
            raise OperatorError(
                f"{pipeline} is halted before {halted['stageName']} ({reason_of(halted)}): a release would wait "
                "there; run make resume first (make status shows the halt), then make release again"
            )

    def rollback_note(self, pipeline: str) -> None:
        """Name the execution that rolls a failed stage back: it runs apart from the one followed."""
        executions = self.aws.call(
            "codepipeline", self.region, "list_pipeline_executions", pipelineName=pipeline, maxResults=10
        )["pipelineExecutionSummaries"]
        for execution in executions:
            if execution.get("executionType") == "ROLLBACK" and execution["status"] == "InProgress":
                target = execution.get("rollbackMetadata", {}).get("rollbackTargetPipelineExecutionId", "")
                self.say(
                    f"==> rollback execution {execution['pipelineExecutionId']} is redeploying the revision of "
                    f"{target or 'the last successful execution'}; the summary below may still be moving "
                    "(make status)"
                )


def aligned(rows: list[tuple[str, ...]]) -> list[str]:
    """The rows as lines of columns padded to their widest cell."""
    widths = [max(len(row[column]) for row in rows) for column in range(len(rows[0]))]
    return [
        "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip() for row in rows
    ]


def code_deploy_step(aws: Aws, row: RegionProgress, action: dict, resources: StackResources) -> None:
    """The CodeDeploy deployment of ``action``: its lifecycle event in progress and Green's traffic weight;
    while it keeps blue (every event done, the deployment still in progress: a baked wave's bake), when its
    termination wait ends (:func:`keeping_blue`)."""
    region = row.region
    deployment = action.get("output", {}).get("executionResult", {}).get("externalExecutionId")
    if not deployment:
        # Not reported yet: the task set CodeDeploy made for this action carries its deployment's ID.
        services = aws.call(
            "ecs", region, "describe_services", cluster=resources.cluster, services=[resources.service]
        )["services"]
        made = [
            t
            for service in services
            for t in service.get("taskSets", ())
            if t.get("externalId") and t["createdAt"] >= action["startTime"]
        ]
        if not made:
            return
        deployment = max(made, key=lambda t: t["createdAt"])["externalId"]
    row.deployment = deployment
    info = aws.call("codedeploy", region, "get_deployment", deploymentId=deployment)["deploymentInfo"]
    target = ecs_target(aws, region, deployment)
    if target is not None:
        show_ecs_target(row, target)
        keeping_blue(row, info, target)
    rollback = info.get("rollbackInfo", {}).get("rollbackMessage")
    error = info.get("errorInformation", {}).get("message")
    if info["status"] in ("Failed", "Stopped"):
        row.detail = "; ".join(filter(None, (error, f"rolled back: {rollback}" if rollback else "")))


def keeping_blue(row: RegionProgress, info: dict, target: dict) -> None:
    """Say that the deployment keeps blue once its ECS target has succeeded while the deployment goes on (AWS
    staff in a GitHub issue, aws/containers-roadmap#269: "the deployment starts waiting ... immediately after
    marking the target status as Succeeded"; no AWS document says it), and until when, counted from the
    target's last update (else its last event's end), when the deployment gives its termination wait."""
    if info["status"] != "InProgress" or target.get("status") != "Succeeded":
        return
    row.step = "keeping blue, its alarms watching"
    wait = (
        info.get("blueGreenDeploymentConfiguration", {})
        .get("terminateBlueInstancesOnDeploymentSuccess", {})
        .get("terminationWaitTimeInMinutes")
    )
    ends = [e["endTime"] for e in target.get("lifecycleEvents", ()) if "endTime" in e]
    since = target.get("lastUpdatedAt") or (max(ends) if ends else None)
    if wait is not None and since is not None:
        row.until = since + timedelta(minutes=wait)


def ecs_target(aws: Aws, region: str, deployment: str) -> dict | None:
    """The ECS target of a CodeDeploy deployment (its lifecycle events, task sets, status), once it has one."""
    targets = aws.call("codedeploy", region, "list_deployment_targets", deploymentId=deployment)["targetIds"]
    if not targets:
        return None
    found = aws.call(
        "codedeploy", region, "batch_get_deployment_targets", deploymentId=deployment, targetIds=targets[:1]
    )["deploymentTargets"]
    return found[0].get("ecsTarget") if found else None


def show_ecs_target(row: RegionProgress, target: dict) -> None:
    """The lifecycle event in progress (or the last one reached) and Green's share of production traffic."""
    events = target.get("lifecycleEvents", [])
    reached = [e for e in events if e["status"] in ("Succeeded", "Failed", "InProgress")]
    current = next(
        (e for e in events if e["status"] in ("InProgress", "Failed")), reached[-1] if reached else None
    )
    if current:
        row.step = f"{current['lifecycleEventName']} ({events.index(current) + 1}/{len(events)})"
    weights = {s.get("taskSetLabel"): s.get("trafficWeight", 0) for s in target.get("taskSetsInfo", [])}
    if "Green" in weights:
        row.traffic = round(weights["Green"])


ECS_STAGE_NAMES = {"PRODUCTION_TRAFFIC_SHIFT": "production traffic shift", "BAKE_TIME": "bake time"}


def ecs_step(aws: Aws, row: RegionProgress, action: dict, resources: StackResources) -> None:
    """The ECS service deployment ``action`` started: its lifecycle stage and production traffic weight."""
    newest = newest_service_deployment(aws, resources, after=action["startTime"])
    if newest is None:
        return
    described = aws.call(
        "ecs",
        row.region,
        "describe_service_deployments",
        serviceDeploymentArns=[newest["serviceDeploymentArn"]],
    )["serviceDeployments"]
    if not described:
        return
    deployment = described[0]
    row.deployment = deployment["serviceDeploymentArn"].rsplit("/", 1)[-1]
    stage = deployment.get("lifecycleStage", "")
    row.step = ECS_STAGE_NAMES.get(stage, stage.replace("_", " ").lower())
    row.until = baking_until(deployment)
    weight = deployment.get("targetServiceRevision", {}).get("requestedProductionTrafficWeight")
    if weight is not None:
        row.traffic = round(weight)
    if deployment["status"] not in ("PENDING", "IN_PROGRESS", "SUCCESSFUL"):
        reason = deployment.get("rollback", {}).get("reason") or deployment.get("statusReason", "")
        row.detail = f"{deployment['status'].lower().replace('_', ' ')}: {reason}".rstrip(": ")


def baking_until(deployment: dict) -> datetime | None:
    """When an ECS service deployment in its bake time ends it: its bake time counted from its last update
    (the move into BAKE_TIME, when nothing else changed since; ECS gives the bake's start nowhere), or None
    when it is not baking or does not say its bake time."""
    bake = deployment.get("deploymentConfiguration", {}).get("bakeTimeInMinutes")
    since = deployment.get("updatedAt")
    if deployment.get("lifecycleStage") != "BAKE_TIME" or bake is None or since is None:
        return None
    return since + timedelta(minutes=bake)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("assembly", nargs="?", default="cdk.out")
    parser.add_argument("--source", type=Path, help="the directory to release (default: sample/)")
    args = parser.parse_args(argv)

    return watched(
        args.assembly,
        lambda assembly, view: Release(assembly, operator_aws(assembly, os.environ)).run(args.source, view),
        "release",
    )


def watched(directory: str, command: Callable[[CloudAssembly, object], int], what: str) -> int:
    """Run a command that follows an execution (``what``: the release, the rollback) in a live view on a
    terminal, plain lines otherwise; Ctrl-C stops watching with one line, refusals and AWS errors are one line."""

    def run() -> int:
        view = LiveView() if sys.stdout.isatty() else LineView()
        try:
            return command(ready_assembly(directory), view)
        except KeyboardInterrupt:
            print(
                f"stopped watching; the {what} goes on (make status shows where it stands)", file=sys.stderr
            )
            return 130

    return one_line_errors(run)


if __name__ == "__main__":
    sys.exit(main())
