"""make status: what runs where, from botocore Stubbers (offline)."""

from __future__ import annotations

from aws_world import ACCOUNT, World, expect_outputs, expect_running, expect_stack_resources, minutes_after
from conftest import DOMAIN_NAME, NOTIFIED, for_account, tool, without_credentials

from tools.cloud_assembly import CloudAssembly
from tools.operate.regional_state import SERVICE_URL
from tools.operate.status import PERMISSIONS, status

DIGEST = "sha256:" + "c" * 64
BALANCER = "webapp-Servi-1A2B3C4D5E6F-1234567890.eu-west-2.elb.amazonaws.com"


def topic_of(stack, ids: dict[str, str]) -> str:
    (topic,) = stack.of_type("AWS::SNS::Topic")
    return ids[topic]


def expect_subscriptions(world: World, stack, ids: dict[str, str], pages: list[list[tuple[str, str, str]]]):
    """ListSubscriptionsByTopic of the stack's topic, in ``pages`` of (subscription ARN, protocol, endpoint)."""
    topic = topic_of(stack, ids)
    for number, page in enumerate(pages):
        answer = {
            "Subscriptions": [
                {
                    "SubscriptionArn": arn,
                    "Owner": ACCOUNT,
                    "Protocol": protocol,
                    "Endpoint": endpoint,
                    "TopicArn": topic,
                }
                for arn, protocol, endpoint in page
            ]
        }
        if number + 1 < len(pages):
            answer["NextToken"] = f"page-{number + 2}"
        asked = {"TopicArn": topic, **({"NextToken": f"page-{number + 1}"} if number else {})}
        world.expect("sns", stack.region, "list_subscriptions_by_topic", answer, asked)


def expect_alarms(world: World, stack, ids: dict[str, str], firing: str = "") -> None:
    """DescribeAlarms answering in two pages (it may return fewer alarms than it was asked for)."""
    names = [ids[logical_id] for logical_id in stack.of_type("AWS::CloudWatch::Alarm")]
    alarms = [
        {"AlarmName": name, "StateValue": "ALARM" if firing and firing in name else "OK"} for name in names
    ]
    asked = {"AlarmNames": names, "MaxRecords": 100}
    world.expect(
        "cloudwatch", stack.region, "describe_alarms", {"MetricAlarms": alarms[:2], "NextToken": "t"}, asked
    )
    world.expect(
        "cloudwatch",
        stack.region,
        "describe_alarms",
        {"MetricAlarms": alarms[2:]},
        {**asked, "NextToken": "t"},
    )


# The release ledger's images: what each execution's build exported (IMAGE_DIGEST).
RELEASED = {"exec-2": "sha256:" + "b" * 64, "exec-1": "sha256:" + "a" * 64}


def attempt(execution: str, stage: str, action: str, status: str, **output) -> dict:
    """One action's attempt in an execution, as ListActionExecutions gives it."""
    return {
        "pipelineExecutionId": execution,
        "actionExecutionId": f"{execution}-{action}",
        "stageName": stage,
        "actionName": action,
        "startTime": minutes_after(1),
        "status": status,
        **({"output": output} if output else {}),
    }


