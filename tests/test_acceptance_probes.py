"""The ECS engine's acceptance probes (tools/operate/acceptance_probes.py) against botocore Stubbers.

Each probe reads the integ_ecs_engine app's own assembly and AWS's answers, shaped by the API models; these
tests hold what each probe accepts and what it refuses, with the reason it gives.
"""

from __future__ import annotations

import subprocess

import pytest
from aws_world import (
    ACCOUNT,
    T0,
    World,
    expect_running,
    expect_service,
    expect_stack_resources,
    expect_tasks,
    minutes_after,
    physical,
)
from test_integ_apps import synthesized

from tools.cloud_assembly import CloudAssembly
from tools.operate import acceptance_probes as probes

DIGEST = "sha256:" + "d" * 64
IPS = ("10.0.1.5", "10.0.2.7")
HOOK_STAGES = (["POST_SCALE_UP"], ["POST_TEST_TRAFFIC_SHIFT"])


@pytest.fixture(scope="module")
def assembly(tmp_path_factory) -> CloudAssembly:
    return CloudAssembly.read(synthesized(tmp_path_factory, "integ_ecs_engine"))


@pytest.fixture
def quick(monkeypatch):
    """Settle within two polls, so that a probe that never settles is seen giving up."""
    monkeypatch.setattr(probes, "SETTLE_SECONDS", 2 * probes.POLL_SECONDS)


def names(stack) -> tuple[str, str]:
    return f"{stack.name}-cluster", f"{stack.name}-service"


def deployment_arn(stack, number: int) -> str:
    cluster, service = names(stack)
    return f"arn:aws:ecs:{stack.region}:{ACCOUNT}:service-deployment/{cluster}/{service}/d{number}"


def hook_arn(stack, index: int) -> str:
    return f"arn:aws:lambda:{stack.region}:{ACCOUNT}:function:{stack.name}-hook{index}"


def expect_hooked_service(world: World, stack) -> None:
    """The service, created at T0, with its two Lambda hooks and a pause (which names no function)."""
    hooks = [
        {"targetType": "AWS_LAMBDA", "hookTargetArn": hook_arn(stack, i), "lifecycleStages": stages}
        for i, stages in enumerate(HOOK_STAGES)
    ]
    hooks.append({"targetType": "PAUSE", "lifecycleStages": ["PRE_SCALE_UP"]})
    expect_service(world, stack, {"createdAt": T0, "deploymentConfiguration": {"lifecycleHooks": hooks}})


def expect_deployments(world: World, stack, briefs: list[dict]) -> None:
    cluster, service = names(stack)
    world.expect(
        "ecs",
        stack.region,
        "list_service_deployments",
        {"serviceDeployments": briefs},
        {"cluster": cluster, "service": service, "maxResults": 100},
    )


def brief(stack, number: int, status: str, *, started: float, finished: float) -> dict:
    return {
        "serviceDeploymentArn": deployment_arn(stack, number),
        "status": status,
        "createdAt": minutes_after(started),
        "startedAt": minutes_after(started),
        "finishedAt": minutes_after(finished),
    }


def expect_invocations(world: World, stack, index: int, counts: list[float]) -> None:
    for count in counts:
        world.expect(
            "cloudwatch",
            stack.region,
            "get_metric_statistics",
            {"Datapoints": [{"Sum": count, "Timestamp": T0}] if count else []},
            {
                "Namespace": "AWS/Lambda",
                "MetricName": "Invocations",
                "Dimensions": [{"Name": "FunctionName", "Value": f"{stack.name}-hook{index}"}],
                "StartTime": T0,
                "EndTime": minutes_after(30),
                "Period": probes.METRIC_PERIOD_SECONDS,
                "Statistics": ["Sum"],
            },
        )


def first_deployment(world: World, assembly: CloudAssembly, said: list[str]) -> None:
    probes.first_deployment(
        world.aws(), assembly, clock=lambda: minutes_after(30), sleep=world.slept.append, say=said.append
    )


def created(world: World, stack, *, invocations: tuple[list[float], list[float]] = ([1.0], [2.0])) -> None:
    expect_deployments(world, stack, [brief(stack, 1, "SUCCESSFUL", started=0, finished=12)])
    world.expect(
        "ecs",
        stack.region,
        "describe_service_deployments",
        {"serviceDeployments": [{"serviceDeploymentArn": deployment_arn(stack, 1), "status": "SUCCESSFUL"}]},
        {"serviceDeploymentArns": [deployment_arn(stack, 1)]},
    )
    expect_hooked_service(world, stack)
    for index, counts in enumerate(invocations):
        expect_invocations(world, stack, index, counts)


