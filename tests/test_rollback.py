"""make rollback on stubbed AWS: which release it returns to, how (stage rollback or one region), what it refuses."""

from __future__ import annotations

import pytest
from aws_world import (
    ACCOUNT,
    World,
    expect_running,
    expect_service,
    expect_stack_resources,
    minutes_after,
    physical,
    task_definition_arn,
)
from conftest import for_account, tool, without_credentials
from test_release import EVENTS, Scenario

from tools.cloud_assembly import CloudAssembly
from tools.operate.cdk_commands import OperatorError
from tools.operate.release_progress import LineView
from tools.operate.rollback import PERMISSIONS, Rollback
from tools.operate.rollback_target import choose
from tools.plan.release_plan import plan_of

OLD, NEW = "sha256:" + "a" * 64, "sha256:" + "b" * 64
PRODUCTION = "Deploy_to_Production"


def summary(execution: str, *, started: float, kind: str = "STANDARD", status: str = "Succeeded", **extra):
    return {
        "pipelineExecutionId": execution,
        "status": status,
        "startTime": minutes_after(started),
        "executionType": kind,
        "sourceRevisions": [{"actionName": "Source", "revisionId": f"v-{execution}"}],
        **extra,
    }


class Stubbed:
    """The calls one rollback makes, queued in the order each client sees them."""

    def __init__(self, synthesized, world: World) -> None:
        self.scenario = Scenario(synthesized, world)
        self.world, self.home = world, self.scenario.home
        self.assembly = self.scenario.assembly
        plan = plan_of(self.assembly)
        self.production = [a for a in plan.deploy_actions if a.environment == "production"]
        self.stacks = {a.region: self.assembly.stacks[a.stack] for a in self.production}
        self.pipeline = self.scenario.pipeline
        self.engine = self.production[0].engine

    def call(self, operation: str, response: dict, params: dict) -> None:
        self.world.expect("codepipeline", self.home, operation, response, params)

    def state(self, latest: dict | None, *, version: int = 4, stages: dict[str, dict] | None = None) -> None:
        """The pipeline's stack, then GetPipelineState: each production stage's latest execution."""
        expect_stack_resources(self.world, self.scenario.pipeline_stack)
        states = []
        every = {a.stage: latest for a in self.production}  # each production stage on one release
        for name, execution in (stages or every).items():
            stage: dict = {"stageName": name, "inboundTransitionState": {"enabled": True}}
            if execution:
                stage["latestExecution"] = execution
            states.append(stage)
        state = {"pipelineName": self.pipeline, "pipelineVersion": version, "stageStates": states}
        self.call("get_pipeline_state", state, {"name": self.pipeline})

    def recent(self, *executions: dict, token: str | None = None, more: str | None = None) -> None:
        """A page of ListPipelineExecutions (no filter), after ``token``, with ``more`` to come."""
        self.call(
            "list_pipeline_executions",
            {"pipelineExecutionSummaries": list(executions), **({"nextToken": more} if more else {})},
            {"pipelineName": self.pipeline, "maxResults": 100, **({"nextToken": token} if token else {})},
        )

    def execution(self, execution: str, **fields) -> None:
        self.call(
            "get_pipeline_execution",
            {"pipelineExecution": {"pipelineExecutionId": execution, **fields}},
            {"pipelineName": self.pipeline, "pipelineExecutionId": execution},
        )

    def regions(self, regions: list[str]) -> None:
        for region in regions:
            expect_stack_resources(self.world, self.stacks[region])

    def target_actions(self, execution: str, regions: list[str]) -> None:
        details = []
        for action in self.production:
            if action.region not in regions:
                continue
            details.append(
                {
                    "pipelineExecutionId": execution,
                    "actionExecutionId": f"{execution}-{action.region}",
                    "stageName": action.stage,
                    "actionName": action.name,
                    "startTime": minutes_after(-60),
                    "lastUpdateTime": minutes_after(-50),
                    "status": "Succeeded",
                    "output": {"executionResult": {"externalExecutionId": f"d-{execution}-{action.region}"}},
                }
            )
        self.call(
            "list_action_executions",
            {"actionExecutionDetails": details},
            {"pipelineName": self.pipeline, "filter": {"pipelineExecutionId": execution}},
        )

    def application(self, region: str) -> str:
        stack = self.stacks[region]
        (logical_id,) = stack.of_type("AWS::CodeDeploy::Application")
        return physical(stack, logical_id, "AWS::CodeDeploy::Application")

    def group(self, region: str) -> str:
        stack = self.stacks[region]
        (logical_id,) = stack.of_type("AWS::CodeDeploy::DeploymentGroup")
        return physical(stack, logical_id, "AWS::CodeDeploy::DeploymentGroup")

    def appspec(self, region: str, revision: int) -> dict:
        content = (
            "version: 0.0\nResources:\n  - TargetService:\n      Type: AWS::ECS::Service\n      Properties:\n"
            f'        TaskDefinition: "{task_definition_arn(self.stacks[region], revision)}"\n'
            '        LoadBalancerInfo:\n          ContainerName: "web"\n          ContainerPort: 8080\n'
            'Hooks:\n  - AfterAllowTestTraffic: "webapp-test-traffic"\n'
        )
        return {"revisionType": "AppSpecContent", "appSpecContent": {"content": content, "sha256": "c0ffee"}}

    def target_revision(self, execution: str, region: str, revision: int) -> None:
        stack = self.stacks[region]
        if self.engine == "codedeploy":
            reference = {"revisionType": "AppSpecContent", "appSpecContent": {"sha256": "c0ffee"}}
            self.world.expect(
                "codedeploy",
                region,
                "get_deployment",
                {"deploymentInfo": {"deploymentId": f"d-{execution}-{region}", "revision": reference}},
                {"deploymentId": f"d-{execution}-{region}"},
            )
            self.world.expect(
                "codedeploy",
                region,
                "get_application_revision",
                {"applicationName": self.application(region), "revision": self.appspec(region, revision)},
                {"applicationName": self.application(region), "revision": reference},
            )
        else:
            cluster, service = f"{stack.name}-cluster", f"{stack.name}-service"
            arn = f"arn:aws:ecs:{region}:{ACCOUNT}:service-deployment/{cluster}/{service}/sd-{execution}"
            window = {"after": minutes_after(-60), "before": minutes_after(-50)}
            self.world.expect(
                "ecs",
                region,
                "list_service_deployments",
                {"serviceDeployments": [{"serviceDeploymentArn": arn, "createdAt": minutes_after(-59)}]},
                {"cluster": cluster, "service": service, "maxResults": 100, "createdAt": window},
            )
            self.world.expect(
                "ecs",
                region,
                "describe_service_deployments",
                {
                    "serviceDeployments": [
                        {"serviceDeploymentArn": arn, "targetServiceRevision": {"arn": f"{arn}-rev"}}
                    ]
                },
                {"serviceDeploymentArns": [arn]},
            )
            self.world.expect(
                "ecs",
                region,
                "describe_service_revisions",
                {
                    "serviceRevisions": [
                        {
                            "serviceRevisionArn": f"{arn}-rev",
                            "taskDefinition": task_definition_arn(stack, revision),
                        }
                    ]
                },
                {"serviceRevisionArns": [f"{arn}-rev"]},
            )
        self.world.expect(
            "ecs",
            region,
            "describe_task_definition",
            {
                "taskDefinition": {
                    "taskDefinitionArn": task_definition_arn(stack, revision),
                    "containerDefinitions": [
                        {"name": "web", "image": f"{ACCOUNT}.dkr.ecr.{region}.amazonaws.com/webapp@{OLD}"}
                    ],
                }
            },
            {"taskDefinition": task_definition_arn(stack, revision)},
        )

    def running(self, region: str, *, revision: int, digest: str) -> None:
        expect_running(self.world, self.stacks[region], revision=revision, digest=digest, engine=self.engine)

    def previewed(self, target: str, regions: list[str]) -> None:
        """What the command reads before it asks: the regions' stacks, the target's actions and revision 5 (OLD)
        in each region, then what each serves now, revision 7 (NEW)."""
        self.regions(regions)
        self.target_actions(target, regions)
        for region in regions:
            self.target_revision(target, region, 5)
        for region in regions:
            self.running(region, revision=7, digest=NEW)

    def rollback(self, region: str | None = None, *, confirm=lambda _: True) -> tuple[int, list[str]]:
        said: list[str] = []
        command = Rollback(
            self.assembly,
            self.world.aws(),
            say=said.append,
            confirm=confirm,
            clock=lambda: minutes_after(sum(self.world.slept) / 60),
            poll_seconds=10,
        )
        code = command.run(region, LineView(said.append))
        self.world.assert_done()
        return code, said


