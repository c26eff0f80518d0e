"""The ECS engine's acceptance probes (tools/operate/acceptance_probes.py) against botocore Stubbers.

Each probe reads the integ_ecs_engine app's own assembly and AWS's answers, shaped by the API models; these
tests hold what each probe accepts and what it refuses, with the reason it gives.
"""

from __future__ import annotations

import subprocess

import pytest
from aws_world import ACCOUNT, T0, World, expect_running, expect_stack_resources, minutes_after, physical
from test_integ_apps import synthesized

from tools.cloud_assembly import CloudAssembly
from tools.operate import acceptance_probes as probes

DIGEST = "sha256:" + "d" * 64
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


def expect_service(world: World, stack, *, family: str = "web") -> None:
    cluster, service = names(stack)
    hooks = [
        {"targetType": "AWS_LAMBDA", "hookTargetArn": hook_arn(stack, i), "lifecycleStages": stages}
        for i, stages in enumerate(HOOK_STAGES)
    ]
    described = {
        "serviceName": service,
        "taskDefinition": f"arn:aws:ecs:{stack.region}:{ACCOUNT}:task-definition/{family}:7",
        "deploymentConfiguration": {"lifecycleHooks": hooks},
    }
    world.expect(
        "ecs",
        stack.region,
        "describe_services",
        {"services": [described]},
        {"cluster": cluster, "services": [service]},
    )


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
    expect_service(world, stack)
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


def test_a_service_deployed_twice_before_any_release_is_not_a_first_deployment(assembly):
    world = World()
    stacks = assembly.service_stacks()
    for stack in stacks:
        expect_stack_resources(world, stack)
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
                {"pipelineExecutionId": "e-2", "status": "Succeeded", "startTime": minutes_after(0)}
            ]
        },
        {"pipelineName": name, "maxResults": 1},
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
    cluster, _ = names(stack)
    expect_service(world, stack, family="web")
    task = f"arn:aws:ecs:{stack.region}:{ACCOUNT}:task/{cluster}/m1"
    world.expect(
        "ecs",
        stack.region,
        "list_tasks",
        {"taskArns": [task]},
        {"cluster": cluster, "family": "web-migration", "desiredStatus": "STOPPED"},
    )
    world.expect(
        "ecs",
        stack.region,
        "describe_tasks",
        {
            "tasks": [
                {
                    "taskArn": task,
                    "startedAt": minutes_after(started),
                    "containers": [{"exitCode": exit_code}],
                }
            ]
        },
        {"cluster": cluster, "tasks": [task]},
    )


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


def test_a_wave_wait_that_ended_before_a_regions_deployment_did_fails(assembly):
    world = World()
    expect_release(world, assembly, await_ended=10)
    stacks = assembly.service_stacks()
    for stack in stacks:
        expect_stack_resources(world, stack)
    expect_deployments(world, stacks[0], [brief(stacks[0], 2, "SUCCESSFUL", started=3, finished=18)])
    with pytest.raises(
        probes.ProbeError,
        match=r"the wave's wait succeeded at 09:10:00, before the service deployment ended at 09:18:00",
    ):
        probes.waited(world.aws(), assembly, say=lambda _: None)


def test_a_migration_that_exited_non_zero_fails_the_wait_check(assembly):
    world = World()
    expect_release(world, assembly, await_ended=20)
    stacks = assembly.service_stacks()
    for stack in stacks:
        expect_stack_resources(world, stack)
    expect_deployments(world, stacks[0], [brief(stacks[0], 2, "SUCCESSFUL", started=3, finished=18)])
    expect_migration(world, stacks[0], exit_code=1, started=4)
    with pytest.raises(probes.ProbeError, match=r"the migration task exited \[1\]"):
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


def expect_serving(
    world: World, stack, *, target_group: str, healthy: list[str], running: list[str], digest: str
) -> None:
    """After the deploy: the newest deployment SUCCESSFUL, the rule, its group's health, the tasks and images."""
    expect_deployments(world, stack, [brief(stack, 3, "SUCCESSFUL", started=40, finished=55)])
    expect_rule(world, stack, target_group)
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
    expect_running(world, stack, revision=8, digest=digest, engine="ecs")
    cluster, service = names(stack)
    tasks = [f"arn:aws:ecs:{stack.region}:{ACCOUNT}:task/{cluster}/t{n}" for n in range(len(running))]
    world.expect(
        "ecs",
        stack.region,
        "list_tasks",
        {"taskArns": tasks},
        {"cluster": cluster, "serviceName": service, "desiredStatus": "RUNNING"},
    )
    world.expect(
        "ecs",
        stack.region,
        "describe_tasks",
        {
            "tasks": [
                {
                    "taskArn": arn,
                    "lastStatus": "RUNNING",
                    "attachments": [
                        {
                            "type": "ElasticNetworkInterface",
                            "details": [{"name": "privateIPv4Address", "value": ip}],
                        }
                    ],
                }
                for arn, ip in zip(tasks, running, strict=True)
            ]
        },
        {"cluster": cluster, "tasks": tasks},
    )


