"""make release: upload, find the execution, follow every region, summarise (botocore Stubbers, offline)."""

from __future__ import annotations

import io
import re
import tempfile
import zipfile
from pathlib import Path

import pytest
from aws_world import (
    ANY,
    World,
    expect_outputs,
    expect_running,
    expect_stack_resources,
    minutes_after,
    physical,
)
from conftest import for_account, tool, without_credentials
from rich.console import Console

from tools.cloud_assembly import CloudAssembly
from tools.operate.cdk_commands import OperatorError
from tools.operate.patient_aws import Aws
from tools.operate.regional_state import SERVICE_URL, StackResources
from tools.operate.release import PERMISSIONS, PipelineSource, Release, baking_until, keeping_blue
from tools.operate.release_progress import LineView, LiveView, Progress, RegionProgress, minutes, render
from tools.plan.release_plan import plan_of

NEW, OLD = "sha256:" + "b" * 64, "sha256:" + "a" * 64
EVENTS = (
    "BeforeInstall",
    "Install",
    "AfterInstall",
    "AllowTestTraffic",
    "AfterAllowTestTraffic",
    "BeforeAllowTraffic",
    "AllowTraffic",
    "AfterAllowTraffic",
)


ADDRESSES = "==> where each copy answers (make status shows the images' full digests)"


def address(stack) -> str:
    """The stack's ServiceUrl output in these tests: its load balancer's DNS name."""
    return f"http://{stack.name}-lb.{stack.region}.elb.amazonaws.com"


def expect_summary_row(
    world: World, stack, *, revision: int, digest: str, engine: str = "codedeploy"
) -> None:
    """What the summary reads of one copy: the revision its tasks run, and its address."""
    expect_running(world, stack, revision=revision, digest=digest, engine=engine)
    expect_outputs(world, stack, {"NotificationTopicArn": "arn:aws:sns:topic", SERVICE_URL: address(stack)})


def summary_of(said: list[str], status: str) -> tuple[list[str], list[str]]:
    """The summary's table (its heading first), and its addresses."""
    start, end = said.index(f"==> pipeline execution exec-2: {status}") + 1, said.index(ADDRESSES)
    return said[start:end], said[end + 1 :]


def action(
    stage: str, name: str, status: str, *, started: float, region: str = "", external: str = ""
) -> dict:
    detail = {
        "pipelineExecutionId": "exec-2",
        "actionExecutionId": f"{stage}-{name}",
        "stageName": stage,
        "actionName": name,
        "startTime": minutes_after(started),
        "lastUpdateTime": minutes_after(started + 7),
        "status": status,
        "input": {"region": region} if region else {},
    }
    if external:
        detail["output"] = {"executionResult": {"externalExecutionId": external}}
    return detail