def test_the_first_deployment_holds_when_ecs_created_each_service_and_invoked_its_hooks(assembly):
    world, said = World(), []
    stacks = assembly.service_stacks()
    for stack in stacks:
        expect_stack_resources(world, stack)
    for stack in stacks:
        created(world, stack)
    first_deployment(world, assembly, said)
    world.assert_done()
    assert said == [
        f"==> {stack.name} ({stack.region}): created by one SUCCESSFUL deployment; 2 hook(s) invoked"
        for stack in stacks
    ]
    assert world.slept == []


def test_a_hook_ecs_never_invoked_fails_the_first_deployment_once_its_metric_has_had_time(assembly, quick):
    world = World()
    stacks = assembly.service_stacks()
    for stack in stacks:
        expect_stack_resources(world, stack)
    created(world, stacks[0], invocations=([1.0], [0.0, 0.0, 0.0]))
    with pytest.raises(probes.ProbeError) as refused:
        first_deployment(world, assembly, [])
    assert str(refused.value) == (
        f"{stacks[0].name} ({stacks[0].region}): ECS never invoked the hook {hook_arn(stacks[0], 1)} "
        "(POST_TEST_TRAFFIC_SHIFT) in the deployment that created the service (AWS/Lambda Invocations since "
        "then: 0)"
    )
    assert world.slept == [probes.POLL_SECONDS] * 2


def test_a_service_deployed_twice_before_any_release_is_not_a_first_deployment(assembly, quick):
    world = World()
    stacks = assembly.service_stacks()
    for stack in stacks:
        expect_stack_resources(world, stack)
    for _ in range(3):  # two polls and the last look
        expect_deployments(
            world,
            stacks[0],
            [
                brief(stacks[0], 1, "SUCCESSFUL", started=0, finished=12),
                brief(stacks[0], 2, "ROLLBACK_SUCCESSFUL", started=13, finished=20),
            ],
        )
    with pytest.raises(
        probes.ProbeError,
        match="expected the create's one SUCCESSFUL deployment, found SUCCESSFUL, ROLLBACK_SUCCESSFUL",
    ):
        first_deployment(world, assembly, [])


def expect_release(world: World, assembly: CloudAssembly, *, await_ended: float) -> None:
    """The pipeline's newest execution (began at minute 0) and its actions, the wave's wait ending then."""
    pipeline_stack, _ = assembly.pipeline()
    ids = expect_stack_resources(world, pipeline_stack)
    (pipeline_id,) = pipeline_stack.of_type("AWS::CodePipeline::Pipeline")
    name = ids[pipeline_id]
    world.expect(
        "codepipeline",
        pipeline_stack.region,
        "list_pipeline_executions",
        {
            "pipelineExecutionSummaries": [
                {"pipelineExecutionId": "e-1", "status": "Failed", "startTime": minutes_after(-90)},
                {"pipelineExecutionId": "e-2", "status": "Succeeded", "startTime": minutes_after(0)},
            ]
        },
        {"pipelineName": name, "maxResults": probes.RECENT_EXECUTIONS},
    )
    world.expect(
        "codepipeline",
        pipeline_stack.region,
        "list_action_executions",
        {
            "actionExecutionDetails": [
                {"actionName": "Deploy-eu-west-2", "status": "Succeeded", "lastUpdateTime": minutes_after(9)},
                {
                    "actionName": "Await-wave-1",
                    "status": "Succeeded",
                    "lastUpdateTime": minutes_after(await_ended),
                },
            ]
        },
        {"pipelineName": name, "filter": {"pipelineExecutionId": "e-2"}},
    )


def expect_migration(world: World, stack, *, exit_code: int, started: float) -> None:
    """The cluster's stopped tasks: a blue task the release replaced, an earlier release's migration (failed)
    and this release's migration, started at minute ``started``."""
    cluster, _ = names(stack)

    def task(name: str, started_by: str, minute: float, code: int) -> dict:
        return {
            "taskArn": f"arn:aws:ecs:{stack.region}:{ACCOUNT}:task/{cluster}/{name}",
            "startedBy": started_by,
            "startedAt": minutes_after(minute),
            "containers": [{"exitCode": code}],
        }

    tasks = [
        task("blue", "ecs-svc/123", -50, 137),
        task("m0", "migration-earlier-hook-execution", -60, 1),
        task("m1", "migration-hook-execution", started, exit_code),
    ]
    expect_tasks(world, stack.region, cluster, tasks, desiredStatus="STOPPED")


def test_the_waves_wait_holds_when_it_ended_after_every_regions_deployment_and_the_migration(assembly):
    world, said = World(), []
    expect_release(world, assembly, await_ended=20)
    stacks = assembly.service_stacks()
    for stack in stacks:
        expect_stack_resources(world, stack)
    for stack in stacks:
        expect_deployments(
            world,
            stack,
            [
                brief(stack, 1, "SUCCESSFUL", started=-60, finished=-50),
                brief(stack, 2, "SUCCESSFUL", started=3, finished=18),
            ],
        )
        expect_migration(world, stack, exit_code=0, started=4)
    probes.waited(world.aws(), assembly, say=said.append)
    world.assert_done()
    assert len(said) == 2