def before_the_rollback(stubbed: Stubbed, *, version: int = 4) -> None:
    """exec-5 serves production; exec-4 was a rollback; exec-3 is the last release before exec-5."""
    stubbed.state(
        {"pipelineExecutionId": "exec-5", "status": "Succeeded", "type": "STANDARD"}, version=version
    )
    stubbed.recent(
        summary("exec-5", started=0),
        summary("exec-4", started=-30, kind="ROLLBACK"),
        summary("exec-3", started=-60),
    )


def one_region_previewed(stubbed: Stubbed, region: str, *, version: int = 4) -> None:
    """What one region's rollback reads before it asks: exec-3's revision 5 (OLD) where revision 7 (NEW) runs."""
    before_the_rollback(stubbed, version=version)
    stubbed.previewed("exec-3", [region])


def roll_back_every_region(synthesized, confirm=lambda _: True) -> tuple[Stubbed, int, list[str]]:
    """The default app's production back on exec-3 through a stage rollback (also the docs' sample)."""
    stubbed = Stubbed(synthesized, World(PERMISSIONS))
    regions = [a.region for a in stubbed.production]
    before_the_rollback(stubbed)
    stubbed.execution("exec-3", pipelineVersion=4)
    stubbed.previewed("exec-3", regions)
    stubbed.call(
        "rollback_stage",
        {"pipelineExecutionId": "exec-6"},
        {"pipelineName": stubbed.pipeline, "stageName": PRODUCTION, "targetPipelineExecutionId": "exec-3"},
    )
    stubbed.execution("exec-6", pipelineName=stubbed.pipeline, status="Succeeded")
    actions = []
    for action in stubbed.production:
        actions.append(
            {
                "pipelineExecutionId": "exec-6",
                "actionExecutionId": f"exec-6-{action.region}",
                "stageName": PRODUCTION,
                "actionName": action.name,
                "startTime": minutes_after(1),
                "lastUpdateTime": minutes_after(9),
                "status": "Succeeded",
                "output": {"executionResult": {"externalExecutionId": f"d-exec-6-{action.region}"}},
            }
        )
    stubbed.call(
        "list_action_executions",
        {"actionExecutionDetails": actions},
        {"pipelineName": stubbed.pipeline, "filter": {"pipelineExecutionId": "exec-6"}},
    )
    for region in regions:
        stubbed.scenario.code_deploy(region, f"d-exec-6-{region}", "Succeeded", done=len(EVENTS), green=100)
    for region in regions:
        stubbed.running(region, revision=8, digest=OLD)
    code, said = stubbed.rollback(confirm=confirm)
    return stubbed, code, said


