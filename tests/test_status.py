"""make status: what runs where, from botocore Stubbers (offline)."""

from __future__ import annotations

from aws_world import World, expect_running, expect_stack_resources, minutes_after
from conftest import for_account, tool, without_credentials

from tools.cloud_assembly import CloudAssembly
from tools.status import PERMISSIONS, status

DIGEST = "sha256:" + "c" * 64


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


def expect_pipeline(world: World, stack) -> None:
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
                    "sourceRevisions": [{"actionName": "Source", "revisionId": "v2"}],
                },
                {"pipelineExecutionId": "exec-1", "status": "Succeeded", "startTime": minutes_after(0)},
            ]
        },
        {"pipelineName": ids[logical_id], "maxResults": 5},
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
    expect_running(world, europe, revision=12, digest=DIGEST)
    expect_alarms(world, europe, ids, firing="GreenTarget5xx")
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
    assert said[2] == f"    serving     task definition webapp-eu-west-2-web:12, 2 task(s), image {DIGEST}"
    assert said[3] == "    deployment  Failed at 2026-11-27 10:15 UTC (d-LAST)"
    (firing,) = [name for name in ids.values() if "GreenTarget5xx" in name]
    assert said[4] == f"    alarms      5 of 6 OK\n    ! {firing}: ALARM"
    assert said[5].endswith("(eu-west-2): last 2 execution(s)")
    assert said[6] == "    exec-2  Failed      started 2026-11-27 10:00 UTC  source v2"
    assert said[7] == "    exec-1  Succeeded   started 2026-11-27 09:00 UTC"
    assert said[8] == "dashboard: https://console.aws.amazon.com/cloudwatch/home#d"


def test_status_reads_the_ecs_engines_service_deployments(synth_cache):
    world = World(PERMISSIONS)
    assembly = CloudAssembly.read(synth_cache("ecs").outdir)
    stacks = assembly.service_stacks()
    for stack in stacks:
        ids = expect_stack_resources(world, stack)
        expect_running(world, stack, revision=4, digest=DIGEST, engine="ecs")
        expect_alarms(world, stack, ids)
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
    assert [line for line in said if line.startswith("    alarms")] == [
        f"    alarms      {len(s.of_type('AWS::CloudWatch::Alarm'))} of {len(s.of_type('AWS::CloudWatch::Alarm'))} OK"
        for s in stacks
    ]


def test_status_refuses_without_credentials(default_synth, tmp_path):
    assembly = for_account(default_synth.outdir, tmp_path / "out")
    result = tool("status.py", str(assembly), env=without_credentials(tmp_path))
    assert result.returncode == 1
    assert result.stderr.startswith("error: no AWS credentials found;")
    assert len(result.stderr.splitlines()) == 1
