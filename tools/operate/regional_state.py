"""What runs in one region of the app: its resources' names, running revision, last deployment, alarms.

Read with the operator's credentials through :class:`tools.operate.patient_aws.Aws`;
shared by ``make release`` (its summary), ``make status`` and ``make destroy``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from botocore.exceptions import ClientError

from tools.cloud_assembly import StackArtifact
from tools.operate.aws_access import utc_minute
from tools.operate.cdk_commands import OperatorError, stack_missing
from tools.operate.patient_aws import Aws

CODEDEPLOY_GROUP = "AWS::CodeDeploy::DeploymentGroup"
# The regional stack's output that holds its copy's address (stacks/regional_service_stack.py).
SERVICE_URL = "ServiceUrl"
# Hex digits of a digest shown in a table, as Docker shortens image IDs.
SHORT_DIGEST_HEX = 12


@dataclass(frozen=True)
class StackResources:
    """The physical IDs of one deployed stack's resources, by logical ID, with their types.

    ``physical`` and ``types`` hold what exists; ``deleted`` what a failed deletion of the stack
    already removed (CloudFormation still lists it, as DELETE_COMPLETE).
    """

    stack: StackArtifact
    physical: dict[str, str]  # logical ID -> physical ID
    types: dict[str, str]  # logical ID -> resource type
    deleted: dict[str, str] = field(default_factory=dict)  # logical ID -> physical ID

    @classmethod
    def read(cls, aws: Aws, stack: StackArtifact) -> StackResources:
        summaries = aws.pages(
            "cloudformation",
            stack.region,
            "list_stack_resources",
            "StackResourceSummaries",
            "NextToken",
            StackName=stack.name,
        )
        summaries = [s for s in summaries if s.get("PhysicalResourceId")]
        live = [s for s in summaries if s.get("ResourceStatus") != "DELETE_COMPLETE"]
        return cls(
            stack,
            {s["LogicalResourceId"]: s["PhysicalResourceId"] for s in live},
            {s["LogicalResourceId"]: s["ResourceType"] for s in live},
            {s["LogicalResourceId"]: s["PhysicalResourceId"] for s in summaries if s not in live},
        )

    @classmethod
    def deployed(cls, aws: Aws, stack: StackArtifact) -> StackResources | None:
        """The stack's resources, or None when the stack is not deployed."""
        try:
            return cls.read(aws, stack)
        except ClientError as error:
            if stack_missing(error):
                return None
            raise

    def named(self, resource_type: str) -> tuple[str, ...]:
        return tuple(self.physical[lid] for lid, kind in self.types.items() if kind == resource_type)

    def one(self, resource_type: str) -> str:
        named = self.named(resource_type)
        if len(named) != 1:
            raise OperatorError(
                f"{self.stack.name} ({self.stack.region}) has {len(named)} {resource_type} where the app has one; "
                "is the stack half created or half deleted? (aws cloudformation describe-stacks)"
            )
        return named[0]

    @property
    def cluster(self) -> str:
        return self.one("AWS::ECS::Cluster")

    @property
    def service(self) -> str:
        return self.one("AWS::ECS::Service").rsplit("/", 1)[-1]  # the physical ID is the service's ARN


@dataclass(frozen=True)
class Running:
    """The revision a service serves: its task definition and the image digests its tasks run."""

    task_definition: str  # family:revision
    digests: tuple[str, ...]
    running: int
    addresses: tuple[str, ...] = ()  # the serving tasks' private IPv4 addresses (awsvpc: each task's ENI)

    @property
    def digest(self) -> str:
        """Every digest in full, for copying (``make status``)."""
        return ", ".join(self.digests) or "no running task"

    @property
    def short_digest(self) -> str:
        """Every digest shortened, for a table (``make release``'s summary)."""
        return ", ".join(short_digest(d) for d in self.digests) or "no running task"


def short_digest(digest: str) -> str:
    """``sha256:`` and the first 12 hex digits, as Docker shows image IDs; anything else as it is."""
    algorithm, colon, hex_digits = digest.partition(":")
    return f"{algorithm}:{hex_digits[:SHORT_DIGEST_HEX]}" if colon else digest


def primary_task_definition(service: dict) -> str:
    """The task definition serving production: the PRIMARY task set (CodeDeploy) or deployment (ECS)."""
    for item in (*service.get("taskSets", ()), *service.get("deployments", ())):
        if item["status"] == "PRIMARY":
            return item["taskDefinition"]
    return service.get("taskDefinition", "")


def described_service(aws: Aws, region: str, cluster: str, service: str) -> dict:
    """ECS's description of the service (DescribeServices); one line when ECS does not find it."""
    found = aws.call("ecs", region, "describe_services", cluster=cluster, services=[service])
    if not found["services"]:
        raise OperatorError(f"ECS does not find the service {service} in {region}: {found.get('failures')}")
    return found["services"][0]


def described_tasks(aws: Aws, region: str, cluster: str, task_arns: list[str]) -> list[dict]:
    """ECS's description of every task of ``task_arns`` (DescribeTasks takes at most 100 at a time)."""
    tasks = []
    for start in range(0, len(task_arns), 100):
        tasks += aws.call(
            "ecs", region, "describe_tasks", cluster=cluster, tasks=task_arns[start : start + 100]
        )["tasks"]
    return tasks