def test_every_region_returns_to_the_last_release_before_the_current_one_through_a_stage_rollback(
    default_synth,
):
    asked: list[str] = []
    stubbed, code, said = roll_back_every_region(default_synth, lambda scope: asked.append(scope) or True)
    assert code == 0
    assert asked == ["production"]
    assert said[0].startswith(
        "==> roll back every production region to release exec-3 (started 2026-11-27 08:00 UTC, source v-exec-3), "
        "the last before exec-5 that succeeded everywhere"
    )
    stack = stubbed.stacks["eu-west-2"]
    assert said[1].split() == ["region", "now", "after", "the", "rollback"]
    assert said[2].split() == ["eu-west-2", f"{stack.name}-web:7", NEW[:19], f"{stack.name}-web:5", OLD[:19]]
    assert said[4].startswith(f"    how: CodePipeline's stage rollback of {PRODUCTION}")
    assert (
        f"==> {PRODUCTION}: rollback execution exec-6 started (Ctrl-C stops watching, not the rollback)"
        in said
    )
    assert "==> rollback to exec-3: Succeeded" in said
    assert said[-2].split() == ["eu-west-2", f"{stack.name}-web:8", OLD[:19], "yes"]


def test_a_release_from_before_the_pipeline_changed_is_refused_and_the_one_region_path_named(default_synth):
    stubbed = Stubbed(default_synth, World(PERMISSIONS))
    before_the_rollback(stubbed, version=5)
    stubbed.execution("exec-3", pipelineVersion=4)
    with pytest.raises(
        OperatorError, match=r"ran in version 4 of .*changed to version 5.*make rollback REGION="
    ):
        stubbed.rollback()
    stubbed.world.assert_done()


