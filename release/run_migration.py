"""CodeDeploy AfterInstall hook: run migration_command as a one-off task of the green task definition.

Runs before any test or production traffic reaches the green task set. It
starts one Fargate task of the task definition being released, with only the
container's command replaced, in the private subnets; waits for it to stop;
and reports Succeeded only if the container exited 0. A failed start, a
non-zero exit or a timeout (the task is stopped) reports Failed, so the
deployment rolls back. The task's output is in the service's log group.
"""

import json
import os
import time

import boto3

ecs = boto3.client("ecs")
codedeploy = boto3.client("codedeploy")
POLL_SECONDS = 10


def green_task_definition(deployment_id):
    """The task definition of the deployment's green (replacement) task set."""
    (target_id,) = codedeploy.list_deployment_targets(deploymentId=deployment_id)["targetIds"]
    target = codedeploy.get_deployment_target(deploymentId=deployment_id, targetId=target_id)
    sets = target["deploymentTarget"]["ecsTarget"]["taskSetsInfo"]
    (green,) = [s["identifer"] for s in sets if s["taskSetLabel"] == "Green"]
    described = ecs.describe_task_sets(
        cluster=os.environ["CLUSTER"], service=os.environ["SERVICE"], taskSets=[green]
    )
    return described["taskSets"][0]["taskDefinition"]


def migrate(deployment_id, deadline):
    """Run the migration; return (succeeded, what happened)."""
    cluster, container = os.environ["CLUSTER"], os.environ["CONTAINER"]
    task_definition = green_task_definition(deployment_id)
    started = ecs.run_task(
        cluster=cluster,
        taskDefinition=task_definition,
        launchType="FARGATE",
        count=1,
        startedBy=f"migration-{deployment_id}"[:128],
        networkConfiguration={
            "awsvpcConfiguration": {
                "subnets": os.environ["SUBNETS"].split(","),
                "securityGroups": [os.environ["SECURITY_GROUP"]],
                "assignPublicIp": "DISABLED",
            }
        },
        overrides={"containerOverrides": [{"name": container, "command": json.loads(os.environ["COMMAND"])}]},
    )
    if not started["tasks"]:
        return False, f"{task_definition} did not start: {started['failures']}"
    task = started["tasks"][0]["taskArn"]
    where = f"log group {os.environ['LOG_GROUP']}, stream {os.environ['LOG_PREFIX']}/{container}/{task.rsplit('/', 1)[1]}"
    while time.time() < deadline:
        (described,) = ecs.describe_tasks(cluster=cluster, tasks=[task])["tasks"]
        if described["lastStatus"] == "STOPPED":
            (code,) = [c.get("exitCode") for c in described["containers"] if c["name"] == container]
            if code == 0:
                return True, f"{task_definition} migrated in task {task}; output: {where}"
            reason = (
                f"exit code {code}" if code is not None else described.get("stoppedReason", "no exit code")
            )
            return False, f"migration failed ({reason}) in task {task} of {task_definition}; output: {where}"
        time.sleep(POLL_SECONDS)
    ecs.stop_task(cluster=cluster, task=task, reason="migration_timeout_minutes passed")
    return False, f"migration timed out; task {task} stopped; output: {where}"


def handler(event, context):
    deadline = time.time() + int(os.environ["TIMEOUT_MINUTES"]) * 60
    try:
        succeeded, message = migrate(event["DeploymentId"], deadline)
    except Exception as error:  # any failure must still reach CodeDeploy, or it waits an hour
        succeeded, message = False, f"migration hook failed: {error!r}"
    print(message, flush=True)
    codedeploy.put_lifecycle_event_hook_execution_status(
        deploymentId=event["DeploymentId"],
        lifecycleEventHookExecutionId=event["LifecycleEventHookExecutionId"],
        status="Succeeded" if succeeded else "Failed",
    )
    return {"succeeded": succeeded, "message": message}