def expect_pipeline(world: World, stack, stages: list[dict] | None = None, *, ledger: bool = True) -> None:
    """The pipeline's last two executions (each with its actions: ``ledger``), its stages (``stages``:
    GetPipelineState's; default all open), and the dashboard's URL. exec-2 failed in eu-west-2, so the stage
    rolled ap-southeast-1 back too; exec-1 succeeded in both."""
    ids = expect_stack_resources(world, stack)
    (logical_id,) = stack.of_type("AWS::CodePipeline::Pipeline")
    world.expect(
        "codepipeline",
        stack.region,
        "list_pipeline_executions",
        {
            "pipelineExecutionSummaries": [
                {
                    "pipelineExecutionId": "exec-2",
                    "status": "Failed",
                    "startTime": minutes_after(60),
                    "lastUpdateTime": minutes_after(85),
                    "sourceRevisions": [{"actionName": "Source", "revisionId": "v2"}],
                },
                {"pipelineExecutionId": "exec-1", "status": "Succeeded", "startTime": minutes_after(0)},
            ]
        },
        {"pipelineName": ids[logical_id], "maxResults": 5},
    )
    outcomes = {"exec-2": ("Failed", "Succeeded"), "exec-1": ("Succeeded", "Succeeded")}
    for execution, (europe, asia) in outcomes.items() if ledger else ():
        world.expect(
            "codepipeline",
            stack.region,
            "list_action_executions",
            {
                "actionExecutionDetails": [
                    attempt(
                        execution,
                        "Build",
                        "Build",
                        "Succeeded",
                        outputVariables={"IMAGE_DIGEST": RELEASED[execution]},
                    ),
                    attempt(execution, "Deploy_to_Production", "Deploy-eu-west-2", europe),
                    attempt(execution, "Deploy_to_Production", "Deploy-ap-southeast-1", asia),
                ]
            },
            {"pipelineName": ids[logical_id], "filter": {"pipelineExecutionId": execution}},
        )
    open_stage = {"inboundTransitionState": {"enabled": True}}
    world.expect(
        "codepipeline",
        stack.region,
        "get_pipeline_state",
        {"stageStates": stages or [{"stageName": "Source"}, {"stageName": "Build", **open_stage}]},
        {"name": ids[logical_id]},
    )
    world.expect(
        "cloudformation",
        stack.region,
        "describe_stacks",
        {
            "Stacks": [
                {
                    "StackName": stack.name,
                    "CreationTime": minutes_after(0),
                    "StackStatus": "UPDATE_COMPLETE",
                    "Outputs": [
                        {
                            "OutputKey": "DashboardUrl",
                            "OutputValue": "https://console.aws.amazon.com/cloudwatch/home#d",
                        }
                    ],
                }
            ]
        },
        {"StackName": stack.name},
    )


def default_app_status(synthesized) -> tuple[int, list[str], dict[str, str]]:
    """make status of the default app on stubbed AWS: Singapore not deployed; London serving revision 12 after
    a failed deployment, one alarm firing; the pipeline's last two executions. Exit code, lines, London's ids."""
    world = World(PERMISSIONS)
    assembly = CloudAssembly.read(synthesized.outdir)
    asia, europe = assembly.service_stacks()
    world.fail(
        "cloudformation",
        asia.region,
        "list_stack_resources",
        "ValidationError",
        f"Stack with id {asia.name} does not exist",
    )
    ids = expect_stack_resources(world, europe)
    expect_outputs(
        world, europe, {"NotificationTopicArn": topic_of(europe, ids), SERVICE_URL: f"http://{BALANCER}"}
    )
    expect_running(world, europe, revision=12, digest=DIGEST)
    expect_alarms(world, europe, ids, firing="GreenTarget5xx")
    # No notification_emails: a chat hook and an address subscribed by hand, over two pages.
    confirmed = f"{topic_of(europe, ids)}:0b8e8b2c-1d3a-4f5e-9a7b-123456789abc"
    expect_subscriptions(
        world,
        europe,
        ids,
        [
            [(confirmed, "https", "https://chat.example.com/hook")],
            [("PendingConfirmation", "email", "me@example.com")],
        ],
    )
    (app,) = europe.of_type("AWS::CodeDeploy::Application")
    (group,) = europe.of_type("AWS::CodeDeploy::DeploymentGroup")
    world.expect(
        "codedeploy",
        europe.region,
        "get_deployment_group",
        {
            "deploymentGroupInfo": {
                "lastAttemptedDeployment": {
                    "deploymentId": "d-LAST",
                    "status": "Failed",
                    "endTime": minutes_after(75),
                    "createTime": minutes_after(61),
                }
            }
        },
        {"applicationName": ids[app], "deploymentGroupName": ids[group]},
    )
    expect_pipeline(world, assembly.pipeline()[0])
    said: list[str] = []
    code = status(assembly, world.aws(), said.append)
    world.assert_done()
    return code, said, ids


