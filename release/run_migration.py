"""CodeDeploy AfterInstall hook: run migration_command as one task of the green task definition.

Succeeded only on exit 0; else Failed (a timed-out task is stopped): the deployment rolls back.
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
    described = ecs.describe_task_sets(cluster=env["CLUSTER"], service=env["SERVICE"], taskSets=[green])
    return described["taskSets"][0]["taskDefinition"]


def wait(ecs, task, deadline, clock, sleep):
    """The stopped task, or None at the deadline (not listed yet: starting; errors: retried)."""
    while clock() < deadline:
        sleep(POLL_SECONDS)
        try:
            tasks = ecs.describe_tasks(cluster=os.environ["CLUSTER"], tasks=[task])["tasks"]
        except Exception as error:
            print(f"retrying: {error!r}", flush=True)
            continue
        if tasks and tasks[0]["lastStatus"] == "STOPPED":
            return tasks[0]
    return None


def migrate(ecs, codedeploy, deployment_id, deadline, *, clock, sleep):
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
        return False, f"{task_definition} did not start: {started['failures']}"
    task = started["tasks"][0]["taskArn"]
    where = f"output: log group {env['LOG_GROUP']}, stream {env['LOG_PREFIX']}/{container}/{task.rsplit('/', 1)[1]}"
    stopped = wait(ecs, task, deadline, clock, sleep)
    if stopped is None:
        try:
            ecs.stop_task(cluster=cluster, task=task, reason="migration_timeout_minutes passed")
        except Exception as error:
            print(f"not stopped: {error!r}", flush=True)
        return False, f"migration timed out in {task}; {where}"
    (code,) = [c.get("exitCode") for c in stopped["containers"] if c["name"] == container]
    if code == 0:
        return True, f"migration succeeded in {task} of {task_definition}; {where}"
    why = f"exit code {code}" if code is not None else stopped.get("stoppedReason", "no exit code")
    return False, f"migration failed ({why}) in {task} of {task_definition}; {where}"


def handler(event, context, *, ecs=None, codedeploy=None, clock=time.time, sleep=time.sleep):
    if ecs is None:
        import boto3  # noqa: PLC0415 (in Lambda's runtime; tests pass stubs)

        ecs, codedeploy = boto3.client("ecs"), boto3.client("codedeploy")
    deployment = event["DeploymentId"]
    deadline = clock() + int(os.environ["TIMEOUT_MINUTES"]) * 60
    try:
        succeeded, message = migrate(ecs, codedeploy, deployment, deadline, clock=clock, sleep=sleep)
    except Exception as error:  # CodeDeploy must hear of any failure, or it waits an hour
        succeeded, message = False, f"migration hook failed: {error!r}"
    print(message, flush=True)
    status = "Succeeded" if succeeded else "Failed"
    codedeploy.put_lifecycle_event_hook_execution_status(
        deploymentId=deployment,
        lifecycleEventHookExecutionId=event["LifecycleEventHookExecutionId"],
        status=status,
    )
    return status
