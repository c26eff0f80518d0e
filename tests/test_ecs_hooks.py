"""The hooks as Amazon ECS runs them: each call answers ``hookStatus``; long work spans calls.

ECS sends the event below (developer guide, "Lambda lifecycle hooks") and calls
again after ``callBackDelay`` while a hook answers IN_PROGRESS, passing back the
``hookDetails`` it returned. AWS calls go through botocore clients behind
Stubbers, so requests and responses are checked against the ECS and SSM models.
"""

from __future__ import annotations

import pytest
from botocore.stub import Stubber
from test_schema_migration import (
    BOOTSTRAP_IMAGE,
    ENVIRONMENT,
    MIGRATION_TASK_DEFINITION,
    REGION,
    TASK,
    TASK_DEFINITION,
    Cloud,
    green_definition,
)

from release.hooks import run_migration

REVISION = f"arn:aws:ecs:{REGION}:111111111111:service-revision/webapp-cluster/webapp-service/4567"
EXECUTION = "0f1e2d3c"


def ecs_event(stage: str, details: dict | None = None) -> dict:
    event = {
        "executionId": EXECUTION,
        "lifecycleStage": stage,
        "resourceArn": f"arn:aws:ecs:{REGION}:111111111111:service-deployment/webapp-cluster/webapp-service/x1",
        "executionDetails": {
            "serviceArn": f"arn:aws:ecs:{REGION}:111111111111:service/webapp-cluster/webapp-service",
            "targetServiceRevisionArn": REVISION,
            "testTrafficWeights": {},
            "productionTrafficWeights": {},
        },
    }
    if details is not None:
        event["hookDetails"] = details
    return event


def deployment_from(stub: Stubber, sources: list[dict]) -> None:
    """DescribeServiceDeployments of the event's deployment: ``sources`` are the revisions it replaces."""
    arn = ecs_event("POST_SCALE_UP")["resourceArn"]
    stub.add_response(
        "describe_service_deployments",
        {"serviceDeployments": [{"serviceDeploymentArn": arn, "sourceServiceRevisions": sources}]},
        {"serviceDeploymentArns": [arn]},
    )


BLUE = [{"arn": REVISION.replace("4567", "4566"), "requestedTaskCount": 2, "runningTaskCount": 2}]


def revision_of(stub: Stubber, task_definition: str = TASK_DEFINITION) -> None:
    stub.add_response(
        "describe_service_revisions",
        {
            "serviceRevisions": [{"serviceRevisionArn": REVISION, "taskDefinition": task_definition}],
            "failures": [],
        },
        {"serviceRevisionArns": [REVISION]},
    )


# --- the migration, across ECS's calls -----------------------------------------------------------


class Migration(Cloud):
    """The migration hook's ECS calls: each ``call`` is one invocation by ECS."""

    def __init__(self) -> None:
        super().__init__(REGION, {k: v for k, v in ENVIRONMENT.items() if k != "SERVICE"})
        self.details: dict | None = None

    def call(self, monkeypatch) -> dict:
        for name, value in self.environment.items():
            monkeypatch.setenv(name, value)
        with self.ecs_stub:
            answer = run_migration.ecs_handler(
                ecs_event("POST_SCALE_UP", self.details), None, ecs=self.ecs, clock=self.clock
            )
        self.ecs_stub.assert_no_pending_responses()
        self.details = {**(self.details or {}), **answer.get("hookDetails", {})}
        self.clock.sleep(answer.get("callBackDelay", 0))
        return answer

    def starts(self) -> None:
        deployment_from(self.ecs_stub, BLUE)
        revision_of(self.ecs_stub)
        self.registers()
        self.run_task(started_by=f"migration-{EXECUTION}")


def test_the_first_call_starts_the_task_of_the_target_revision_and_asks_to_be_called_again(
    monkeypatch, capsys
):
    migration = Migration()
    migration.starts()
    answer = migration.call(monkeypatch)
    assert answer["hookStatus"] == "IN_PROGRESS"
    assert answer["callBackDelay"] == run_migration.POLL_SECONDS
    assert answer["hookDetails"]["task"] == TASK
    assert answer["hookDetails"]["taskDefinition"] == MIGRATION_TASK_DEFINITION
    assert "migration started in" in capsys.readouterr().out