def stack_state(aws: Aws, stack: StackArtifact) -> tuple[str, str]:
    """The stack's status and its reason; ``DELETE_COMPLETE`` once CloudFormation no longer knows it."""
    try:
        (described,) = aws.call("cloudformation", stack.region, "describe_stacks", StackName=stack.name)[
            "Stacks"
        ]
    except ClientError as error:
        if stack_missing(error):
            return "DELETE_COMPLETE", ""
        raise
    return described["StackStatus"], described.get("StackStatusReason", "")


def running(aws: Aws, region: str, cluster: str, service: str) -> Running:
    task_definition = primary_task_definition(described_service(aws, region, cluster, service))
    task_arns = aws.pages(
        "ecs",
        region,
        "list_tasks",
        "taskArns",
        "nextToken",
        cluster=cluster,
        serviceName=service,
        desiredStatus="RUNNING",
    )
    tasks = described_tasks(aws, region, cluster, task_arns)
    serving = [task for task in tasks if task["taskDefinitionArn"] == task_definition]
    digests = sorted(
        {c["imageDigest"] for task in serving for c in task.get("containers", ()) if c.get("imageDigest")}
    )
    addresses = sorted(
        detail["value"]
        for task in serving
        for attachment in task.get("attachments", ())
        for detail in attachment.get("details", ())
        if detail["name"] == "privateIPv4Address"
    )
    return Running(task_definition.rsplit("/", 1)[-1], tuple(digests), len(serving), tuple(addresses))


@dataclass(frozen=True)
class LastDeployment:
    identifier: str
    status: str
    time: datetime | None

    def describe(self) -> str:
        when = f" at {utc_minute(self.time)}" if self.time else ""
        return f"{self.status}{when} ({self.identifier})"


NO_DEPLOYMENT = LastDeployment("none yet", "no deployment", None)


def last_deployment(aws: Aws, resources: StackResources) -> LastDeployment:
    region = resources.stack.region
    if resources.named(CODEDEPLOY_GROUP):
        group = aws.call(
            "codedeploy",
            region,
            "get_deployment_group",
            applicationName=resources.one("AWS::CodeDeploy::Application"),
            deploymentGroupName=resources.one(CODEDEPLOY_GROUP),
        )["deploymentGroupInfo"]
        last = group.get("lastAttemptedDeployment")
        if not last:
            return NO_DEPLOYMENT
        return LastDeployment(
            last["deploymentId"], last["status"], last.get("endTime") or last.get("createTime")
        )
    newest = newest_service_deployment(aws, resources)
    if newest is None:
        return NO_DEPLOYMENT
    return LastDeployment(
        newest["serviceDeploymentArn"].rsplit("/", 1)[-1],
        newest["status"],
        newest.get("finishedAt") or newest.get("startedAt") or newest["createdAt"],
    )


def service_deployments(aws: Aws, resources: StackResources, **created_at) -> list[dict]:
    """Every service deployment of the service (ECS engine), of those created ``after`` a time if given.

    ListServiceDeployments pages (20 by default) and promises no order: every page is read.
    """
    return aws.pages(
        "ecs",
        resources.stack.region,
        "list_service_deployments",
        "serviceDeployments",
        "nextToken",
        cluster=resources.cluster,
        service=resources.service,
        maxResults=100,
        **({"createdAt": created_at} if created_at else {}),
    )


def newest_service_deployment(aws: Aws, resources: StackResources, **created_at) -> dict | None:
    """The service's newest service deployment (ECS engine), of those created ``after`` a time if given."""
    briefs = service_deployments(aws, resources, **created_at)
    return max(briefs, key=lambda brief: brief["createdAt"]) if briefs else None


def alarm_states(aws: Aws, resources: StackResources) -> dict[str, str]:
    """Each of the stack's alarms and its state (OK, ALARM, INSUFFICIENT_DATA)."""
    names = list(resources.named("AWS::CloudWatch::Alarm"))
    states: dict[str, str] = {}
    for start in range(0, len(names), 100):  # DescribeAlarms takes at most 100 names
        found = aws.pages(
            "cloudwatch",
            resources.stack.region,
            "describe_alarms",
            "MetricAlarms",
            "NextToken",
            AlarmNames=names[start : start + 100],
            MaxRecords=100,
        )
        states |= {alarm["AlarmName"]: alarm["StateValue"] for alarm in found}
    return states


def stack_outputs(aws: Aws, stack: StackArtifact) -> dict[str, str]:
    """The deployed stack's outputs by key (DescribeStacks)."""
    (described,) = aws.call("cloudformation", stack.region, "describe_stacks", StackName=stack.name)["Stacks"]
    return {output["OutputKey"]: output["OutputValue"] for output in described.get("Outputs", ())}


def service_url(aws: Aws, stack: StackArtifact) -> str:
    """The copy's address from its stack's ``ServiceUrl`` output, or what to do when a deploy has not added it."""
    return (
        stack_outputs(aws, stack).get(SERVICE_URL)
        or f"unknown: no {SERVICE_URL} output yet (make deploy adds it)"
    )