def test_status_shows_each_region_the_pipeline_and_the_dashboard(default_synth):
    code, said, ids = default_app_status(default_synth)
    assert code == 0
    assert said[0] == "webapp-ap-southeast-1 (ap-southeast-1): not deployed"
    assert said[1] == "webapp-eu-west-2 (eu-west-2)"
    assert said[2] == f"    address     http://{BALANCER}"
    assert said[3] == "    serving     task definition webapp-eu-west-2-web:12, 2 task(s)"
    # The full digest, on a line of its own: the one place to copy it from.
    assert said[4] == f"    image       {DIGEST}"
    assert said[5] == "    deployment  Failed at 2026-11-27 10:15 UTC (d-LAST)"
    (firing,) = [name for name in ids.values() if "GreenTarget5xx" in name]
    assert said[6] == f"    alarms      5 of 6 OK\n    ! {firing}: ALARM"
    (topic,) = [
        logical_id
        for logical_id, resource in default_synth.regional("eu-west-2")["Resources"].items()
        if resource["Type"] == "AWS::SNS::Topic"
    ]
    assert said[7] == f"    topic       webapp-eu-west-2-{topic}: 1 confirmed subscription(s)"
    assert said[8] == (
        "    ! me@example.com (email): waiting for confirmation (the link in AWS's mail; SNS deletes it after 48 h)"
    )
    assert said[9].endswith("(eu-west-2): last 2 execution(s)")
    # The release ledger: each execution's image (the build's IMAGE_DIGEST) and each region's outcome.
    assert said[10:14] == [
        "    exec-2  Failed      started 2026-11-27 10:00 UTC, ended 2026-11-27 10:25 UTC  source v2",
        "        image sha256:bbbbbbbbbbbb; eu-west-2 failed, ap-southeast-1 stage failed",
        "    exec-1  Succeeded   started 2026-11-27 09:00 UTC",
        "        image sha256:aaaaaaaaaaaa; eu-west-2 succeeded, ap-southeast-1 succeeded",
    ]
    assert said[14] == "dashboard: https://console.aws.amazon.com/cloudwatch/home#d"


def test_status_reads_the_ecs_engines_service_deployments(synth_cache):
    world = World(PERMISSIONS)
    assembly = CloudAssembly.read(synth_cache("ecs").outdir)
    stacks = assembly.service_stacks()
    for stack in stacks:
        ids = expect_stack_resources(world, stack)
        expect_outputs(world, stack, {SERVICE_URL: f"http://{stack.name}.elb.example"})
        expect_running(world, stack, revision=4, digest=DIGEST, engine="ecs")
        expect_alarms(world, stack, ids)
        expect_subscriptions(world, stack, ids, [[]])
        cluster, service = f"{stack.name}-cluster", f"{stack.name}-service"
        arn = f"arn:aws:ecs:{stack.region}:123456789012:service-deployment/{cluster}/{service}/"
        world.expect(
            "ecs",
            stack.region,
            "list_service_deployments",
            {
                "serviceDeployments": [
                    {
                        "serviceDeploymentArn": arn + "older",
                        "createdAt": minutes_after(0),
                        "status": "SUCCESSFUL",
                    },
                    {
                        "serviceDeploymentArn": arn + "newest",
                        "createdAt": minutes_after(30),
                        "finishedAt": minutes_after(42),
                        "status": "ROLLBACK_SUCCESSFUL",
                    },
                ]
            },
            {"cluster": cluster, "service": service, "maxResults": 100},
        )
    expect_pipeline(world, assembly.pipeline()[0])
    said: list[str] = []
    status(assembly, world.aws(), said.append)
    world.assert_done()
    deployments = [line for line in said if line.startswith("    deployment")]
    assert deployments == ["    deployment  ROLLBACK_SUCCESSFUL at 2026-11-27 09:42 UTC (newest)"] * len(
        stacks
    )
    assert [line for line in said if line.startswith("    address")] == [
        f"    address     http://{stack.name}.elb.example" for stack in stacks
    ]
    assert [line for line in said if line.startswith("    topic")] == [
        f"    topic       {stack.name}-{next(iter(stack.of_type('AWS::SNS::Topic')))}: 0 confirmed subscription(s)"
        for stack in stacks
    ]
    assert [line for line in said if line.startswith("    alarms")] == [
        f"    alarms      {len(s.of_type('AWS::CloudWatch::Alarm'))} of {len(s.of_type('AWS::CloudWatch::Alarm'))} OK"
        for s in stacks
    ]