class Scenario:
    """The calls one release makes, queued on a World in the order each client sees them."""

    def __init__(self, synthesized, world: World) -> None:
        self.assembly = CloudAssembly.read(synthesized.outdir)
        self.world = world
        plan = plan_of(self.assembly)
        self.pipeline_stack = plan.pipeline_stack
        self.home = self.pipeline_stack.region
        self.actions = [(a.stage, a.name, a.region) for a in plan.deploy_actions]
        self.stacks = {(a.stage, a.name): self.assembly.stacks[a.stack] for a in plan.deploy_actions}
        self.ids = {}

    def resources(self) -> None:
        self.ids[self.pipeline_stack.name] = expect_stack_resources(self.world, self.pipeline_stack)
        for stack in self.stacks.values():
            self.ids[stack.name] = expect_stack_resources(self.world, stack)

    @property
    def pipeline(self) -> str:
        (logical_id,) = self.pipeline_stack.of_type("AWS::CodePipeline::Pipeline")
        return physical(self.pipeline_stack, logical_id, "AWS::CodePipeline::Pipeline")

    def upload(self, version: str = "v2", stages: list[dict] | None = None) -> None:
        """The pipeline's stages (``stages``: GetPipelineState's; default none halted), then the upload."""
        self.world.expect(
            "codepipeline",
            self.home,
            "get_pipeline_state",
            {"stageStates": stages or [{"stageName": "Build", "inboundTransitionState": {"enabled": True}}]},
            {"name": self.pipeline},
        )
        if stages:
            return  # a halted pipeline: nothing is uploaded
        self.world.expect(
            "cloudformation",
            self.home,
            "describe_stacks",
            {
                "Stacks": [
                    {
                        "StackName": self.pipeline_stack.name,
                        "CreationTime": minutes_after(-600),
                        "StackStatus": "UPDATE_COMPLETE",
                        "Outputs": [{"OutputKey": "SourceBucketName", "OutputValue": "webapp-source-bucket"}],
                    }
                ]
            },
            {"StackName": self.pipeline_stack.name},
        )
        self.world.expect(
            "s3",
            self.home,
            "put_object",
            {"VersionId": version},
            {"Bucket": "webapp-source-bucket", "Key": "source.zip", "Body": ANY},
        )
        listed = {"pipelineName": self.pipeline, "maxResults": 25}
        older = {
            "pipelineExecutionId": "exec-1",
            "status": "Succeeded",
            "sourceRevisions": [{"actionName": "Source", "revisionId": "v1"}],
        }
        # The rule has not started it yet on the first look; it has on the second.
        self.world.expect(
            "codepipeline",
            self.home,
            "list_pipeline_executions",
            {"pipelineExecutionSummaries": [older]},
            listed,
        )
        newer = {
            "pipelineExecutionId": "exec-2",
            "status": "InProgress",
            "sourceRevisions": [{"actionName": "Source", "revisionId": version}],
        }
        self.world.expect(
            "codepipeline",
            self.home,
            "list_pipeline_executions",
            {"pipelineExecutionSummaries": [newer, older]},
            listed,
        )

    def poll(self, status: str, actions: list[dict]) -> None:
        self.world.expect(
            "codepipeline",
            self.home,
            "get_pipeline_execution",
            {
                "pipelineExecution": {
                    "pipelineName": self.pipeline,
                    "pipelineExecutionId": "exec-2",
                    "status": status,
                }
            },
            {"pipelineName": self.pipeline, "pipelineExecutionId": "exec-2"},
        )
        self.world.expect(
            "codepipeline",
            self.home,
            "list_action_executions",
            {"actionExecutionDetails": actions},
            {"pipelineName": self.pipeline, "filter": {"pipelineExecutionId": "exec-2"}},
        )

    def code_deploy(
        self, region: str, deployment: str, status: str, *, done: int, green: int, **info
    ) -> None:
        world = self.world
        world.expect(
            "codedeploy",
            region,
            "get_deployment",
            {"deploymentInfo": {"deploymentId": deployment, "status": status, **info}},
            {"deploymentId": deployment},
        )
        target = f"{region}-cluster:{region}-service"
        world.expect(
            "codedeploy",
            region,
            "list_deployment_targets",
            {"targetIds": [target]},
            {"deploymentId": deployment},
        )
        statuses = ["Succeeded"] * done + (
            ["InProgress"] if status == "InProgress" else ["Failed"] if status == "Failed" else []
        )
        statuses += ["Pending"] * (len(EVENTS) - len(statuses))
        world.expect(
            "codedeploy",
            region,
            "batch_get_deployment_targets",
            {
                "deploymentTargets": [
                    {
                        "deploymentTargetType": "ECSTarget",
                        "ecsTarget": {
                            "deploymentId": deployment,
                            "targetId": target,
                            "lifecycleEvents": [
                                {"lifecycleEventName": name, "status": s}
                                for name, s in zip(EVENTS, statuses, strict=True)
                            ],
                            "taskSetsInfo": [
                                {"taskSetLabel": "Blue", "trafficWeight": 100.0 - green},
                                {"taskSetLabel": "Green", "trafficWeight": float(green)},
                            ],
                        },
                    }
                ]
            },
            {"deploymentId": deployment, "targetIds": [target]},
        )

    def release(self) -> tuple[int, list[str]]:
        said: list[str] = []
        release = Release(
            self.assembly,
            self.world.aws(),
            say=said.append,
            clock=lambda: minutes_after(sum(self.world.slept) / 60),  # time passes while the release waits
            poll_seconds=10,
            archive=Path(tempfile.mkdtemp()) / "source.zip",
        )
        view = LineView(said.append)
        code = release.run(None, view)
        self.world.assert_done()
        return code, said


