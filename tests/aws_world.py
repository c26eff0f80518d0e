"""A stubbed AWS for the operator commands: one botocore Stubber per (service, region).

Every request is checked against the service's API model (botocore validates
parameters before the Stubber answers) and every canned answer against the
operation's output shape, so the commands are held to AWS's own contracts.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from botocore import xform_name
from botocore.stub import ANY, Stubber
from conftest import offline_client

from tools.cloud_assembly import StackArtifact
from tools.operate.patient_aws import Aws

T0 = datetime(2026, 11, 27, 9, 0, tzinfo=UTC)
ACCOUNT = "123456789012"


# IAM's prefix where it differs from botocore's service name.
IAM_PREFIX = {"elbv2": "elasticloadbalancing"}


class World:
    """Stubbed clients made on demand; ``expect`` queues an answer, ``fail`` an error.

    ``allowed``: the IAM actions the command under test declares; any other call fails the test.
    """

    def __init__(self, allowed: tuple[str, ...] | None = None) -> None:
        self.allowed = allowed
        self.stubbers: dict[tuple[str, str], Stubber] = {}
        self.clients: dict[tuple[str, str], object] = {}
        self.slept: list[float] = []
        self.calls: list[str] = []  # "service region operation", in the order the command made them

    def client(self, service: str, region: str):
        key = (service, region)
        if key not in self.clients:
            self.clients[key] = offline_client(service, region)
            self.clients[key].meta.events.register("before-call.*.*", self._record(service, region))
            self.stubbers[key] = Stubber(self.clients[key])
            self.stubbers[key].activate()
        return self.clients[key]

    def _record(self, service: str, region: str):
        def record(model, **_) -> None:
            action = f"{IAM_PREFIX.get(service, service)}:{model.name}"
            if self.allowed is not None and action not in self.allowed:
                raise AssertionError(f"{action} is called but not among the command's PERMISSIONS")
            self.calls.append(f"{service} {region} {xform_name(model.name)}")

        return record

    def stubber(self, service: str, region: str) -> Stubber:
        self.client(service, region)
        return self.stubbers[(service, region)]

    def expect(self, service: str, region: str, operation: str, response: dict, params: dict | None = None):
        self.stubber(service, region).add_response(operation, response, params)

    def fail(
        self, service: str, region: str, operation: str, code: str, message: str = "", *, status: int = 400
    ):
        self.stubber(service, region).add_client_error(
            operation, service_error_code=code, service_message=message or code, http_status_code=status
        )

    def aws(self) -> Aws:
        # The whole back-off, no random share: the waits a test sees are exact.
        return Aws(self.client, sleep=self.slept.append, jitter=lambda: 1.0)

    def assert_done(self) -> None:
        for stubber in self.stubbers.values():
            stubber.assert_no_pending_responses()


def physical(stack: StackArtifact, logical_id: str, resource_type: str) -> str:
    """The physical ID a stack's resource gets in these tests (ARNs where CloudFormation returns one)."""
    if resource_type == "AWS::ECS::Service":
        return f"arn:aws:ecs:{stack.region}:{ACCOUNT}:service/{stack.name}-cluster/{stack.name}-service"
    if resource_type == "AWS::ECS::Cluster":
        return f"{stack.name}-cluster"
    if resource_type == "AWS::SNS::Topic":
        return f"arn:aws:sns:{stack.region}:{ACCOUNT}:{stack.name}-{logical_id}"
    return f"{stack.name}-{logical_id}"


def expect_stack_resources(
    world: World, stack: StackArtifact, statuses: dict[str, str] | None = None
) -> dict[str, str]:
    """Queue the stack's ListStackResources (two pages); return its physical IDs by logical ID.

    ``statuses`` gives some resources another status than UPDATE_COMPLETE (DELETE_COMPLETE, say).
    """
    summaries = [
        {
            "LogicalResourceId": logical_id,
            "PhysicalResourceId": physical(stack, logical_id, resource["Type"]),
            "ResourceType": resource["Type"],
            "LastUpdatedTimestamp": T0,
            "ResourceStatus": (statuses or {}).get(logical_id, "UPDATE_COMPLETE"),
        }
        for logical_id, resource in stack.resources.items()
    ]
    half = len(summaries) // 2
    world.expect(
        "cloudformation",
        stack.region,
        "list_stack_resources",
        {"StackResourceSummaries": summaries[:half], "NextToken": "page-2"},
        {"StackName": stack.name},
    )
    world.expect(
        "cloudformation",
        stack.region,
        "list_stack_resources",
        {"StackResourceSummaries": summaries[half:]},
        {"StackName": stack.name, "NextToken": "page-2"},
    )
    return {s["LogicalResourceId"]: s["PhysicalResourceId"] for s in summaries}


