"""Custom resource (with a database): run the database setup task once, before the service's tasks start.

Create and Update start one Fargate task of TASK_DEFINITION (the project's bootstrap image running
database_users.py as the master user: the service's own role) in the private subnets, wait for it to stop
(at most WAIT_MINUTES) and answer SUCCESS only when its container exited 0; otherwise FAILED, naming the
task's log stream (the stack's update then rolls back). CloudFormation sends Update when the task
definition changes (a new revision: new setup code or settings). Delete does nothing: the role lives in
the database, which goes with its cluster.
"""

from __future__ import annotations

import os
import time

try:  # modules of the package here (tests); at the top of the function's code in Lambda
    from . import cfn_response, one_off_task
except ImportError:
    import cfn_response
    import one_off_task

PHYSICAL_ID = "database-users"
POLL_SECONDS = 10
# Inside one invocation (the function may run 15 minutes): time left to stop the task and answer.
WAIT_MINUTES = 12


def boto3_client(name):
    import boto3  # noqa: PLC0415 (in Lambda's runtime; tests pass a stubbed client)

    return boto3.client(name)


def run_setup(ecs, task_definition: str, *, clock, sleep) -> tuple[bool, str]:
    """(succeeded, what happened) for one run of the setup task."""
    env = os.environ
    try:
        task = one_off_task.start_one(ecs, task_definition, "database-users")
    except RuntimeError as error:
        return False, str(error)
    where = f"log group {env['LOG_GROUP']}, stream {env['LOG_PREFIX']}/{env['CONTAINER']}/{task.rsplit('/', 1)[1]}"
    deadline = clock() + WAIT_MINUTES * 60
    while clock() < deadline:
        sleep(POLL_SECONDS)
        (described,) = ecs.describe_tasks(cluster=env["CLUSTER"], tasks=[task])["tasks"] or [None]
        if described is None or described["lastStatus"] != "STOPPED":
            continue
        (code,) = [c.get("exitCode") for c in described["containers"] if c["name"] == env["CONTAINER"]]
        if code == 0:
            return True, f"database setup succeeded in {task}; {where}"
        why = f"exit code {code}" if code is not None else described.get("stoppedReason", "no exit code")
        return False, f"database setup failed ({why}) in {task}; {where}"
    ecs.stop_task(cluster=env["CLUSTER"], task=task, reason="database setup took too long")
    return False, f"database setup did not end within {WAIT_MINUTES} minutes in {task}; {where}"


def on_event(event, context, *, ecs=None, respond=cfn_response.respond, clock=time.time, sleep=time.sleep):
    physical_id = event.get("PhysicalResourceId", PHYSICAL_ID)
    try:
        if event["RequestType"] == "Delete":
            respond(event, cfn_response.SUCCESS, physical_id=physical_id, reason="nothing to delete")
            return
        task_definition = event["ResourceProperties"]["TaskDefinition"]
        succeeded, message = run_setup(ecs or boto3_client("ecs"), task_definition, clock=clock, sleep=sleep)
    except Exception as error:  # CloudFormation must always hear back, or it waits an hour
        succeeded, message = False, f"{type(error).__name__}: {error}"
    status = cfn_response.SUCCESS if succeeded else cfn_response.FAILED
    respond(event, status, physical_id=PHYSICAL_ID, reason=message)