def codedeploy_release(scenario: Scenario, *, asia_fails: bool = False) -> None:
    """Both regions of the default app: in progress on the first poll, done on the second."""
    s = scenario
    s.resources()
    s.upload()
    eu, asia = "eu-west-2", "ap-southeast-1"
    built = [
        action("Source", "Source", "Succeeded", started=0),
        action("Build", "Build", "Succeeded", started=1),
    ]
    s.poll(
        "InProgress",
        [
            *built,
            action(
                "Deploy_to_Production", f"Deploy-{eu}", "InProgress", started=5, region=eu, external="d-EU"
            ),
            action("Deploy_to_Production", f"Deploy-{asia}", "InProgress", started=5, region=asia),
        ],
    )
    s.code_deploy(eu, "d-EU", "InProgress", done=6, green=100)
    # No external ID reported yet for Singapore: the task set this deployment made carries its ID.
    asia_stack = s.stacks[("Deploy_to_Production", f"Deploy-{asia}")]
    cluster, service = f"{asia_stack.name}-cluster", f"{asia_stack.name}-service"
    s.world.expect(
        "ecs",
        asia,
        "describe_services",
        {
            "services": [
                {
                    "serviceName": service,
                    "taskSets": [
                        {
                            "id": "ecs-svc/old",
                            "status": "PRIMARY",
                            "externalId": "d-BEFORE",
                            "createdAt": minutes_after(-600),
                        },
                        {
                            "id": "ecs-svc/new",
                            "status": "ACTIVE",
                            "externalId": "d-ASIA",
                            "createdAt": minutes_after(6),
                        },
                    ],
                }
            ]
        },
        {"cluster": cluster, "services": [service]},
    )
    s.code_deploy(asia, "d-ASIA", "InProgress", done=3, green=0)
    asia_status = "Failed" if asia_fails else "Succeeded"
    s.poll(
        "Failed" if asia_fails else "Succeeded",
        [
            *built,
            action(
                "Deploy_to_Production", f"Deploy-{eu}", "Succeeded", started=5, region=eu, external="d-EU"
            ),
            action(
                "Deploy_to_Production",
                f"Deploy-{asia}",
                asia_status,
                started=5,
                region=asia,
                external="d-ASIA",
            ),
        ],
    )
    s.code_deploy(eu, "d-EU", "Succeeded", done=8, green=100)
    if asia_fails:
        s.code_deploy(
            asia,
            "d-ASIA",
            "Failed",
            done=6,
            green=0,
            errorInformation={
                "code": "ALARM_ACTIVE",
                "message": "alarm webapp-ap-southeast-1-Green5xx fired",
            },
            rollbackInfo={"rollbackMessage": "traffic returned to the original task set"},
        )
    else:
        s.code_deploy(asia, "d-ASIA", "Succeeded", done=8, green=100)
    if asia_fails:
        s.world.expect(
            "codepipeline",
            s.home,
            "list_pipeline_executions",
            {
                "pipelineExecutionSummaries": [
                    {
                        "pipelineExecutionId": "exec-3",
                        "status": "InProgress",
                        "executionType": "ROLLBACK",
                        "rollbackMetadata": {"rollbackTargetPipelineExecutionId": "exec-1"},
                    },
                    {"pipelineExecutionId": "exec-2", "status": "Failed"},
                ]
            },
            {"pipelineName": s.pipeline, "maxResults": 10},
        )
    for (_stage, _name), stack in s.stacks.items():
        rolled_back = asia_fails and stack.region == asia
        expect_summary_row(
            s.world, stack, revision=6 if rolled_back else 7, digest=OLD if rolled_back else NEW
        )


def test_a_release_across_regions_follows_each_deployment_and_sums_up(default_synth):
    scenario = Scenario(default_synth, World(PERMISSIONS))
    codedeploy_release(scenario)
    code, said = scenario.release()
    assert code == 0
    text = "\n".join(said)
    assert "==> uploaded" in text
    assert "s3://webapp-source-bucket/source.zip (v2)" in text
    assert "execution exec-2" in text
    # Progress: each region's lifecycle event with its place, Green's share of production traffic.
    assert "eu-west-2 | InProgress | d-EU | AllowTraffic (7/8) | 100% traffic on the new revision" in text
    assert (
        "ap-southeast-1 | InProgress | d-ASIA | AllowTestTraffic (4/8) | 0% traffic on the new revision"
        in text
    )
    assert "eu-west-2 | Succeeded | d-EU | AfterAllowTraffic (8/8) | 100% traffic on the new revision" in text
    assert "stage Deploy_to_Production: Succeeded" in text
    # Time since the release began: the first poll after one wait for the execution, the second after two.
    assert [line[:7] for line in said if "| d-EU |" in line] == ["[0m10s]", "[0m20s]"]
    rows, addresses = summary_of(said, "Succeeded")
    assert rows == [
        "    region          result     task definition              image",
        "    eu-west-2       Succeeded  webapp-eu-west-2-web:7       sha256:bbbbbbbbbbbb",
        "    ap-southeast-1  Succeeded  webapp-ap-southeast-1-web:7  sha256:bbbbbbbbbbbb",
    ]
    assert NEW.startswith("sha256:bbbbbbbbbbbb")
    assert NEW not in "\n".join(rows)
    stacks = {stack.region: stack for stack in scenario.stacks.values()}
    assert addresses == [
        f"    eu-west-2       {address(stacks['eu-west-2'])}",
        f"    ap-southeast-1  {address(stacks['ap-southeast-1'])}",
    ]


def test_the_summary_fits_100_columns_even_for_staging_copies(synth_cache):
    """The table that wrapped at 100-140 columns with full digests; addresses come after it, one per line."""
    scenario = Scenario(synth_cache("ecs"), World(PERMISSIONS))
    said: list[str] = []
    release = Release.__new__(Release)  # the summary alone: no upload, no execution followed
    release.aws, release.say = scenario.world.aws(), said.append
    progress = Progress("exec-2", status="Succeeded")
    resources = {}
    for (stage, name), stack in scenario.stacks.items():
        label = stack.region if stage.startswith("Deploy_to_Production") else f"staging {stack.region}"
        progress.regions[f"{stage}/{name}"] = RegionProgress(label, stack.region, stage, status="Succeeded")
        resources[f"{stage}/{name}"] = StackResources(
            stack,
            {lid: physical(stack, lid, r["Type"]) for lid, r in stack.resources.items()},
            {lid: r["Type"] for lid, r in stack.resources.items()},
        )
        expect_summary_row(scenario.world, stack, revision=123, digest=NEW, engine="ecs")
    assert release.summary(progress, resources)
    scenario.world.assert_done()
    rows, _ = summary_of(said, "Succeeded")
    assert "    staging eu-west-1  Succeeded  webapp-staging-eu-west-1-web:123  sha256:bbbbbbbbbbbb" in rows
    assert max(len(line) for line in rows) <= 100