def test_one_region_redeploys_the_targets_own_codedeploy_revision_and_leaves_the_pipeline_alone(
    default_synth,
):
    stubbed = Stubbed(default_synth, World(PERMISSIONS))
    region = "ap-southeast-1"
    one_region_previewed(stubbed, region, version=5)  # another version: one region needs no stage rollback
    stubbed.world.expect(
        "codedeploy",
        region,
        "create_deployment",
        {"deploymentId": "d-ROLLBACK"},
        {
            "applicationName": stubbed.application(region),
            "deploymentGroupName": stubbed.group(region),
            "revision": stubbed.appspec(region, 5),
            "description": f"make rollback to {stubbed.stacks[region].name}-web:5",
        },
    )
    for status in ("InProgress", "Succeeded"):
        stubbed.world.expect(
            "codedeploy",
            region,
            "get_deployment",
            {"deploymentInfo": {"deploymentId": "d-ROLLBACK", "status": status}},
            {"deploymentId": "d-ROLLBACK"},
        )
    stubbed.running(region, revision=8, digest=OLD)
    asked: list[str] = []
    code, said = stubbed.rollback(region, confirm=lambda scope: asked.append(scope) or True)
    assert code == 0
    assert asked == [region]
    assert said[0].startswith(f"==> roll back {region} to release exec-3")
    assert "how: a CodeDeploy deployment of that revision, with its hooks and alarms" in said[3]
    assert "==> d-ROLLBACK: Succeeded" in said
    assert not any("codepipeline" in call and "rollback_stage" in call for call in stubbed.world.calls)


def test_one_region_on_the_ecs_engine_updates_the_service_to_the_targets_revision(synth_cache):
    stubbed = Stubbed(synth_cache("ecs"), World(PERMISSIONS))
    assert stubbed.engine == "ecs"
    region = "ap-southeast-1"
    one_region_previewed(stubbed, region)
    stack = stubbed.stacks[region]
    cluster, service = f"{stack.name}-cluster", f"{stack.name}-service"
    expect_service(stubbed.world, stack, {"status": "ACTIVE", "currentServiceDeployment": "sd-old"})
    stubbed.world.expect(
        "ecs",
        region,
        "update_service",
        {},
        {"cluster": cluster, "service": service, "taskDefinition": task_definition_arn(stack, 5)},
    )
    for current, status in (("sd-old", None), ("sd-new", "IN_PROGRESS"), ("sd-new", "SUCCESSFUL")):
        expect_service(stubbed.world, stack, {"status": "ACTIVE", "currentServiceDeployment": current})
        if status:
            stubbed.world.expect(
                "ecs",
                region,
                "describe_service_deployments",
                {"serviceDeployments": [{"serviceDeploymentArn": current, "status": status}]},
                {"serviceDeploymentArns": [current]},
            )
    stubbed.running(region, revision=5, digest=OLD)
    code, said = stubbed.rollback(region)
    assert code == 0
    assert f"    {region}: in progress" in said
    assert f"    {region}: successful" in said
    assert said[-1].split()[-1] == "yes"


