"""CodeDeploy AfterInstall hook: run migration_command as one task of the green task definition.

Before any traffic reaches the green task set, starts one Fargate task of the
task definition being released (only the container's command replaced) in the
private subnets, waits for it to stop and reports Succeeded only on exit 0.
A failed start, another exit code or a timeout (the task is then stopped)
reports Failed: the deployment rolls back. Output: the service's log group.
"""

import json
import os
import time

POLL_SECONDS = 10


def green_task_definition(ecs, codedeploy, deployment_id):
    (target_id,) = codedeploy.list_deployment_targets(deploymentId=deployment_id)["targetIds"]
    target = codedeploy.get_deployment_target(deploymentId=deployment_id, targetId=target_id)
    sets = target["deploymentTarget"]["ecsTarget"]["taskSetsInfo"]
    (green,) = [s["identifer"] for s in sets if s["taskSetLabel"] == "Green"]
    env = os.environ
    return ecs.describe_task_sets(cluster=env["CLUSTER"], service=env["SERVICE"], taskSets=[green])[
        "taskSets"
    ][0]["taskDefinition"]


def migrate(ecs, codedeploy, deployment_id, deadline, *, clock, sleep):
    """Run the migration; return (succeeded, what happened and where its output is)."""
    env = os.environ
    cluster, container = env["CLUSTER"], env["CONTAINER"]
    task_definition = green_task_definition(ecs, codedeploy, deployment_id)
    started = ecs.run_task(
        cluster=cluster,
        taskDefinition=task_definition,
        launchType="FARGATE",
        count=1,
        startedBy=f"migration-{deployment_id}"[:128],
        networkConfiguration={
            "awsvpcConfiguration": {
                "subnets": env["SUBNETS"].split(","),
                "securityGroups": [env["SECURITY_GROUP"]],
                "assignPublicIp": "DISABLED",
            }
        },
        overrides={"containerOverrides": [{"name": container, "command": json.loads(env["COMMAND"])}]},
    )
    if not started["tasks"]:
        return False, f"migration task of {task_definition} did not start: {started['failures']}"
    task = started["tasks"][0]["taskArn"]
    where = f"output: log group {env['LOG_GROUP']}, stream {env['LOG_PREFIX']}/{container}/{task.rsplit('/', 1)[1]}"
    while clock() < deadline:
        (described,) = ecs.describe_tasks(cluster=cluster, tasks=[task])["tasks"]
        if described["lastStatus"] == "STOPPED":
            (code,) = [c.get("exitCode") for c in described["containers"] if c["name"] == container]
            if code == 0:
                return True, f"migration succeeded in {task} of {task_definition}; {where}"
            why = f"exit code {code}" if code is not None else described.get("stoppedReason", "no exit code")
            return False, f"migration failed ({why}) in {task} of {task_definition}; {where}"
        sleep(POLL_SECONDS)
    ecs.stop_task(cluster=cluster, task=task, reason="migration_timeout_minutes passed")
    return False, f"migration timed out; {task} stopped; {where}"


def handler(event, context, *, ecs=None, codedeploy=None, clock=time.time, sleep=time.sleep):
    if ecs is None:
        import boto3  # noqa: PLC0415 (in the Lambda runtime; the tests pass stubbed clients)

        ecs, codedeploy = boto3.client("ecs"), boto3.client("codedeploy")
    deployment = event["DeploymentId"]
    deadline = clock() + int(os.environ["TIMEOUT_MINUTES"]) * 60
    try:
        succeeded, message = migrate(ecs, codedeploy, deployment, deadline, clock=clock, sleep=sleep)
    except Exception as error:
        succeeded, message = False, f"migration hook failed: {error!r}"
    print(message, flush=True)
    status = "Succeeded" if succeeded else "Failed"
    codedeploy.put_lifecycle_event_hook_execution_status(
        deploymentId=deployment,
        lifecycleEventHookExecutionId=event["LifecycleEventHookExecutionId"],
        status=status,
    )
    return status