def test_a_region_that_fails_and_rolls_back_fails_the_release(default_synth):
    scenario = Scenario(default_synth, World(PERMISSIONS))
    codedeploy_release(scenario, asia_fails=True)
    code, said = scenario.release()
    assert code == 1
    # The stage's rollback runs as an execution of its own: named before the summary.
    assert (
        "==> rollback execution exec-3 is redeploying the revision of exec-1; the summary below may still be "
        "moving (make status)"
    ) in said
    rows, _ = summary_of(said, "Failed")
    _, eu, asia, why = rows
    assert eu.split() == ["eu-west-2", "Succeeded", "webapp-eu-west-2-web:7", NEW[:19]]
    # Singapore serves the revision it had before, and says why the new one was rolled back.
    assert asia.split() == ["ap-southeast-1", "Failed", "webapp-ap-southeast-1-web:6", OLD[:19]]
    assert why == (
        "      ! alarm webapp-ap-southeast-1-Green5xx fired; rolled back: traffic returned to the original task set"
    )


def ended_with(scenario: Scenario, pipeline_status: str, region_statuses: dict[str, str]) -> None:
    """One poll that finds the execution ended with ``pipeline_status`` and each region's action as given."""
    s = scenario
    s.resources()
    s.upload()
    s.poll(
        pipeline_status,
        [
            action("Source", "Source", "Succeeded", started=0),
            action("Build", "Build", "Succeeded", started=1),
            *(
                action("Deploy_to_Production", f"Deploy-{r}", status, started=5, region=r, external=f"d-{r}")
                for r, status in region_statuses.items()
            ),
        ],
    )
    for region, status in region_statuses.items():
        s.code_deploy(region, f"d-{region}", status, done=8 if status == "Succeeded" else 6, green=100)
    for stack in s.stacks.values():
        expect_summary_row(s.world, stack, revision=7, digest=NEW)


@pytest.mark.parametrize("pipeline_status", ["Stopped", "Superseded"])
def test_an_execution_that_was_stopped_or_superseded_fails_the_release(default_synth, pipeline_status):
    """Every region's action succeeded, but the execution did not: a stopped or superseded release is no success."""
    scenario = Scenario(default_synth, World(PERMISSIONS))
    ended_with(scenario, pipeline_status, {"eu-west-2": "Succeeded", "ap-southeast-1": "Succeeded"})
    code, said = scenario.release()
    assert code == 1
    assert f"==> pipeline execution exec-2: {pipeline_status}" in said
    newer = (
        "==> a newer release took this one's place before it reached every stage (execution_mode: superseded)"
    )
    assert any(line.startswith(newer) for line in said) is (pipeline_status == "Superseded")


def test_a_region_that_did_not_succeed_fails_the_release_even_when_the_execution_did(default_synth):
    """The region rows count on their own: one region that did not succeed is a failed release."""
    scenario = Scenario(default_synth, World(PERMISSIONS))
    ended_with(scenario, "Succeeded", {"eu-west-2": "Succeeded", "ap-southeast-1": "Failed"})
    code, said = scenario.release()
    assert code == 1
    rows, _ = summary_of(said, "Succeeded")
    assert [line.split()[:2] for line in rows[1:]] == [
        ["eu-west-2", "Succeeded"],
        ["ap-southeast-1", "Failed"],
    ]


def test_an_execution_whose_every_region_succeeded_is_a_successful_release(default_synth):
    """The control for the two tests above: the same poll with every status Succeeded exits 0."""
    scenario = Scenario(default_synth, World(PERMISSIONS))
    ended_with(scenario, "Succeeded", {"eu-west-2": "Succeeded", "ap-southeast-1": "Succeeded"})
    code, _ = scenario.release()
    assert code == 0


def test_throttling_is_waited_out(default_synth):
    world = World(PERMISSIONS)
    scenario = Scenario(default_synth, world)
    scenario.resources()
    scenario.upload()
    # Throttled twice on the first look at the execution; the third attempt is answered.
    world.fail(
        "codepipeline", scenario.home, "get_pipeline_execution", "ThrottlingException", "Rate exceeded"
    )
    world.fail(
        "codepipeline", scenario.home, "get_pipeline_execution", "ThrottlingException", "Rate exceeded"
    )
    finished = [
        action("Source", "Source", "Succeeded", started=0),
        *(
            action("Deploy_to_Production", name, "Succeeded", started=5, region=region, external=f"d-{n}")
            for n, (_, name, region) in enumerate(scenario.actions)
        ),
    ]
    scenario.poll("Succeeded", finished)
    for n, (_, _, region) in enumerate(scenario.actions):
        scenario.code_deploy(region, f"d-{n}", "Succeeded", done=8, green=100)
    for stack in scenario.stacks.values():
        expect_summary_row(world, stack, revision=7, digest=NEW)
    code, _ = scenario.release()
    assert code == 0
    # One poll interval while the execution was not yet listed, then two doubling back-offs.
    assert world.slept == [10, 2.0, 4.0]


