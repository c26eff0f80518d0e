"""The hook that runs every release's schema migration before traffic reaches it."""

from __future__ import annotations

import json

from aws_cdk import Duration
from aws_cdk import aws_iam as iam

from constructs import Construct
from constructs.engines.lifecycle_hook import AFTER_INSTALL, HookRunner, hook_function
from constructs.nag_acknowledgments import acknowledge, acknowledge_all
from constructs.region.one_off_tasks import (
    family_arn,
    one_off_task_finding,
    runs_one_off_tasks,
    task_security_group,
)
from constructs.region.regional_database import RegionalDatabase
from constructs.region.regional_service import RegionalEcsService

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
    group, which the database admits. The migration signs in as the master
    user: the function registers, for the run, a revision of its own family
    (``<family>-migration``) with ``DB_USER`` and ``DB_PASSWORD`` from the
    cluster's secret and an execution role that alone may read it, and
    deregisters it after; the service's revisions never hold them. It waits for the
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
        self.security_group = task_security_group(self, service, database, "schema migration")
        cluster = service.cluster
        self.family = f"{service.task_definition.family}-migration"
        # The migration's revisions run with this role: the image of the region's repository, its logs, the
        # container's secrets and the master credentials (the service's execution role may read neither the
        # master secret nor its key).
        self.execution_role = iam.Role(
            self,
            "ExecutionRole",
            assumed_by=iam.ServicePrincipal("ecs-tasks.amazonaws.com"),
            description="Starts the schema migration's task: its image, logs and the master credentials",
        )
        service.repository.grant_pull(self.execution_role)
        service.log_group.grant_write(self.execution_role)
        database.grant_credentials(self.execution_role)
        service.grant_read_secrets(self.execution_role)  # the revision keeps the container's other secrets
        # With the ECS engine a `cdk deploy` that changes the task definition runs the migration during the
        # update: its role's policy (pull, secrets) must be attached before the service is updated
        # (aws/aws-cdk#18675).
        service.service.node.default_child.node.add_dependency(self.execution_role)
        acknowledge(
            self.execution_role,
            "AwsSolutions-IAM5[Resource::*]",
            "ecr:GetAuthorizationToken has no resource-level permissions; pulls are limited to this region's "
            "repository.",
        )
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
                "MIGRATION_FAMILY": self.family,
                "MIGRATION_EXECUTION_ROLE": self.execution_role.role_arn,
                "MASTER_SECRET": database.secret.secret_arn,
                # A deployment of exactly this image (a `cdk deploy` before the first release) has no migration.
                "BOOTSTRAP_IMAGE": service.bootstrap_image_uri,
            },
        )

    def _policy(self, service: RegionalEcsService, runner: HookRunner) -> iam.PolicyDocument:
        """What the hook calls (release/hooks/run_migration.py), each on the narrowest resource IAM evaluates.

        Written as one document: a statement object per statement costs a round trip into the CDK each.
        """
        passed = [service.task_definition.task_role.role_arn, self.execution_role.role_arn]
        return iam.PolicyDocument.from_json(
            {
                "Version": "2012-10-17",
                "Statement": [
                    *runs_one_off_tasks(service, family=self.family, passed_roles=passed),
                    *runner.migration_statements(service),
                    # No resource type in the Service Authorization Reference for these two: evaluated on "*".
                    {
                        "Effect": "Allow",
                        "Action": ["ecs:DescribeTaskDefinition", "ecs:DeregisterTaskDefinition"],
                        "Resource": "*",
                    },
                    # Which ARN IAM evaluates (with the new revision or without) is not documented: both.
                    {
                        "Effect": "Allow",
                        "Action": "ecs:RegisterTaskDefinition",
                        "Resource": [
                            family_arn(service, self.family).removesuffix(":*"),
                            family_arn(service, self.family),
                        ],
                    },
                ],
            }
        )

    def _acknowledge_role(self, role: iam.Role, service: RegionalEcsService, runner: HookRunner) -> None:
        acknowledge_all(
            role,
            [
                *runner.migration_findings(service),
                (
                    f"AwsSolutions-IAM5[Resource::{family_arn(service, self.family)}]",
                    "Register, and run on this service's cluster only (ecs:cluster condition), the migration's own "
                    "revisions (one per release, numbered by ECS).",
                ),
                (
                    "AwsSolutions-IAM5[Resource::*]",
                    "ecs:DescribeTaskDefinition and DeregisterTaskDefinition support no resource-level permissions: "
                    "it reads the green revision and deregisters the migration's.",
                ),
                one_off_task_finding(service, "migration"),
            ],
        )
