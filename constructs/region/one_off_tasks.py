"""What a function needs to run one-off tasks of its own family on a region's service cluster."""

from __future__ import annotations

from aws_cdk import Stack
from aws_cdk import aws_ec2 as ec2

from constructs import Construct
from constructs.nag_acknowledgments import ref_of
from constructs.region.regional_database import RegionalDatabase
from constructs.region.regional_service import RegionalEcsService

PASSED_TO_ECS_TASKS = {"StringEquals": {"iam:PassedToService": "ecs-tasks.amazonaws.com"}}


def family_arn(service: RegionalEcsService, family: str) -> str:
    """Every revision of the task-definition family ``family`` in the service's region and account."""
    stack = Stack.of(service)
    return f"arn:aws:ecs:{stack.region}:{stack.account}:task-definition/{family}:*"


def runs_one_off_tasks(
    service: RegionalEcsService, *, family: str, passed_roles: list[str]
) -> list[dict[str, object]]:
    """Policy statements: log to the service's log group, run revisions of ``family`` on the service's
    cluster only (``ecs:cluster``), follow and stop the tasks, and pass ``passed_roles`` to ECS tasks."""
    stack = Stack.of(service)
    cluster = service.cluster
    return [
        {
            "Effect": "Allow",
            "Action": ["logs:CreateLogStream", "logs:PutLogEvents"],
            "Resource": service.log_group.log_group_arn,
        },
        {
            "Effect": "Allow",
            "Action": "ecs:RunTask",
            "Resource": family_arn(service, family),
            "Condition": {"ArnEquals": {"ecs:cluster": cluster.cluster_arn}},
        },
        {
            "Effect": "Allow",
            "Action": ["ecs:DescribeTasks", "ecs:StopTask"],
            "Resource": f"arn:aws:ecs:{stack.region}:{stack.account}:task/{cluster.cluster_name}/*",
        },
        {
            "Effect": "Allow",
            "Action": "iam:PassRole",
            "Resource": passed_roles,
            "Condition": PASSED_TO_ECS_TASKS,
        },
    ]


def one_off_task_finding(service: RegionalEcsService, what: str) -> tuple[str, str]:
    """cdk-nag's finding on the tasks' wildcard, with its reason; ``what`` names the task."""
    stack = Stack.of(service)
    return (
        f"AwsSolutions-IAM5[Resource::arn:aws:ecs:{stack.region}:{stack.account}:task/{ref_of(service.cluster)}/*]",
        f"Describe and stop the {what} task it started; task IDs are unknown until RunTask returns.",
    )


def task_security_group(
    scope: Construct, service: RegionalEcsService, database: RegionalDatabase, what: str
) -> ec2.SecurityGroup:
    """``TaskSecurityGroup`` in ``scope``: the ``what`` task's own, which the database admits (and nothing else)."""
    group = ec2.SecurityGroup(
        scope,
        "TaskSecurityGroup",
        vpc=service.vpc,
        description=f"The {what} task: reaches the database, admits nothing",
    )
    database.allow_from(group)
    return group