@pytest.mark.parametrize(
    ("await_ended", "migration_exit", "reason"),
    [
        (10, None, r"the wave's wait succeeded at 09:10:00, before the service deployment ended at 09:18:00"),
        (20, 1, r"the migration task exited \[1\]"),
    ],
    ids=["wait-ended-first", "migration-failed"],
)
def test_a_wave_wait_that_ended_first_or_a_failed_migration_fails_the_check(
    assembly, await_ended, migration_exit, reason
):
    world = World()
    expect_release(world, assembly, await_ended=await_ended)
    stacks = assembly.service_stacks()
    for stack in stacks:
        expect_stack_resources(world, stack)
    expect_deployments(world, stacks[0], [brief(stacks[0], 2, "SUCCESSFUL", started=3, finished=18)])
    if migration_exit is not None:
        expect_migration(world, stacks[0], exit_code=migration_exit, started=4)
    with pytest.raises(probes.ProbeError, match=reason):
        probes.waited(world.aws(), assembly, say=lambda _: None)


def production_rule(stack) -> str:
    (service,) = stack.of_type("AWS::ECS::Service").values()
    (balancer,) = service["Properties"]["LoadBalancers"]
    return physical(stack, balancer["AdvancedConfiguration"]["ProductionListenerRule"]["Ref"], "")


def expect_rule(world: World, stack, target_group: str) -> None:
    rule = production_rule(stack)
    forward = {
        "Type": "forward",
        "ForwardConfig": {"TargetGroups": [{"TargetGroupArn": target_group, "Weight": 100}]},
    }
    world.expect(
        "elbv2",
        stack.region,
        "describe_rules",
        {"Rules": [{"RuleArn": rule, "Actions": [forward]}]},
        {"RuleArns": [rule]},
    )


STAGES = ("deployment", "rule", "health", "running")


def expect_after(
    world: World,
    stack,
    *,
    created: float,
    target_group: str,
    healthy: tuple[str, ...] = IPS,
    revision: int = 8,
    digest: str = DIGEST,
    reach: str = "running",
) -> None:
    """One look after the deploy, as far as ``reach``: the newest service deployment (SUCCESSFUL, created at
    minute ``created``), the production rule, its group's health, the service's tasks and images."""
    stages = STAGES[: STAGES.index(reach) + 1]
    expect_deployments(world, stack, [brief(stack, 3, "SUCCESSFUL", started=created, finished=created + 5)])
    if "rule" in stages:
        expect_rule(world, stack, target_group)
    if "health" in stages:
        world.expect(
            "elbv2",
            stack.region,
            "describe_target_health",
            {
                "TargetHealthDescriptions": [
                    {"Target": {"Id": ip, "Port": 80}, "TargetHealth": {"State": "healthy"}} for ip in healthy
                ]
            },
            {"TargetGroupArn": target_group},
        )
    if "running" in stages:
        expect_running(world, stack, revision=revision, digest=digest, engine="ecs", addresses=IPS)


def green(stack) -> str:
    return f"arn:aws:elasticloadbalancing:{stack.region}:{ACCOUNT}:targetgroup/green/1"


def blue(stack) -> str:
    return f"arn:aws:elasticloadbalancing:{stack.region}:{ACCOUNT}:targetgroup/blue/2"


BEGAN = 30  # the minute the deploy command begins


def keeps_traffic(world: World, assembly: CloudAssembly, *, expect: str, said: list[str]) -> list[list[str]]:
    commands = []

    def run(command):
        commands.append(command)
        return subprocess.CompletedProcess(command, 0)

    probes.keeps_traffic(
        world.aws(),
        assembly,
        ["cdk-deploy"],
        expect=expect,
        run=run,
        clock=lambda: minutes_after(BEGAN),
        sleep=world.slept.append,
        say=said.append,
    )
    return commands


def before_the_deploy(world: World, assembly: CloudAssembly) -> list:
    """Production on green, revision 8 running DIGEST, in every region."""
    stacks = assembly.service_stacks()
    for stack in stacks:
        expect_stack_resources(world, stack)
    for stack in stacks:
        expect_rule(world, stack, green(stack))
        expect_running(world, stack, revision=8, digest=DIGEST, engine="ecs")
    return stacks