def test_an_error_that_is_not_throttling_is_not_retried(default_synth):
    world = World(PERMISSIONS)
    scenario = Scenario(default_synth, world)
    scenario.resources()
    scenario.upload()
    world.fail("codepipeline", scenario.home, "get_pipeline_execution", "PipelineExecutionNotFoundException")
    with pytest.raises(Exception, match="PipelineExecutionNotFoundException"):
        scenario.release()
    assert world.slept == [10]


def test_throttling_that_does_not_end_is_reported(default_synth):
    world = World(PERMISSIONS)
    aws = world.aws()
    for _ in range(aws.attempts):
        world.fail("codepipeline", "eu-west-2", "get_pipeline_execution", "ThrottlingException")
    with pytest.raises(Exception, match="ThrottlingException"):
        aws.call(
            "codepipeline", "eu-west-2", "get_pipeline_execution", pipelineName="p", pipelineExecutionId="e"
        )
    # Doubling, capped at 20 s, one wait fewer than attempts.
    assert world.slept == [2.0, 4.0, 8.0, 16.0, 20.0, 20.0, 20.0]
    world.assert_done()


def ecs_service_deployment(
    scenario: Scenario, stack, *, status: str, stage: str, weight: float, **extra
) -> None:
    arn = f"arn:aws:ecs:{stack.region}:123456789012:service-deployment/{stack.name}-cluster/{stack.name}-service/sd-{stack.region}"
    cluster, service = f"{stack.name}-cluster", f"{stack.name}-service"
    scenario.world.expect(
        "ecs",
        stack.region,
        "list_service_deployments",
        {
            "serviceDeployments": [
                {"serviceDeploymentArn": arn, "createdAt": minutes_after(6), "status": status}
            ]
        },
        {"cluster": cluster, "service": service, "maxResults": 100, "createdAt": {"after": minutes_after(5)}},
    )
    scenario.world.expect(
        "ecs",
        stack.region,
        "describe_service_deployments",
        {
            "serviceDeployments": [
                {
                    "serviceDeploymentArn": arn,
                    "status": status,
                    "lifecycleStage": stage,
                    "targetServiceRevision": {
                        "arn": f"{arn}-revision",
                        "requestedProductionTrafficWeight": weight,
                    },
                    **extra,
                }
            ]
        },
        {"serviceDeploymentArns": [arn]},
    )


def test_the_ecs_engine_shows_service_deployments_staging_first(synth_cache):
    world = World(PERMISSIONS)
    scenario = Scenario(synth_cache("ecs"), world)
    scenario.resources()
    scenario.upload()
    (pipeline,) = scenario.pipeline_stack.of_type("AWS::CodePipeline::Pipeline").values()
    others = [
        action(stage["Name"], a["Name"], "Succeeded", started=0)
        for stage in pipeline["Properties"]["Stages"]
        for a in stage["Actions"]
        if a["ActionTypeId"]["Provider"] not in ("ECS", "CodeDeployToECS")
    ]
    staging, eu, asia = (scenario.stacks[key] for key in scenario.stacks)
    assert [s.region for s in (staging, eu, asia)] == ["eu-west-1", "eu-west-2", "ap-southeast-1"]
    stage_of = {id(stack): stage for (stage, _), stack in scenario.stacks.items()}  # each wave has its stage

    def deploy(stack, status):
        return action(stage_of[id(stack)], f"Deploy-{stack.region}", status, started=5, region=stack.region)

    scenario.poll("InProgress", [*others, deploy(staging, "Succeeded"), deploy(eu, "InProgress")])
    ecs_service_deployment(scenario, staging, status="SUCCESSFUL", stage="CLEAN_UP", weight=100.0)
    ecs_service_deployment(scenario, eu, status="IN_PROGRESS", stage="PRODUCTION_TRAFFIC_SHIFT", weight=50.0)
    scenario.poll(
        "Failed", [*others, deploy(staging, "Succeeded"), deploy(eu, "Succeeded"), deploy(asia, "Failed")]
    )
    ecs_service_deployment(scenario, eu, status="SUCCESSFUL", stage="CLEAN_UP", weight=100.0)
    ecs_service_deployment(
        scenario,
        asia,
        status="ROLLBACK_SUCCESSFUL",
        stage="BAKE_TIME",
        weight=100.0,
        rollback={"reason": "alarm webapp-ap-southeast-1-Green5xx in ALARM"},
    )
    world.expect(
        "codepipeline",
        scenario.home,
        "list_pipeline_executions",
        {"pipelineExecutionSummaries": []},
        {"pipelineName": scenario.pipeline, "maxResults": 10},
    )
    for stack in (staging, eu, asia):
        expect_summary_row(
            world,
            stack,
            revision=6 if stack is asia else 7,
            digest=OLD if stack is asia else NEW,
            engine="ecs",
        )
    code, said = scenario.release()
    assert code == 1
    text = "\n".join(said)
    assert (
        "staging eu-west-1 | Succeeded | sd-eu-west-1 | clean up | 100% traffic on the new revision" in text
    )
    assert (
        "eu-west-2 | InProgress | sd-eu-west-2 | production traffic shift | 50% traffic on the new revision"
        in text
    )
    assert "rollback successful: alarm webapp-ap-southeast-1-Green5xx in ALARM" in text
    rows, addresses = summary_of(said, "Failed")
    assert [line.split()[:4] for line in rows] == [
        ["region", "result", "task", "definition"],
        ["staging", "eu-west-1", "Succeeded", "webapp-staging-eu-west-1-web:7"],
        ["eu-west-2", "Succeeded", "webapp-eu-west-2-web:7", NEW[:19]],
        ["ap-southeast-1", "Failed", "webapp-ap-southeast-1-web:6", OLD[:19]],
        ["!", "rollback", "successful:", "alarm"],
    ]
    assert rows[-1] == "      ! rollback successful: alarm webapp-ap-southeast-1-Green5xx in ALARM"
    assert [line.split() for line in addresses] == [
        ["staging", "eu-west-1", address(staging)],
        ["eu-west-2", address(eu)],
        ["ap-southeast-1", address(asia)],
    ]