def test_a_region_left_on_another_image_fails_the_rollback(default_synth):
    stubbed = Stubbed(default_synth, World(PERMISSIONS))
    region = "eu-west-2"
    one_region_previewed(stubbed, region)
    stubbed.world.expect("codedeploy", region, "create_deployment", {"deploymentId": "d-ROLLBACK"})
    stubbed.world.expect(
        "codedeploy",
        region,
        "get_deployment",
        {
            "deploymentInfo": {
                "deploymentId": "d-ROLLBACK",
                "status": "Stopped",
                "errorInformation": {"message": "alarm"},
            }
        },
        {"deploymentId": "d-ROLLBACK"},
    )
    stubbed.running(region, revision=7, digest=NEW)
    code, said = stubbed.rollback(region)
    assert code == 1
    assert "==> d-ROLLBACK: Stopped (alarm)" in said
    assert said[-1].split()[-1] == "no"


def test_after_a_rollback_the_next_one_goes_further_back(default_synth):
    stubbed = Stubbed(default_synth, World(PERMISSIONS))
    stubbed.state({"pipelineExecutionId": "exec-6", "status": "Succeeded", "type": "ROLLBACK"})
    stubbed.recent(
        summary("exec-6", started=10, kind="ROLLBACK"), summary("exec-5", started=0), more="page-2"
    )
    stubbed.execution(
        "exec-6", executionType="ROLLBACK", rollbackMetadata={"rollbackTargetPipelineExecutionId": "exec-3"}
    )
    stubbed.recent(summary("exec-3", started=-60), summary("exec-2", started=-90), token="page-2")
    stubbed.execution("exec-2", pipelineVersion=5)
    with pytest.raises(OperatorError, match="cannot roll back to exec-2"):
        stubbed.rollback()
    stubbed.world.assert_done()


@pytest.mark.parametrize(
    ("latest", "succeeded", "refusal"),
    [
        (None, [], "nothing to roll back: no release has reached Deploy_to_Production yet"),
        (
            {"pipelineExecutionId": "exec-5", "status": "Succeeded", "type": "STANDARD"},
            [summary("exec-5", started=0), summary("exec-4", started=-30, kind="ROLLBACK")],
            "nothing to roll back to: no release before exec-5 succeeded in every production region",
        ),
    ],
)
def test_nothing_to_roll_back_to_is_refused_in_one_line(default_synth, latest, succeeded, refusal):
    stubbed = Stubbed(default_synth, World(PERMISSIONS))
    stubbed.state(latest)
    stubbed.recent(*succeeded)
    with pytest.raises(OperatorError, match=refusal):
        stubbed.rollback()
    stubbed.world.assert_done()


@pytest.mark.parametrize(("kind", "named"), [("STANDARD", "a release"), ("ROLLBACK", "a rollback")])
def test_a_release_or_rollback_in_flight_is_refused_and_named(default_synth, kind, named):
    stubbed = Stubbed(default_synth, World(PERMISSIONS))
    stubbed.state({"pipelineExecutionId": "exec-5", "status": "Succeeded", "type": "STANDARD"})
    stubbed.recent(summary("exec-7", started=5, kind=kind, status="InProgress"), summary("exec-5", started=0))
    with pytest.raises(
        OperatorError, match=f"^{named} is in flight .*execution exec-7, InProgress.*stop-pipeline"
    ):
        stubbed.rollback()


def test_a_region_that_is_not_in_production_is_refused_before_any_call(synth_cache):
    world = World(PERMISSIONS)
    assembly = CloudAssembly.read(synth_cache("ecs").outdir)
    with pytest.raises(
        OperatorError, match=r"^REGION=eu-west-1 is not a production region .*eu-west-2, ap-southeast-1$"
    ):
        Rollback(assembly, world.aws()).run("eu-west-1", LineView(lambda _: None))
    assert world.calls == []


def test_not_confirmed_changes_nothing(default_synth):
    stubbed = Stubbed(default_synth, World(PERMISSIONS))
    region = "eu-west-2"
    one_region_previewed(stubbed, region)
    with pytest.raises(OperatorError, match="not confirmed; nothing was changed"):
        stubbed.rollback(region, confirm=lambda _: False)
    stubbed.world.assert_done()