def test_status_shows_each_copys_address_and_every_notification_email_not_confirmed(synth_cache):
    """The domain app: three production regions and a staging copy, each with its own topic and both addresses."""
    world = World(PERMISSIONS)
    assembly = CloudAssembly.read(synth_cache("domain_latency").outdir)
    stacks = assembly.service_stacks()
    assert [s.name for s in stacks] == [
        "webapp-ap-southeast-1",
        "webapp-eu-west-2",
        "webapp-staging-eu-west-1",
        "webapp-us-east-1",
    ]
    ops, oncall = NOTIFIED
    answers = {
        # Both confirmed.
        "webapp-ap-southeast-1": [("{topic}:1", "email", ops), ("{topic}:2", "email", oncall)],
        # One still waiting.
        "webapp-eu-west-2": [("{topic}:1", "email", ops), ("PendingConfirmation", "email", oncall)],
        # One ended by its subscriber's unsubscribe link.
        "webapp-staging-eu-west-1": [("{topic}:1", "email", ops), ("Deleted", "email", oncall)],
        # One gone: SNS deleted it after 48 hours unconfirmed (the stack still holds its resource).
        "webapp-us-east-1": [("{topic}:2", "email", oncall)],
    }
    urls = {}
    for stack in stacks:
        ids = expect_stack_resources(world, stack)
        urls[stack.name] = stack.template["Outputs"][SERVICE_URL]["Value"]
        expect_outputs(world, stack, {SERVICE_URL: urls[stack.name]})
        expect_running(world, stack, revision=3, digest=DIGEST)
        expect_alarms(world, stack, ids)
        (app,) = stack.of_type("AWS::CodeDeploy::Application")
        (group,) = stack.of_type("AWS::CodeDeploy::DeploymentGroup")
        world.expect(
            "codedeploy",
            stack.region,
            "get_deployment_group",
            {"deploymentGroupInfo": {}},
            {"applicationName": ids[app], "deploymentGroupName": ids[group]},
        )
        topic = topic_of(stack, ids)
        expect_subscriptions(
            world, stack, ids, [[(arn.format(topic=topic), p, e) for arn, p, e in answers[stack.name]]]
        )
    expect_pipeline(world, assembly.pipeline()[0])
    said: list[str] = []
    status(assembly, world.aws(), said.append)
    world.assert_done()
    assert urls == {
        "webapp-ap-southeast-1": f"https://ap-southeast-1.{DOMAIN_NAME}",
        "webapp-eu-west-2": f"https://eu-west-2.{DOMAIN_NAME}",
        "webapp-staging-eu-west-1": f"https://eu-west-1.staging.{DOMAIN_NAME}",
        "webapp-us-east-1": f"https://us-east-1.{DOMAIN_NAME}",
    }

    def block(name: str) -> list[str]:
        """The lines under a stack's heading, up to the next heading."""
        stack = assembly.stacks[name]
        start = said.index(f"{name} ({stack.region})")
        end = next((i for i in range(start + 1, len(said)) if not said[i].startswith("    ")), len(said))
        return said[start + 1 : end]

    for name, url in urls.items():
        assert block(name)[0] == f"    address     {url}"
        assert block(name)[1] == f"    serving     task definition {name}-web:3, 2 task(s)"
    topic_line = "    topic       {name}-NotificationsTopicAE679CBD: {count} confirmed subscription(s)"
    assert block("webapp-ap-southeast-1")[5:] == [topic_line.format(name="webapp-ap-southeast-1", count=2)]
    assert block("webapp-eu-west-2")[5:] == [
        topic_line.format(name="webapp-eu-west-2", count=1),
        f"    ! {oncall} (email): waiting for confirmation (the link in AWS's mail; SNS deletes it after 48 h)",
    ]
    assert block("webapp-staging-eu-west-1")[5:] == [
        topic_line.format(name="webapp-staging-eu-west-1", count=1),
        f"    ! {oncall} (email): unsubscribed by its subscriber",
    ]
    assert block("webapp-us-east-1")[5:] == [
        topic_line.format(name="webapp-us-east-1", count=1),
        f"    ! {ops} (email): not subscribed: left unconfirmed for 48 h or unsubscribed "
        "(subscribe it again: docs/observability.md#notifications)",
    ]