def test_a_manual_approval_is_shown_as_waiting():
    release = Release.__new__(Release)
    progress = Progress("exec-2")
    waiting = action("Approve", "Approve", "InProgress", started=3)
    waiting["input"] = {
        "actionTypeId": {"category": "Approval", "owner": "AWS", "provider": "Manual", "version": "1"}
    }
    release.apply(progress, [waiting], {})
    assert progress.stages == {"Approve": "waiting for approval (console or put-approval-result)"}


def test_the_live_view_is_a_table_of_regions():
    progress = Progress(
        "exec-2",
        stages={"Source": "Succeeded", "Deploy_to_Production": "InProgress"},
        regions={
            "a": RegionProgress(
                label="eu-west-2",
                region="eu-west-2",
                stage="Deploy_to_Production",
                status="InProgress",
                deployment="d-EU",
                step="AllowTraffic (7/8)",
                traffic=40,
                started=60.0,
            ),
            "b": RegionProgress(
                label="ap-southeast-1", region="ap-southeast-1", stage="Deploy_to_Production"
            ),
        },
    )
    console = Console(record=True, width=120, force_terminal=True)
    with LiveView(console) as view:
        view.update(progress, 200.0)
    shown = console.export_text()
    assert "pipeline execution exec-2 (3m20s)" in shown
    row = next(line for line in shown.splitlines() if "eu-west-2" in line)
    for cell in ("InProgress", "AllowTraffic (7/8)", "40%", "2m20s", "d-EU"):
        assert cell in row
    assert "Waiting" in next(line for line in shown.splitlines() if "ap-southeast-1" in line)
    assert render(progress, 200.0) is not None


def test_a_duration_is_never_negative():
    """Clock skew puts AWS's start time after this machine's now; an end can be reported before its start."""
    assert minutes(118.9) == "1m58s"
    assert minutes(-118) == "0m00s"
    skewed = RegionProgress(
        "eu-west-2", "eu-west-2", "Deploy_to_Production", status="InProgress", started=130.0
    )
    assert skewed.elapsed(12.0) == "0m00s"
    backwards = RegionProgress(
        "ap-southeast-1", "ap-southeast-1", "Deploy_to_Production", started=90.0, ended=60.0
    )
    assert backwards.elapsed(500.0) == "0m00s"
    console = Console(record=True, width=120, force_terminal=True)
    with LiveView(console) as view:
        view.update(Progress("exec-2", regions={"a": skewed, "b": backwards}), 12.0)
    shown = console.export_text()
    rows = [line for line in shown.splitlines() if "eu-west-2" in line or "ap-southeast-1" in line]
    assert rows
    assert all("0m00s" in line for line in rows)
    assert not re.search(r"-\d+m\d\ds", shown)


def test_the_source_archive_is_the_directory_with_its_dockerfile_at_the_root(tmp_path, default_synth):
    source = tmp_path / "app"
    (source / "src").mkdir(parents=True)
    (source / "Dockerfile").write_text("FROM scratch\n")
    (source / "src" / "main.py").write_text("print('hi')\n")
    (source / ".git").mkdir()
    (source / ".git" / "HEAD").write_text("ref: refs/heads/main\n")
    world = World(PERMISSIONS)
    scenario = Scenario(default_synth, world)
    scenario.upload()
    archive = tmp_path / "source.zip"
    release = Release(scenario.assembly, world.aws(), say=lambda _: None, archive=archive)
    release.refuse_when_halted(scenario.pipeline)  # not halted: nothing said
    assert release.start(scenario.pipeline, source) == "exec-2"
    with zipfile.ZipFile(io.BytesIO(archive.read_bytes())) as archive:
        assert archive.namelist() == ["Dockerfile", "src/main.py"]


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda d: d / "missing", "is not a directory"),
        (lambda d: d, "has no Dockerfile at its root"),
    ],
)
def test_a_source_without_a_dockerfile_is_refused_before_anything_is_uploaded(
    tmp_path, default_synth, make, message
):
    world = World(PERMISSIONS)
    scenario = Scenario(default_synth, world)
    release = Release(scenario.assembly, world.aws(), say=lambda _: None)
    with pytest.raises(OperatorError, match=message):
        release.check(make(tmp_path))
    world.assert_done()