def test_rollback_refuses_without_credentials_or_with_the_placeholder_account(default_synth, tmp_path):
    placeholder = tool("operate/rollback.py", str(default_synth.outdir), "--yes")
    assert placeholder.returncode == 1
    assert placeholder.stderr.startswith("error: the account is the placeholder")
    assert len(placeholder.stderr.splitlines()) == 1
    assembly = for_account(default_synth.outdir, tmp_path / "out")
    missing = tool("operate/rollback.py", str(assembly), "--yes", env=without_credentials(tmp_path))
    assert missing.returncode == 1
    assert missing.stderr.startswith("error: no AWS credentials found;")
    assert len(missing.stderr.splitlines()) == 1
    assert missing.stdout == ""


# --- choosing the target -----------------------------------------------------------------------


def test_when_waves_run_different_releases_only_the_stages_off_the_newest_good_one_move():
    running = {"Deploy_to_Production_wave_1": "exec-6", "Deploy_to_Production_wave_2": "exec-5"}
    history = [
        summary("exec-7", started=20, kind="ROLLBACK"),
        summary("exec-6", started=10, status="Failed"),
        summary("exec-5", started=0),
        summary("exec-3", started=-60),
    ]
    choice = choose(iter([]), history, running)
    assert choice.target_id == "exec-5"
    assert choice.stages == ["Deploy_to_Production_wave_1"]
    assert choice.current == "exec-6 and exec-5"


def test_the_history_is_read_only_as_far_as_the_target():
    pages = iter([[summary("exec-3", started=-60)], [summary("exec-2", started=-90)]])
    choice = choose(
        pages,
        [summary("exec-5", started=0), summary("exec-4", started=-30, status="Failed")],
        {"P": "exec-5"},
    )
    assert choice.target_id == "exec-3"
    assert next(pages) == [summary("exec-2", started=-90)]  # the second page was never read


def test_a_current_release_older_than_the_history_returns_to_the_newest_other_good_one():
    choice = choose(iter([]), [summary("exec-9", started=0), summary("exec-8", started=-5)], {"P": "exec-1"})
    assert choice.target_id == "exec-9"


def test_one_region_already_on_the_target_is_refused(default_synth):
    stubbed = Stubbed(default_synth, World(PERMISSIONS))
    region = "eu-west-2"
    before_the_rollback(stubbed)
    stubbed.regions([region])
    stubbed.target_actions("exec-3", [region])
    stubbed.target_revision("exec-3", region, 5)
    stubbed.running(region, revision=5, digest=OLD)
    with pytest.raises(OperatorError, match=r"^eu-west-2 already serves webapp-eu-west-2-web:5 .*exec-3$"):
        stubbed.rollback(region)
    stubbed.world.assert_done()


def test_a_stage_rollback_shows_the_built_image_where_a_deployment_is_no_longer_on_record(synth_cache):
    stubbed = Stubbed(synth_cache("staged"), World(PERMISSIONS))
    waves = sorted({a.stage for a in stubbed.production})
    assert waves == ["Deploy_to_Production_wave_1", "Deploy_to_Production_wave_2"]
    stubbed.state(
        None,
        stages={
            waves[0]: {"pipelineExecutionId": "exec-6", "status": "Succeeded", "type": "STANDARD"},
            waves[1]: {"pipelineExecutionId": "exec-7", "status": "Succeeded", "type": "ROLLBACK"},
        },
    )
    stubbed.recent(
        summary("exec-7", started=20, kind="ROLLBACK"),
        summary("exec-6", started=10, status="Failed"),
        summary("exec-5", started=0),
    )
    stubbed.execution(
        "exec-7", executionType="ROLLBACK", rollbackMetadata={"rollbackTargetPipelineExecutionId": "exec-5"}
    )
    stubbed.execution("exec-5", pipelineVersion=4)
    (first,) = [a for a in stubbed.production if a.stage == waves[0]]
    stubbed.regions([first.region])
    build = {
        "pipelineExecutionId": "exec-5",
        "actionExecutionId": "exec-5-build",
        "stageName": "Build",
        "actionName": "Build",
        "startTime": minutes_after(-70),
        "status": "Succeeded",
        "output": {"outputVariables": {"IMAGE_DIGEST": OLD}},
    }
    stubbed.call(
        "list_action_executions",
        {"actionExecutionDetails": [build]},
        {"pipelineName": stubbed.pipeline, "filter": {"pipelineExecutionId": "exec-5"}},
    )
    stubbed.running(first.region, revision=7, digest=NEW)
    said: list[str] = []
    with pytest.raises(OperatorError, match="not confirmed"):
        Rollback(stubbed.assembly, stubbed.world.aws(), say=said.append, confirm=lambda _: False).run(
            None, LineView(said.append)
        )
    stubbed.world.assert_done()
    assert said[0].startswith("==> roll back every production region to release exec-5 ")
    assert said[0].endswith("the last before exec-6 and exec-5 that succeeded everywhere")
    assert said[2].split()[0] == first.region
    assert said[2].endswith(f"a new revision {OLD[:19]}")
    assert (
        len([line for line in said if line.startswith(f"    {first.region}") or line.startswith("    ap-")])
        == 1
    )
    assert f"how: CodePipeline's stage rollback of {waves[0]} (" in said[3]