def test_status_refuses_without_credentials(default_synth, tmp_path):
    assembly = for_account(default_synth.outdir, tmp_path / "out")
    result = tool("operate/status.py", str(assembly), env=without_credentials(tmp_path))
    assert result.returncode == 1
    assert result.stderr.startswith("error: no AWS credentials found;")
    assert len(result.stderr.splitlines()) == 1


def test_the_ledger_names_a_rollback_and_the_regions_it_did_not_reach():
    from tools.operate.release_ledger import outcomes

    deploys = [
        ("Deploy_to_Staging", "Deploy-eu-west-1", "staging eu-west-1"),
        ("Deploy_to_Production", "Deploy-eu-west-2", "eu-west-2"),
        ("Deploy_to_Production", "Deploy-ap-southeast-1", "ap-southeast-1"),
    ]
    retried = attempt("e", "Deploy_to_Staging", "Deploy-eu-west-1", "Succeeded")
    first = {**attempt("e", "Deploy_to_Staging", "Deploy-eu-west-1", "Failed"), "startTime": minutes_after(0)}
    assert outcomes([first, retried], deploys) == [
        "staging eu-west-1 succeeded",  # its newest attempt counts
        "eu-west-2 not reached",
        "ap-southeast-1 not reached",
    ]
    running = [retried, attempt("e", "Deploy_to_Production", "Deploy-eu-west-2", "InProgress")]
    assert outcomes(running, deploys)[1:] == ["eu-west-2 deploying", "ap-southeast-1 not reached"]
    # On the ECS engine the deploy actions succeed and the wave's wait fails the stage.
    waited = [
        attempt("e", "Deploy_to_Production", "Deploy-eu-west-2", "Succeeded"),
        attempt("e", "Deploy_to_Production", "Deploy-ap-southeast-1", "Succeeded"),
        attempt("e", "Deploy_to_Production", "Await-wave-1", "Failed"),
    ]
    assert outcomes(waited, deploys)[1:] == ["eu-west-2 stage failed", "ap-southeast-1 stage failed"]
    # An attempt without a start time (not started yet) does not break the choice of the newest.
    assert outcomes([retried, {**first, "startTime": None}], deploys)[0] == "staging eu-west-1 succeeded"


def test_a_rollback_execution_names_the_release_it_returned_to():
    from tools.operate.release_ledger import ledger_line

    world = World(PERMISSIONS)
    details = [attempt("r", "Deploy_to_Production", "Deploy-eu-west-2", "Succeeded")]
    world.expect(
        "codepipeline",
        "eu-west-2",
        "list_action_executions",
        {"actionExecutionDetails": details},
        {"pipelineName": "p", "filter": {"pipelineExecutionId": "r"}},
    )
    execution = {
        "pipelineExecutionId": "r",
        "executionType": "ROLLBACK",
        "rollbackMetadata": {"rollbackTargetPipelineExecutionId": "exec-1"},
    }
    line = ledger_line(
        world.aws(), "eu-west-2", "p", execution, [("Deploy_to_Production", "Deploy-eu-west-2", "eu-west-2")]
    )
    world.assert_done()
    assert line == "        rollback to exec-1; eu-west-2 succeeded"
