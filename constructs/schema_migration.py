"""The hook that runs every release's schema migration before traffic reaches it."""

from __future__ import annotations

import json

from aws_cdk import Duration, Stack
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_iam as iam

from constructs import Construct
from constructs.lifecycle_hook import AFTER_INSTALL, HookRunner, hook_function
from constructs.nag_acknowledgments import acknowledge_all, ref_of
from constructs.regional_database import RegionalDatabase
from constructs.regional_service import RegionalEcsService

# Left to the function after the migration's own deadline: stop the task, report.
REPORT_MINUTES = 1
# How long an invocation may wait in Lambda's queue before it is dropped (the engine then times the hook out).
MAX_EVENT_AGE_MINUTES = 10


class SchemaMigration(Construct):
    """A Lambda function the deployment engine runs to migrate the region's database schema.

    After the green tasks have started and before any test or production
    traffic reaches them (CodeDeploy's ``AfterInstall``, ECS's
    ``POST_SCALE_UP``), the function runs ``command`` once, as a Fargate task
    of the green task definition (the released image and task definition,
    container command replaced), in the private subnets with its own security
    group, which is the only other one the database admits. It waits for the
    task (at most ``timeout_minutes``: inside one invocation for CodeDeploy,
    across ECS's callbacks for ECS) and answers the engine: a failed start, a
    non-zero exit or a timeout fails the deployment, which rolls back. The
    task and the function both log to the service's log group; the
    function's line names the task's stream.

    Args:
        service: the regional service whose task definition is released.
        database: the region's database, which the migration task may reach.
        runner: the engine that runs the hook.
        command: the container command of the migration.
        timeout_minutes: how long the migration may run (1-14).
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        service: RegionalEcsService,
        database: RegionalDatabase,
        runner: HookRunner,
        command: tuple[str, ...],
        timeout_minutes: int,
    ) -> None:
        super().__init__(scope, construct_id)
        self.security_group = ec2.SecurityGroup(
            self,
            "TaskSecurityGroup",
            vpc=service.vpc,
            description="The schema migration task: reaches the database, admits nothing",
        )
        database.allow_from(self.security_group)
        cluster = service.cluster
        role = iam.Role(
            self,
            "Role",
            assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"),
            inline_policies={"RunMigration": self._policy(service, runner)},
        )
        self._acknowledge_role(role, service, runner)
        self.function = hook_function(
            self,
            module="run_migration",
            point=AFTER_INSTALL,
            what="runs the schema migration in the green task definition",
            runner=runner,
            role=role,
            log_group=service.log_group,
            timeout=Duration.minutes(timeout_minutes + REPORT_MINUTES),
            # For asynchronous invocations: a retried one would start the migration again; an event that
            # waited too long in Lambda's queue would start it after the deployment has moved on. (ECS calls
            # its hooks synchronously; a repeated call finds the task in hookDetails.)
            retry_attempts=0,
            max_event_age=Duration.minutes(MAX_EVENT_AGE_MINUTES),
            environment={
                "CLUSTER": cluster.cluster_name,
                **runner.migration_environment(service),
                "CONTAINER": service.settings.container_name,
                "COMMAND": json.dumps(list(command)),
                "SUBNETS": ",".join(s.subnet_id for s in service.vpc.private_subnets),
                "SECURITY_GROUP": self.security_group.security_group_id,
                "TIMEOUT_MINUTES": str(timeout_minutes),
                "LOG_GROUP": service.log_group.log_group_name,
                "LOG_PREFIX": service.settings.container_name,
            },
        )

    @staticmethod
    def _policy(service: RegionalEcsService, runner: HookRunner) -> iam.PolicyDocument:
        """What the hook calls (release/hooks/run_migration.py), each on the narrowest resource IAM evaluates.

        Written as one document: a statement object per statement costs a round trip into the CDK each.
        """
        stack = Stack.of(service)
        ecs_arn = f"arn:aws:ecs:{stack.region}:{stack.account}"
        cluster, task_definition = service.cluster, service.task_definition
        cluster_name = cluster.cluster_name
        return iam.PolicyDocument.from_json(
            {
                "Version": "2012-10-17",
                "Statement": [
                    {
                        "Effect": "Allow",
                        "Action": ["logs:CreateLogStream", "logs:PutLogEvents"],
                        "Resource": service.log_group.log_group_arn,
                    },
                    *runner.migration_statements(service),
                    {
                        "Effect": "Allow",
                        "Action": "ecs:RunTask",
                        "Resource": f"{ecs_arn}:task-definition/{task_definition.family}:*",
                        "Condition": {"ArnEquals": {"ecs:cluster": cluster.cluster_arn}},
                    },
                    {
                        "Effect": "Allow",
                        "Action": ["ecs:DescribeTasks", "ecs:StopTask"],
                        "Resource": f"{ecs_arn}:task/{cluster_name}/*",
                    },
                    {
                        "Effect": "Allow",
                        "Action": "iam:PassRole",
                        "Resource": [
                            task_definition.task_role.role_arn,
                            task_definition.obtain_execution_role().role_arn,
                        ],
                        "Condition": {"StringEquals": {"iam:PassedToService": "ecs-tasks.amazonaws.com"}},
                    },
                ],
            }
        )

    def _acknowledge_role(self, role: iam.Role, service: RegionalEcsService, runner: HookRunner) -> None:
        stack = Stack.of(self)
        prefix = f"arn:aws:ecs:{stack.region}:{stack.account}"
        family, cluster = service.task_definition.family, ref_of(service.cluster)
        acknowledge_all(
            role,
            [
                *runner.migration_findings(service),
                (
                    f"AwsSolutions-IAM5[Resource::{prefix}:task-definition/{family}:*]",
                    "RunTask of any revision of this service's own task-definition family (CodeDeploy registers a "
                    "new revision each release), on this service's cluster only (ecs:cluster condition).",
                ),
                (
                    f"AwsSolutions-IAM5[Resource::{prefix}:task/{cluster}/*]",
                    "Describe and stop the migration task it started; task IDs are unknown until RunTask returns.",
                ),
            ],
        )