@pytest.mark.parametrize(("exit_code", "status"), [(0, "SUCCEEDED"), (3, "FAILED")])
def test_the_hook_answers_by_the_tasks_exit_code_once_it_has_stopped(monkeypatch, capsys, exit_code, status):
    migration = Migration()
    migration.starts()
    migration.call(monkeypatch)
    migration.task_state(None)  # not listed yet
    assert migration.call(monkeypatch)["hookStatus"] == "IN_PROGRESS"
    migration.task_state("RUNNING")
    assert migration.call(monkeypatch)["hookStatus"] == "IN_PROGRESS"
    migration.task_state("STOPPED", exit_code=exit_code)
    migration.deregisters()
    assert migration.call(monkeypatch) == {"hookStatus": status}
    out = capsys.readouterr().out
    assert ("migration succeeded" if exit_code == 0 else f"exit code {exit_code}") in out


def test_a_poll_error_is_tried_again_on_the_next_call(monkeypatch):
    migration = Migration()
    migration.starts()
    migration.call(monkeypatch)
    migration.ecs_stub.add_client_error("describe_tasks", service_error_code="ThrottlingException")
    assert migration.call(monkeypatch)["hookStatus"] == "IN_PROGRESS"
    migration.task_state("STOPPED", exit_code=0)
    migration.deregisters()
    assert migration.call(monkeypatch) == {"hookStatus": "SUCCEEDED"}


def test_a_task_still_running_at_the_deadline_is_stopped_and_fails(monkeypatch, capsys):
    migration = Migration()
    migration.starts()
    migration.call(monkeypatch)
    migration.clock.sleep(int(ENVIRONMENT["TIMEOUT_MINUTES"]) * 60)
    migration.task_state("RUNNING")
    migration.stops_the_task()
    migration.deregisters()
    assert migration.call(monkeypatch) == {"hookStatus": "FAILED"}
    assert "migration timed out in" in capsys.readouterr().out


def test_the_deployment_that_creates_the_service_runs_no_migration(monkeypatch, capsys):
    """It runs the bootstrap image, which holds no migration; ECS runs hooks in it all the same."""
    migration = Migration()
    deployment_from(migration.ecs_stub, [])
    assert migration.call(monkeypatch) == {"hookStatus": "SUCCEEDED"}
    assert "no migration" in capsys.readouterr().out


def test_a_deploy_before_the_first_release_runs_no_migration(monkeypatch, capsys):
    """`cdk deploy` of a changed task definition before any release: ECS deploys the bootstrap image again."""
    migration = Migration()
    deployment_from(migration.ecs_stub, BLUE)
    revision_of(migration.ecs_stub)
    bootstrap = green_definition(TASK_DEFINITION, ENVIRONMENT["CONTAINER"])
    bootstrap["containerDefinitions"][0]["image"] = BOOTSTRAP_IMAGE
    migration.ecs_stub.add_response(
        "describe_task_definition", {"taskDefinition": bootstrap}, {"taskDefinition": TASK_DEFINITION}
    )
    assert migration.call(monkeypatch) == {"hookStatus": "SUCCEEDED"}
    assert "runs no release yet (the bootstrap image): no migration" in capsys.readouterr().out


def test_any_other_image_is_migrated_even_one_from_elsewhere(monkeypatch):
    """The check skips only the bootstrap image itself: it never skips a migration it cannot place."""
    migration = Migration()
    deployment_from(migration.ecs_stub, BLUE)
    revision_of(migration.ecs_stub)
    migration.registers(image="public.ecr.aws/acme/shop@sha256:" + "ef" * 32)
    migration.run_task(started_by=f"migration-{EXECUTION}")
    assert migration.call(monkeypatch)["hookStatus"] == "IN_PROGRESS"


def test_every_in_progress_answer_carries_the_task(monkeypatch):
    """A second migration must never start, even if ECS passed back only the last answer's details."""
    migration = Migration()
    migration.starts()
    first = migration.call(monkeypatch)
    migration.task_state("RUNNING")
    assert migration.call(monkeypatch)["hookDetails"] == first["hookDetails"]


def test_a_task_that_does_not_start_fails_at_once(monkeypatch, capsys):
    migration = Migration()
    deployment_from(migration.ecs_stub, BLUE)
    revision_of(migration.ecs_stub)
    migration.registers()
    migration.run_task(started=False, started_by=f"migration-{EXECUTION}")
    migration.deregisters()
    assert migration.call(monkeypatch) == {"hookStatus": "FAILED"}
    assert "did not start" in capsys.readouterr().out