def test_a_github_source_releases_the_branch_head_and_refuses_a_directory(synth_cache, tmp_path):
    world = World(PERMISSIONS)
    assembly = CloudAssembly.read(synth_cache("github").outdir)
    release = Release(assembly, world.aws(), say=lambda _: None)
    assert release.source == PipelineSource(
        provider="CodeStarSourceConnection", repository="acme/shop", branch="main"
    )
    with pytest.raises(OperatorError, match="releases acme/shop@main from GitHub; push there"):
        release.check(tmp_path)
    world.expect(
        "codepipeline",
        "eu-west-2",
        "start_pipeline_execution",
        {"pipelineExecutionId": "exec-9"},
        {"name": "pipe"},
    )
    assert release.start("pipe", None) == "exec-9"
    world.assert_done()


def test_an_execution_that_never_starts_is_reported(default_synth):
    world = World(PERMISSIONS)
    scenario = Scenario(default_synth, world)
    clock = iter(minutes_after(m) for m in (0, 0, 1, 6))
    release = Release(scenario.assembly, world.aws(), say=lambda _: None, clock=lambda: next(clock))
    empty = {"pipelineExecutionSummaries": []}
    for _ in range(2):
        world.expect("codepipeline", "eu-west-2", "list_pipeline_executions", empty)
    with pytest.raises(
        OperatorError, match="no execution of pipe started for source version v2 within 5 minutes"
    ):
        release.execution_of("pipe", "v2")


def test_a_pipeline_that_is_not_deployed_is_named(default_synth):
    world = World(PERMISSIONS)
    scenario = Scenario(default_synth, world)
    world.fail(
        "cloudformation",
        "eu-west-2",
        "list_stack_resources",
        "ValidationError",
        "Stack with id webapp-pipeline does not exist",
    )
    release = Release(scenario.assembly, world.aws(), say=lambda _: None)
    with pytest.raises(
        OperatorError,
        match="the pipeline stack webapp-pipeline is not deployed in eu-west-2; run make deploy",
    ):
        release.pipeline_name()


def test_release_refuses_without_credentials_or_with_the_placeholder_account(default_synth, tmp_path):
    placeholder = tool("operate/release.py", str(default_synth.outdir))
    assert placeholder.returncode == 1
    assert placeholder.stderr.startswith("error: the account is the placeholder")
    assert len(placeholder.stderr.splitlines()) == 1
    assembly = for_account(default_synth.outdir, tmp_path / "out")
    missing = tool("operate/release.py", str(assembly), env=without_credentials(tmp_path))
    assert missing.returncode == 1
    assert missing.stderr == (
        "error: no AWS credentials found; configure them (aws configure, AWS_PROFILE or AWS_ACCESS_KEY_ID/"
        "AWS_SECRET_ACCESS_KEY) and run the command again\n"
    )
    assert missing.stdout == ""


def test_a_retried_stage_shows_its_newest_attempt():
    release = Release.__new__(Release)
    release.begun, release.clock = minutes_after(0), lambda: minutes_after(20)
    progress = Progress(
        "exec-2",
        regions={
            "Deploy_to_Production/Deploy-eu-west-2": RegionProgress(
                label="eu-west-2", region="eu-west-2", stage="Deploy_to_Production"
            )
        },
    )
    failed = action("Deploy_to_Production", "Deploy-eu-west-2", "Failed", started=5, region="eu-west-2")
    retried = {
        **action("Deploy_to_Production", "Deploy-eu-west-2", "InProgress", started=12, region="eu-west-2"),
        "actionExecutionId": "retry",
    }
    seen = []
    release.deployment_of = lambda row, a, _: seen.append(a["actionExecutionId"])
    resources = {"Deploy_to_Production/Deploy-eu-west-2": None}
    release.apply(progress, [failed], resources)
    row = progress.regions["Deploy_to_Production/Deploy-eu-west-2"]
    assert (row.status, row.ended) == ("Failed", 12 * 60)
    # Retried: the list now holds both attempts, the failed one last.
    release.apply(progress, [retried, failed], resources)
    assert (row.status, row.attempt, row.ended) == ("InProgress", "retry", None)
    assert progress.stages == {"Deploy_to_Production": "InProgress"}
    assert seen == [failed["actionExecutionId"], "retry"]


def test_a_quota_error_is_not_waited_out():
    """LimitExceededException is a quota for CodePipeline and CodeDeploy, not a rate: reported at once."""
    world = World(PERMISSIONS)
    world.fail("codepipeline", "eu-west-2", "start_pipeline_execution", "LimitExceededException")
    with pytest.raises(Exception, match="LimitExceededException"):
        world.aws().call("codepipeline", "eu-west-2", "start_pipeline_execution", name="p")
    assert world.slept == []


