"""Custom::DatabaseUsers' function (release/hooks/database_users.py) against botocore's Stubber.

It runs one task of the setup task definition in the private subnets, waits
for it and answers CloudFormation: SUCCESS only when the setup container
exited 0; otherwise FAILED, naming the task's log stream, so the stack's
create or update rolls back before the service starts.
"""

from __future__ import annotations

import json

import pytest
from botocore.stub import Stubber
from conftest import offline_client

from constructs.region.database_users import RESOURCE_TYPE
from release.hooks import cfn_response, database_users

REGION = "eu-west-2"
CLUSTER = "webapp-eu-west-2-ServiceCluster572F72F1-AbCdEf"
TASK_DEFINITION = (
    f"arn:aws:ecs:{REGION}:111111111111:task-definition/webappeuwest2DatabaseUsersTaskDefinition0FAF845B:3"
)
TASK = f"arn:aws:ecs:{REGION}:111111111111:task/{CLUSTER}/0123456789abcdef0123456789abcdef"
ENVIRONMENT = {
    "CLUSTER": CLUSTER,
    "CONTAINER": "setup",
    "SUBNETS": "subnet-1,subnet-2",
    "SECURITY_GROUP": "sg-0123",
    "LOG_GROUP": "webapp-eu-west-2-ServiceLogs",
    "LOG_PREFIX": "database-users",
}


@pytest.fixture(autouse=True)
def environment(monkeypatch):
    for name, value in ENVIRONMENT.items():
        monkeypatch.setenv(name, value)


class Cloud:
    """The stubbed ECS API, a clock that moves with every wait, and what CloudFormation heard."""

    def __init__(self) -> None:
        self.ecs = offline_client("ecs", REGION)
        self.stub = Stubber(self.ecs)
        self.now = 0.0
        self.answers: list[dict] = []

    def starts(self, failures: list[dict] | None = None) -> None:
        tasks = [] if failures else [{"taskArn": TASK}]
        self.stub.add_response(
            "run_task",
            {"tasks": tasks, "failures": failures or []},
            {
                "cluster": CLUSTER,
                "taskDefinition": TASK_DEFINITION,
                "launchType": "FARGATE",
                "count": 1,
                "startedBy": "database-users",
                "networkConfiguration": {
                    "awsvpcConfiguration": {
                        "subnets": ["subnet-1", "subnet-2"],
                        "securityGroups": ["sg-0123"],
                        "assignPublicIp": "DISABLED",
                    }
                },
            },
        )

    def task(self, status: str, exit_code: int | None = None, reason: str | None = None) -> None:
        container = {"name": "setup", **({"exitCode": exit_code} if exit_code is not None else {})}
        task = {"taskArn": TASK, "lastStatus": status, "containers": [container]}
        if reason:
            task["stoppedReason"] = reason
        self.stub.add_response("describe_tasks", {"tasks": [task]}, {"cluster": CLUSTER, "tasks": [TASK]})

    def stops(self) -> None:
        self.stub.add_response(
            "stop_task", {}, {"cluster": CLUSTER, "task": TASK, "reason": "database setup took too long"}
        )

    def send(self, request_type: str) -> dict:
        event = {
            "RequestType": request_type,
            "ResponseURL": "https://cloudformation-custom-resource-response.example/answer",
            "StackId": f"arn:aws:cloudformation:{REGION}:111111111111:stack/webapp-eu-west-2/0f1e",
            "RequestId": "request-1",
            "LogicalResourceId": "DatabaseUsers48512139",
            "ResourceType": RESOURCE_TYPE,
            "ResourceProperties": {"TaskDefinition": TASK_DEFINITION},
        }
        if request_type != "Create":
            event["PhysicalResourceId"] = database_users.PHYSICAL_ID

        def put(url: str, body: bytes) -> None:
            assert url == event["ResponseURL"]
            self.answers.append(json.loads(body))

        def sleep(seconds: float) -> None:
            self.now += seconds

        self.stub.activate()
        try:
            database_users.on_event(
                event,
                None,
                ecs=self.ecs,
                respond=lambda *a, **k: cfn_response.respond(*a, **k, put=put),
                clock=lambda: self.now,
                sleep=sleep,
            )
        finally:
            self.stub.deactivate()
        self.stub.assert_no_pending_responses()  # outside any `with`: checked whatever the function did
        (answer,) = self.answers
        assert answer["PhysicalResourceId"] == database_users.PHYSICAL_ID
        return answer


@pytest.mark.parametrize("request_type", ["Create", "Update"])
def test_the_setup_task_runs_and_success_is_its_exit_code_zero(request_type):
    cloud = Cloud()
    cloud.starts()
    cloud.task("PENDING")
    cloud.task("RUNNING")
    cloud.task("STOPPED", exit_code=0)
    answer = cloud.send(request_type)
    assert answer["Status"] == "SUCCESS", answer
    assert "database-users/setup/0123456789abcdef0123456789abcdef" in answer["Reason"]


def test_a_failed_setup_fails_the_resource_and_names_its_log_stream():
    cloud = Cloud()
    cloud.starts()
    cloud.task("STOPPED", exit_code=1)
    answer = cloud.send("Create")
    assert answer["Status"] == "FAILED"
    assert "exit code 1" in answer["Reason"]
    assert f"log group {ENVIRONMENT['LOG_GROUP']}, stream database-users/setup/" in answer["Reason"]


def test_a_task_that_never_ran_its_container_fails_with_ecs_reason():
    cloud = Cloud()
    cloud.starts()
    cloud.task("STOPPED", reason="ResourceInitializationError: unable to pull secrets")
    answer = cloud.send("Create")
    assert answer["Status"] == "FAILED"
    assert "ResourceInitializationError" in answer["Reason"]


def test_a_task_that_did_not_start_fails_the_resource():
    cloud = Cloud()
    cloud.starts(failures=[{"reason": "RESOURCE:ENI", "arn": TASK_DEFINITION}])
    answer = cloud.send("Create")
    assert answer["Status"] == "FAILED"
    assert "RESOURCE:ENI" in answer["Reason"]


def test_a_setup_that_runs_too_long_is_stopped_and_fails():
    cloud = Cloud()
    cloud.starts()
    polls = database_users.WAIT_MINUTES * 60 // database_users.POLL_SECONDS
    for _ in range(polls):
        cloud.task("RUNNING")
    cloud.stops()
    answer = cloud.send("Create")
    assert answer["Status"] == "FAILED"
    assert f"did not end within {database_users.WAIT_MINUTES} minutes" in answer["Reason"]


def test_an_api_error_still_answers_cloudformation():
    cloud = Cloud()
    cloud.stub.add_client_error("run_task", "AccessDeniedException", "not allowed")
    answer = cloud.send("Create")
    assert answer["Status"] == "FAILED"
    assert "AccessDeniedException" in answer["Reason"]


def test_delete_calls_nothing_the_role_goes_with_the_database():
    answer = Cloud().send("Delete")
    assert answer["Status"] == "SUCCESS"


def test_the_wait_fits_in_the_functions_timeout(with_database_templates):
    """Waiting, stopping the task and answering fit in the function's 14 minutes."""
    for template in with_database_templates:
        (function,) = [
            r["Properties"]
            for r in template["Resources"].values()
            if r["Type"] == "AWS::Lambda::Function"
            and r["Properties"].get("Handler") == "database_users.on_event"
        ]
        assert database_users.WAIT_MINUTES * 60 + 2 * 60 <= function["Timeout"] <= 15 * 60


@pytest.fixture
def with_database_templates(synth_cache) -> list[dict]:
    return list(synth_cache("database").regional_templates.values())
