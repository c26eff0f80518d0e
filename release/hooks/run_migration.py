"""Migration hook: run migration_command as one task of the green task definition, before any traffic.

Succeeded only on exit 0; a failed start, another exit code or a timeout (the task is then
stopped) fails the deployment, which rolls back.

The migration signs in as the master user: it runs a revision of its own (family MIGRATION_FAMILY), the
green task definition with the container's database user and password taken from the cluster's secret
(MASTER_SECRET) and the execution role that may read it (MIGRATION_EXECUTION_ROLE), registered for the
run and deregistered after it. The service's own revisions never hold those credentials.

- CodeDeploy (``handler``, AfterInstall): finds the green task set, waits for the task inside
  this invocation (the function's timeout leaves room) and reports the result.
- Amazon ECS (``ecs_handler``, POST_SCALE_UP): the first call starts the task from the target
  service revision's task definition and answers IN_PROGRESS with the task in ``hookDetails``;
  ECS calls again every POLL_SECONDS until the task has stopped or the deadline has passed. ECS
  also runs hooks in the deployment that creates the service, and in those a `cdk deploy` starts
  before the region's first release: they run the bootstrap image (exactly BOOTSTRAP_IMAGE), which
  holds no migration, and the hook lets them pass.
"""

import json
import os
import time

try:  # a module of the package here (tests); at the top of the function's code in Lambda
    from . import one_off_task
except ImportError:
    import one_off_task

POLL_SECONDS = 10


def boto3_client(name):
    import boto3  # noqa: PLC0415 (in Lambda's runtime; tests pass stubbed clients)

    return boto3.client(name)


# What the service's container gets for the database that the migration's gets from the master secret.
SERVICE_DATABASE_SETTINGS = ("DB_USER", "DB_AUTH")
MASTER_CREDENTIALS = (("DB_USER", "username"), ("DB_PASSWORD", "password"))


def bootstrap_only(described) -> bool:
    """Whether the container runs exactly BOOTSTRAP_IMAGE, the image a service runs until its first release
    (anything else, a release included, is migrated: the check never skips a migration it cannot place)."""
    env = os.environ
    (image,) = [c["image"] for c in described["containerDefinitions"] if c["name"] == env["CONTAINER"]]
    return image == env["BOOTSTRAP_IMAGE"]


def migration_task_definition(ecs, described):
    """Register the migration's revision: ``described`` (the green task definition, as DescribeTaskDefinition
    answers) with the master user's credentials; return its ARN."""
    env = os.environ
    accepted = ecs.meta.service_model.operation_model("RegisterTaskDefinition").input_shape.members
    request = {key: value for key, value in described.items() if key in accepted}
    request["family"] = env["MIGRATION_FAMILY"]
    request["executionRoleArn"] = env["MIGRATION_EXECUTION_ROLE"]
    for container in request["containerDefinitions"]:
        if container["name"] != env["CONTAINER"]:
            continue
        container["environment"] = [
            e for e in container.get("environment", []) if e["name"] not in SERVICE_DATABASE_SETTINGS
        ]
        container["secrets"] = [
            *(s for s in container.get("secrets", []) if s["name"] not in dict(MASTER_CREDENTIALS)),
            *(
                {"name": name, "valueFrom": f"{env['MASTER_SECRET']}:{key}::"}
                for name, key in MASTER_CREDENTIALS
            ),
        ]
    return ecs.register_task_definition(**request)["taskDefinition"]["taskDefinitionArn"]


def describe(ecs, task_definition):
    return ecs.describe_task_definition(taskDefinition=task_definition)["taskDefinition"]


def forget(ecs, task_definition):
    """Deregister the migration's revision (it held the master credentials' references); errors are logged."""
    try:
        ecs.deregister_task_definition(taskDefinition=task_definition)
    except Exception as error:
        print(f"not deregistered: {task_definition}: {error!r}", flush=True)


def start(ecs, task_definition, started_by):
    """The migration task's ARN, or raise when it did not start."""
    command = json.loads(os.environ["COMMAND"])
    overrides = {"containerOverrides": [{"name": os.environ["CONTAINER"], "command": command}]}
    return one_off_task.start_one(ecs, task_definition, started_by, overrides=overrides)


def stopped_task(ecs, task):
    """The task once it has stopped, else None (not listed yet: starting; errors: tried again later)."""
    try:
        tasks = ecs.describe_tasks(cluster=os.environ["CLUSTER"], tasks=[task])["tasks"]
    except Exception as error:
        print(f"retrying: {error!r}", flush=True)
        return None
    return tasks[0] if tasks and tasks[0]["lastStatus"] == "STOPPED" else None


def where(task):
    env = os.environ
    return f"output: log group {env['LOG_GROUP']}, stream {env['LOG_PREFIX']}/{env['CONTAINER']}/{task.rsplit('/', 1)[1]}"