def test_a_bad_source_is_refused_before_any_call(default_synth, tmp_path):
    world = World(PERMISSIONS)
    release = Release(CloudAssembly.read(default_synth.outdir), world.aws(), say=lambda _: None)
    with pytest.raises(OperatorError, match="has no Dockerfile at its root"):
        release.run(tmp_path, LineView(lambda _: None))
    assert world.calls == []


def test_ctrl_c_stops_watching_with_one_line(monkeypatch, capsys):
    import tools.operate.release as release_tool

    def interrupted(*_args, **_kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(release_tool, "ready_assembly", lambda _: None)
    monkeypatch.setattr(release_tool, "operator_aws", lambda *_a: None)
    monkeypatch.setattr(release_tool.Release, "__init__", lambda *_a, **_k: None)
    monkeypatch.setattr(release_tool.Release, "run", interrupted)
    assert release_tool.main(["cdk.out"]) == 130
    assert (
        capsys.readouterr().err
        == "stopped watching; the release goes on (make status shows where it stands)\n"
    )


def test_the_default_back_off_waits_a_random_half_to_all_of_it():
    shares = {Aws(lambda *_: None).jitter() for _ in range(200)}
    assert min(shares) >= 0.5
    assert max(shares) <= 1.0
    assert len(shares) > 1


def test_a_halted_pipeline_is_refused_before_anything_is_uploaded(default_synth):
    """A release started while make halt holds the pipeline would wait at the disabled transition for good."""
    scenario = Scenario(default_synth, World(PERMISSIONS))
    scenario.resources()
    halted = {"enabled": False, "disabledReason": "make halt - checkout errors"}
    scenario.upload(
        stages=[{"stageName": "Source"}, {"stageName": "Build", "inboundTransitionState": halted}]
    )
    with pytest.raises(OperatorError) as refused:
        scenario.release()
    assert str(refused.value) == (
        f"{scenario.pipeline} is halted before Build (make halt - checkout errors): a release would wait there; "
        "run make resume first (make status shows the halt), then make release again"
    )
    scenario.world.assert_done()


def test_a_deployment_that_keeps_blue_shows_the_time_it_has_left():
    """A baked wave's bake is its regions' keeping of blue: the ECS target succeeded, the deployment still in
    progress; the time left counts from the target's last update (GetDeployment's own termination wait)."""
    row = RegionProgress("eu-west-2", "eu-west-2", "Deploy_to_Production_wave_1")
    events = [{"lifecycleEventName": n, "status": "Succeeded", "endTime": minutes_after(9)} for n in EVENTS]
    target = {"status": "Succeeded", "lastUpdatedAt": minutes_after(10), "lifecycleEvents": events}
    wait = {
        "terminateBlueInstancesOnDeploymentSuccess": {
            "action": "TERMINATE",
            "terminationWaitTimeInMinutes": 30,
        }
    }
    info = {"status": "InProgress", "blueGreenDeploymentConfiguration": wait}
    keeping_blue(row, info, target)
    assert (row.step, row.until) == ("keeping blue, its alarms watching", minutes_after(40))
    # The live table counts down to it; the plain lines say it once.
    assert row.left(minutes_after(22)) == "keeping blue, its alarms watching: 18m00s left"
    assert f"until {minutes_after(40):%Y-%m-%d %H:%M} UTC" in row.line()
    # Without the deployment's termination wait, no time is made up.
    unknown = RegionProgress("eu-west-2", "eu-west-2", "Deploy_to_Production_wave_1")
    keeping_blue(unknown, {"status": "InProgress"}, target)
    assert (unknown.step, unknown.until) == ("keeping blue, its alarms watching", None)
    assert unknown.left(minutes_after(22)) == "keeping blue, its alarms watching"
    # Still shifting (the target not yet succeeded), or the deployment over: the lifecycle step stays.
    for status, target_status in (("InProgress", "InProgress"), ("Succeeded", "Succeeded")):
        other = RegionProgress(
            "eu-west-2", "eu-west-2", "Deploy_to_Production_wave_1", step="AllowTraffic (7/8)"
        )
        keeping_blue(other, {**info, "status": status}, {**target, "status": target_status})
        assert other.step == "AllowTraffic (7/8)"


def test_an_ecs_deployment_in_its_bake_time_shows_when_the_bake_ends():
    """ECS gives no start of the bake: it is counted from the service deployment's last update (its move into
    BAKE_TIME), with the bake time the deployment itself reports."""
    baking = {
        "lifecycleStage": "BAKE_TIME",
        "updatedAt": minutes_after(12),
        "deploymentConfiguration": {"bakeTimeInMinutes": 30},
    }
    assert baking_until(baking) == minutes_after(42)
    assert baking_until({**baking, "lifecycleStage": "PRODUCTION_TRAFFIC_SHIFT"}) is None
    assert baking_until({**baking, "deploymentConfiguration": {}}) is None
    assert baking_until({key: value for key, value in baking.items() if key != "updatedAt"}) is None