def task_definition_arn(stack: StackArtifact, revision: int) -> str:
    return f"arn:aws:ecs:{stack.region}:{ACCOUNT}:task-definition/{stack.name}-web:{revision}"


def expect_running(
    world: World,
    stack: StackArtifact,
    *,
    revision: int,
    digest: str,
    engine: str = "codedeploy",
    addresses: tuple[str, str] | None = None,
):
    """Queue what ECS answers about the service: its primary revision and two tasks running ``digest``
    (at ``addresses``, their network interfaces' private IPs, when given)."""
    cluster, service = f"{stack.name}-cluster", f"{stack.name}-service"
    serving = task_definition_arn(stack, revision)
    older = task_definition_arn(stack, revision - 1)
    primary = {"status": "PRIMARY", "taskDefinition": serving}
    described = {"serviceName": service, "status": "ACTIVE"}
    if engine == "codedeploy":
        described["taskSets"] = [{**primary, "id": "ecs-svc/1"}]
    else:
        described["deployments"] = [
            {**primary, "id": "ecs-svc/1"},
            {"status": "ACTIVE", "taskDefinition": older},
        ]
    expect_service(world, stack, described)
    tasks = [f"arn:aws:ecs:{stack.region}:{ACCOUNT}:task/{cluster}/{n}" for n in ("a1", "b2", "c3")]
    expect_tasks(
        world,
        stack.region,
        cluster,
        [
            *(
                {
                    "taskArn": task,
                    "taskDefinitionArn": serving,
                    "containers": [{"name": "web", "imageDigest": digest}],
                    **(
                        {"attachments": [{"details": [{"name": "privateIPv4Address", "value": address}]}]}
                        if address
                        else {}
                    ),
                }
                for task, address in zip(tasks[:2], addresses or (None, None), strict=True)
            ),
            # A task of the old revision still draining: not what the service serves.
            {
                "taskArn": tasks[2],
                "taskDefinitionArn": older,
                "containers": [{"name": "web", "imageDigest": "sha256:" + "0" * 64}],
            },
        ],
        serviceName=service,
        desiredStatus="RUNNING",
    )


def expect_service(world: World, stack: StackArtifact, described: dict) -> None:
    """Queue ECS's DescribeServices answer for the stack's service (named as ``physical`` names it)."""
    world.expect(
        "ecs",
        stack.region,
        "describe_services",
        {"services": [{"serviceName": f"{stack.name}-service", **described}]},
        {"cluster": f"{stack.name}-cluster", "services": [f"{stack.name}-service"]},
    )


def expect_tasks(world: World, region: str, cluster: str, tasks: list[dict], **listed) -> None:
    """Queue ECS's ListTasks (with the ``listed`` filters) and DescribeTasks answers for ``tasks``."""
    arns = [task["taskArn"] for task in tasks]
    world.expect("ecs", region, "list_tasks", {"taskArns": arns}, {"cluster": cluster, **listed})
    world.expect("ecs", region, "describe_tasks", {"tasks": tasks}, {"cluster": cluster, "tasks": arns})


def expect_gone(world: World, stack: StackArtifact) -> None:
    """Queue CloudFormation's answer for a stack that does not exist (any more)."""
    world.fail(
        "cloudformation",
        stack.region,
        "describe_stacks",
        "ValidationError",
        f"Stack with id {stack.name} does not exist",
    )


def expect_service_log_groups(
    world: World, stack: StackArtifact, ids: dict[str, str], existing: tuple[str, ...] = ()
) -> list[str]:
    """Queue CloudWatch Logs' answers for the log groups services would make for the stack's resources (named
    from their physical ``ids``): those in ``existing`` exist. Returns every name asked for."""
    from tools.operate.kept_resources import service_log_groups

    names = service_log_groups(stack, ids)
    for name in names:
        world.expect(
            "logs",
            stack.region,
            "describe_log_groups",
            {"logGroups": [{"logGroupName": name}] if name in existing else []},
            {"logGroupNamePrefix": name},
        )
    return names


def expect_outputs(world: World, stack: StackArtifact, outputs: dict[str, str]) -> None:
    """Queue the stack's DescribeStacks: deployed, with ``outputs`` (key -> value)."""
    world.expect(
        "cloudformation",
        stack.region,
        "describe_stacks",
        {
            "Stacks": [
                {
                    "StackName": stack.name,
                    "CreationTime": T0,
                    "StackStatus": "UPDATE_COMPLETE",
                    "Outputs": [{"OutputKey": key, "OutputValue": value} for key, value in outputs.items()],
                }
            ]
        },
        {"StackName": stack.name},
    )


def minutes_after(minutes: float) -> datetime:
    return T0 + timedelta(minutes=minutes)


__all__ = [
    "ANY",
    "T0",
    "World",
    "expect_outputs",
    "expect_running",
    "expect_stack_resources",
    "minutes_after",
    "physical",
]