def test_every_wave_stage_is_rolled_back_at_once_and_a_failed_one_fails_the_rollback(synth_cache):
    stubbed = Stubbed(synth_cache("staged"), World(PERMISSIONS))
    waves = [a.stage for a in stubbed.production]
    regions = [a.region for a in stubbed.production]
    stubbed.state({"pipelineExecutionId": "exec-6", "status": "Succeeded", "type": "STANDARD"})
    stubbed.recent(summary("exec-6", started=10), summary("exec-5", started=0))
    stubbed.execution("exec-5", pipelineVersion=4)
    stubbed.previewed("exec-5", regions)
    for stage, execution in zip(waves, ("exec-7", "exec-8"), strict=True):
        stubbed.call(
            "rollback_stage",
            {"pipelineExecutionId": execution},
            {"pipelineName": stubbed.pipeline, "stageName": stage, "targetPipelineExecutionId": "exec-5"},
        )
    for action, execution, status in zip(
        stubbed.production, ("exec-7", "exec-8"), ("Succeeded", "Failed"), strict=True
    ):
        stubbed.execution(execution, pipelineName=stubbed.pipeline, status=status)
        detail = {
            "pipelineExecutionId": execution,
            "actionExecutionId": f"{execution}-{action.region}",
            "stageName": action.stage,
            "actionName": action.name,
            "startTime": minutes_after(1),
            "lastUpdateTime": minutes_after(9),
            "status": status,
            "output": {"executionResult": {"externalExecutionId": f"d-{execution}"}},
        }
        stubbed.call(
            "list_action_executions",
            {"actionExecutionDetails": [detail]},
            {"pipelineName": stubbed.pipeline, "filter": {"pipelineExecutionId": execution}},
        )
        # Singapore's wave has a deployment window: following reads its rule executions too (none here).
        stubbed.call(
            "list_rule_executions",
            {"ruleExecutionDetails": []},
            {"pipelineName": stubbed.pipeline, "filter": {"pipelineExecutionId": execution}},
        )
        stubbed.scenario.code_deploy(
            action.region,
            f"d-{execution}",
            status,
            done=len(EVENTS) if status == "Succeeded" else 3,
            green=100 if status == "Succeeded" else 0,
        )
    stubbed.running(regions[0], revision=8, digest=OLD)
    stubbed.running(regions[1], revision=7, digest=NEW)
    code, said = stubbed.rollback()
    assert code == 1
    calls = [c.split()[-1] for c in stubbed.world.calls if c.startswith("codepipeline")]
    first_follow = calls.index("get_pipeline_execution", calls.index("rollback_stage"))
    assert calls[first_follow - 2 : first_follow] == [
        "rollback_stage",
        "rollback_stage",
    ]  # both before following
    assert "==> rollback to exec-5: Failed" in said
    assert [line.split()[-1] for line in said[-2:]] == ["yes", "no"]