def test_a_deploy_that_leaves_the_service_alone_holds_when_nothing_moved(assembly):
    world, said = World(), []
    stacks = before_the_deploy(world, assembly)
    for stack in stacks:  # the release's deployment, before the deploy began
        expect_after(world, stack, created=BEGAN - 10, target_group=green(stack))
    assert keeps_traffic(world, assembly, expect=probes.UNCHANGED, said=said) == [["cdk-deploy"]]
    world.assert_done()
    assert said == [
        f"==> {s.name} ({s.region}): unchanged; production traffic where ECS put it, on {DIGEST}"
        for s in stacks
    ]


def test_a_deploy_of_a_new_task_definition_holds_when_ecs_deployed_it_and_moved_production(assembly):
    world, said = World(), []
    stacks = before_the_deploy(world, assembly)
    for stack in stacks:
        expect_after(world, stack, created=BEGAN + 2, target_group=blue(stack), revision=9)
    keeps_traffic(world, assembly, expect=probes.REDEPLOYED, said=said)
    world.assert_done()
    assert len(said) == 2


@pytest.mark.parametrize(
    ("expect", "after", "reason"),
    [
        (
            probes.UNCHANGED,
            {"created": BEGAN + 2, "reach": "deployment"},
            r"a service deployment began during the deploy \(unchanged expected\)",
        ),
        (
            probes.REDEPLOYED,
            {"created": BEGAN - 10, "reach": "deployment"},
            r"a service deployment did not begin during the deploy \(redeployed expected\)",
        ),
        (
            probes.UNCHANGED,
            {"created": BEGAN - 10, "target_group": "blue", "reach": "rule"},
            r"the production rule forwards to \['.*blue/2'\], before the deploy \['.*green/1'\]",
        ),
        (
            probes.REDEPLOYED,
            {"created": BEGAN + 2, "target_group": "green", "reach": "rule"},
            r"the production rule forwards to \['.*green/1'\], before the deploy \['.*green/1'\]",
        ),
        (
            probes.REDEPLOYED,
            {"created": BEGAN + 2, "healthy": ("10.0.9.9",)},
            r"has healthy \['10.0.9.9'\], the service runs \['10.0.1.5', '10.0.2.7'\]",
        ),
        (
            probes.REDEPLOYED,
            {"created": BEGAN + 2, "revision": 8},
            r"the service runs \S+-web:8, before the deploy \S+-web:8",
        ),
        (
            probes.REDEPLOYED,
            {"created": BEGAN + 2, "revision": 9, "digest": "sha256:" + "b" * 64},
            f"the service runs sha256:b{{64}} where it ran {DIGEST}",
        ),
    ],
    ids=[
        "service-redeployed-by-an-unrelated-change",
        "task-definition-change-not-deployed",
        "rule-moved-by-an-unrelated-change",
        "rule-not-moved-by-ecs",
        "production-on-a-group-without-the-tasks",
        "same-revision",
        "another-image",
    ],
)
def test_a_deploy_that_puts_traffic_or_images_elsewhere_fails(assembly, quick, expect, after, reason):
    world = World()
    stacks = before_the_deploy(world, assembly)
    stack = stacks[0]
    group = {"blue": blue(stack), "green": green(stack)}[after.pop("target_group", "blue")]
    for _ in range(3):  # two polls and the last look
        expect_after(world, stack, target_group=group, **after)
    with pytest.raises(probes.ProbeError, match=reason):
        keeps_traffic(world, assembly, expect=expect, said=[])


def test_a_failed_deploy_command_fails_the_probe(assembly):
    world = World()
    before_the_deploy(world, assembly)
    with pytest.raises(probes.ProbeError, match="cdk-deploy exited 3"):
        probes.keeps_traffic(
            world.aws(),
            assembly,
            ["cdk-deploy"],
            expect=probes.UNCHANGED,
            run=lambda c: subprocess.CompletedProcess(c, 3),
        )


def test_the_command_line_takes_the_deploy_command_after_a_double_dash():
    args, command = probes.parse(
        ["keeps-traffic", "cdk.out", "--expect", "unchanged", "--", "deploy", "--all"]
    )
    assert (args.probe, args.expect, command) == ("keeps-traffic", "unchanged", ["deploy", "--all"])
    args, command = probes.parse(["waited", "cdk.out"])
    assert (args.probe, args.expect, command) == ("waited", None, [])


@pytest.mark.parametrize(
    "argv",
    [
        ["keeps-traffic", "cdk.out", "--", "deploy"],
        ["keeps-traffic", "cdk.out", "--expect", "unchanged"],
        ["waited", "cdk.out", "--", "deploy"],
    ],
)
def test_only_the_traffic_probe_takes_a_deploy_command(argv, capsys):
    with pytest.raises(SystemExit) as exited:
        probes.parse(argv)
    assert exited.value.code == 2
    assert (
        "keeps-traffic, and only it, takes --expect and the deploy command after --"
        in capsys.readouterr().err
    )