def outcome(ecs, task, task_definition, stopped):
    """(succeeded, message) for a stopped task, or for one that ran out of time (None: it is stopped)."""
    if stopped is None:
        try:
            ecs.stop_task(cluster=os.environ["CLUSTER"], task=task, reason="migration_timeout_minutes passed")
        except Exception as error:
            print(f"not stopped: {error!r}", flush=True)
        return False, f"migration timed out in {task}; {where(task)}"
    (code,) = [c.get("exitCode") for c in stopped["containers"] if c["name"] == os.environ["CONTAINER"]]
    if code == 0:
        return True, f"migration succeeded in {task} of {task_definition}; {where(task)}"
    why = f"exit code {code}" if code is not None else stopped.get("stoppedReason", "no exit code")
    return False, f"migration failed ({why}) in {task} of {task_definition}; {where(task)}"


def deadline_from(clock):
    return clock() + int(os.environ["TIMEOUT_MINUTES"]) * 60


# --- CodeDeploy ---------------------------------------------------------------------------


def green_task_set_definition(ecs, codedeploy, deployment_id):
    (target_id,) = codedeploy.list_deployment_targets(deploymentId=deployment_id)["targetIds"]
    target = codedeploy.get_deployment_target(deploymentId=deployment_id, targetId=target_id)
    sets = target["deploymentTarget"]["ecsTarget"]["taskSetsInfo"]
    (green,) = [s["identifer"] for s in sets if s["taskSetLabel"] == "Green"]
    env = os.environ
    described = ecs.describe_task_sets(cluster=env["CLUSTER"], service=env["SERVICE"], taskSets=[green])
    return described["taskSets"][0]["taskDefinition"]


def migrate(ecs, codedeploy, deployment_id, deadline, *, clock, sleep):
    task_definition = migration_task_definition(
        ecs, describe(ecs, green_task_set_definition(ecs, codedeploy, deployment_id))
    )
    try:
        task = start(ecs, task_definition, f"migration-{deployment_id}")
        stopped = None
        while stopped is None and clock() < deadline:
            sleep(POLL_SECONDS)
            stopped = stopped_task(ecs, task)
        return outcome(ecs, task, task_definition, stopped)
    finally:
        forget(ecs, task_definition)


def handler(event, context, *, ecs=None, codedeploy=None, clock=time.time, sleep=time.sleep):
    ecs, codedeploy = ecs or boto3_client("ecs"), codedeploy or boto3_client("codedeploy")
    deployment = event["DeploymentId"]
    try:
        succeeded, message = migrate(
            ecs, codedeploy, deployment, deadline_from(clock), clock=clock, sleep=sleep
        )
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


# --- Amazon ECS ---------------------------------------------------------------------------


def first_deployment(ecs, event):
    """Whether the deployment creates the service (it has no earlier revision to come from)."""
    (deployment,) = ecs.describe_service_deployments(serviceDeploymentArns=[event["resourceArn"]])[
        "serviceDeployments"
    ]
    return not deployment.get("sourceServiceRevisions")


def ecs_start(ecs, event, clock):
    revision = event["executionDetails"]["targetServiceRevisionArn"]
    (target,) = ecs.describe_service_revisions(serviceRevisionArns=[revision])["serviceRevisions"]
    green = describe(ecs, target["taskDefinition"])
    if bootstrap_only(green):
        # A `cdk deploy` before the region's first release: the bootstrap image, which holds no migration.
        print(
            f"{target['taskDefinition']} runs no release yet (the bootstrap image): no migration", flush=True
        )
        return {"hookStatus": "SUCCEEDED"}
    task_definition = migration_task_definition(ecs, green)
    try:
        task = start(ecs, task_definition, f"migration-{event['executionId']}")
    except Exception:
        forget(ecs, task_definition)
        raise
    print(f"migration started in {task} of {task_definition}; {where(task)}", flush=True)
    details = {"task": task, "taskDefinition": task_definition, "deadline": deadline_from(clock)}
    return {"hookStatus": "IN_PROGRESS", "callBackDelay": POLL_SECONDS, "hookDetails": details}


def ecs_handler(event, context, *, ecs=None, clock=time.time):
    ecs = ecs or boto3_client("ecs")
    details = event.get("hookDetails") or {}
    try:
        if "task" not in details:
            if first_deployment(ecs, event):
                print(
                    "the deployment that creates the service (its first revision): no migration", flush=True
                )
                return {"hookStatus": "SUCCEEDED"}
            return ecs_start(ecs, event, clock)
        task = details["task"]
        stopped = stopped_task(ecs, task)
        if stopped is None and clock() < details["deadline"]:
            return {"hookStatus": "IN_PROGRESS", "callBackDelay": POLL_SECONDS, "hookDetails": details}
        succeeded, message = outcome(ecs, task, details["taskDefinition"], stopped)
        forget(ecs, details["taskDefinition"])
    except Exception as error:  # an error would roll back too; say why
        succeeded, message = False, f"migration hook failed: {error!r}"
    print(message, flush=True)
    return {"hookStatus": "SUCCEEDED" if succeeded else "FAILED"}