def green(stack) -> str:
    return f"arn:aws:elasticloadbalancing:{stack.region}:{ACCOUNT}:targetgroup/green/1"


def blue(stack) -> str:
    return f"arn:aws:elasticloadbalancing:{stack.region}:{ACCOUNT}:targetgroup/blue/2"


def keeps_traffic(
    world: World, assembly: CloudAssembly, *, same_rule: bool, said: list[str]
) -> list[list[str]]:
    commands = []

    def run(command):
        commands.append(command)
        return subprocess.CompletedProcess(command, 0)

    probes.keeps_traffic(
        world.aws(),
        assembly,
        ["make-deploy"],
        same_rule=same_rule,
        run=run,
        sleep=world.slept.append,
        say=said.append,
    )
    return commands


def before_the_deploy(world: World, assembly: CloudAssembly) -> list:
    stacks = assembly.service_stacks()
    for stack in stacks:
        expect_stack_resources(world, stack)
    for stack in stacks:
        expect_rule(world, stack, green(stack))
        expect_running(world, stack, revision=8, digest=DIGEST, engine="ecs")
    return stacks


def test_a_deploy_that_leaves_production_on_the_group_ecs_chose_and_the_released_image_holds(assembly):
    world, said = World(), []
    stacks = before_the_deploy(world, assembly)
    ips = ["10.0.1.5", "10.0.2.7"]
    for stack in stacks:
        expect_serving(world, stack, target_group=green(stack), healthy=ips, running=ips, digest=DIGEST)
    assert keeps_traffic(world, assembly, same_rule=True, said=said) == [["make-deploy"]]
    world.assert_done()
    assert said == [
        f"==> {s.name} ({s.region}): production traffic where ECS put it, on {DIGEST}" for s in stacks
    ]


def test_a_deploy_that_moves_the_production_rule_fails_when_it_must_not_move(assembly, quick):
    world = World()
    stacks = before_the_deploy(world, assembly)
    for _ in range(3):  # two polls and the last look
        expect_deployments(world, stacks[0], [brief(stacks[0], 3, "SUCCESSFUL", started=40, finished=55)])
        expect_rule(world, stacks[0], blue(stacks[0]))
    with pytest.raises(
        probes.ProbeError, match=r"the production rule moved from \['.*green/1'\] to \['.*blue/2'\]"
    ):
        keeps_traffic(world, assembly, same_rule=True, said=[])


def test_production_on_a_group_without_the_running_tasks_fails(assembly, quick):
    world = World()
    stacks = before_the_deploy(world, assembly)
    for _ in range(3):
        expect_serving(
            world,
            stacks[0],
            target_group=blue(stacks[0]),
            healthy=["10.0.9.9"],
            running=["10.0.1.5"],
            digest=DIGEST,
        )
    with pytest.raises(
        probes.ProbeError, match=r"has healthy \['10.0.9.9'\], the service runs \['10.0.1.5'\]"
    ):
        keeps_traffic(world, assembly, same_rule=False, said=[])


def test_a_deploy_that_puts_another_image_in_service_fails(assembly, quick):
    world = World()
    stacks = before_the_deploy(world, assembly)
    for _ in range(3):
        expect_serving(
            world,
            stacks[0],
            target_group=blue(stacks[0]),
            healthy=["10.0.1.5"],
            running=["10.0.1.5"],
            digest="sha256:" + "b" * 64,
        )
    with pytest.raises(probes.ProbeError, match=f"the service runs sha256:b{{64}} where it ran {DIGEST}"):
        keeps_traffic(world, assembly, same_rule=False, said=[])


def test_a_failed_deploy_command_fails_the_probe(assembly):
    world = World()
    before_the_deploy(world, assembly)
    with pytest.raises(probes.ProbeError, match="make-deploy exited 3"):
        probes.keeps_traffic(
            world.aws(),
            assembly,
            ["make-deploy"],
            same_rule=True,
            run=lambda c: subprocess.CompletedProcess(c, 3),
        )


def test_the_command_line_takes_the_deploy_command_after_a_double_dash():
    args, command = probes.parse(["keeps-traffic", "cdk.out", "--same-rule", "--", "deploy", "--all"])
    assert (args.probe, args.same_rule, command) == ("keeps-traffic", True, ["deploy", "--all"])
    args, command = probes.parse(["waited", "cdk.out"])
    assert (args.probe, args.same_rule, command) == ("waited", False, [])


@pytest.mark.parametrize("argv", [["keeps-traffic", "cdk.out"], ["waited", "cdk.out", "--", "deploy"]])
def test_only_the_traffic_probe_takes_a_deploy_command(argv, capsys):
    with pytest.raises(SystemExit) as exited:
        probes.parse(argv)
    assert exited.value.code == 2
    assert "keeps-traffic, and only it, takes the deploy command after --" in capsys.readouterr().err
