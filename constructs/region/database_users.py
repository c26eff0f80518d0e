"""The service's own database role, made by the master user before the service's tasks connect."""

from __future__ import annotations

from aws_cdk import CustomResource, Duration, Token
from aws_cdk import aws_ecs as ecs
from aws_cdk import aws_iam as iam

from constructs import Construct
from constructs.engines.lifecycle_hook import release_function
from constructs.nag_acknowledgments import acknowledge, acknowledge_all
from constructs.region.bootstrap_image import bootstrap_image
from constructs.region.one_off_tasks import (
    family_arn,
    one_off_task_finding,
    runs_one_off_tasks,
    task_security_group,
)
from constructs.region.regional_database import RegionalDatabase
from constructs.region.regional_service import RegionalEcsService
from constructs.settings.database_settings import APP_USER, DATABASE_NAME
from constructs.settings.service_settings import DEFAULT_CONTAINER_USER

RESOURCE_TYPE = "Custom::DatabaseUsers"
CONTAINER = "setup"
LOG_PREFIX = "database-users"
SETUP_MEMORY_MIB = 512


class DatabaseUsers(Construct):
    """Makes ``APP_USER``, the service's data-only database role, once the cluster exists.

    A custom resource (``release/hooks/database_users.py``) runs one Fargate
    task of the project's bootstrap image running ``database_users.py``
    (``release/bootstrap``) with the master user's name and password from the
    cluster's secret (the one place besides the migration that gets them),
    over TLS verified against the RDS certificates. It runs on the stack's
    create and whenever the setup task definition changes, after the
    database's writer exists and before the service (which depends on it), so
    the service's tasks can sign in as ``APP_USER`` from their first start.
    The task has a security group of its own, which the database admits, and
    logs to the service's log group.

    Args:
        service: the regional service (network, cluster, log group); its service waits for the setup.
        database: the region's database.
    """

    def __init__(
        self, scope: Construct, construct_id: str, *, service: RegionalEcsService, database: RegionalDatabase
    ) -> None:
        super().__init__(scope, construct_id)
        endpoint = database.endpoint
        self.task_definition = ecs.FargateTaskDefinition(
            self, "TaskDefinition", cpu=256, memory_limit_mib=SETUP_MEMORY_MIB
        )
        self.task_definition.add_container(
            CONTAINER,
            image=bootstrap_image(self, None).image,
            command=["python", "/srv/database_users.py"],
            memory_limit_mib=SETUP_MEMORY_MIB,
            environment={
                "DB_HOST": endpoint.hostname,
                "DB_PORT": Token.as_string(endpoint.port),
                "DB_NAME": DATABASE_NAME,
                "APP_USER": APP_USER,
            },
            secrets={
                "DB_USER": ecs.Secret.from_secrets_manager(database.secret, "username"),
                "DB_PASSWORD": ecs.Secret.from_secrets_manager(database.secret, "password"),
            },
            user=DEFAULT_CONTAINER_USER,
            readonly_root_filesystem=True,
            logging=ecs.LogDrivers.aws_logs(stream_prefix=LOG_PREFIX, log_group=service.log_group),
        )
        execution_role = self.task_definition.obtain_execution_role()
        database.grant_credentials(execution_role)
        acknowledge(
            execution_role,
            "AwsSolutions-IAM5[Resource::*]",
            "ecr:GetAuthorizationToken has no resource-level permissions; pulls are limited to the CDK bootstrap "
            "stack's image-asset repository, where the project's bootstrap image is.",
        )
        self.security_group = task_security_group(self, service, database, "database setup")
        role = iam.Role(
            self,
            "Role",
            assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"),
            inline_policies={"RunDatabaseSetup": self._policy(service)},
        )
        function = release_function(
            self,
            description="Runs the database setup task: the service's own database role",
            handler="database_users.on_event",
            timeout=Duration.minutes(14),
            role=role,
            log_group=service.log_group,
            environment={
                "CLUSTER": service.cluster.cluster_name,
                "CONTAINER": CONTAINER,
                "SUBNETS": ",".join(s.subnet_id for s in service.vpc.private_subnets),
                "SECURITY_GROUP": self.security_group.security_group_id,
                "LOG_GROUP": service.log_group.log_group_name,
                "LOG_PREFIX": LOG_PREFIX,
            },
        )
        self.resource = CustomResource(
            self,
            "Resource",
            service_token=function.function_arn,
            resource_type=RESOURCE_TYPE,
            # A new revision (new setup code in the image, new settings) runs the setup again.
            properties={"TaskDefinition": self.task_definition.task_definition_arn},
        )
        # The task starts once it can: the writer answers, the database admits its security group, and the
        # private subnets reach ECR and Secrets Manager through the NAT gateway.
        # ... and its execution role's policy (pull, secret, key) is attached (aws/aws-cdk#18675).
        self.resource.node.add_dependency(database.cluster, database.security_group, execution_role)
        for subnet in service.vpc.private_subnets:
            self.resource.node.add_dependency(subnet.internet_connectivity_established)
        service.service.node.default_child.node.add_dependency(
            self.resource
        )  # the service itself, not its security group
        self._acknowledge(role, service)

    def _policy(self, service: RegionalEcsService) -> iam.PolicyDocument:
        """What the function calls (release/hooks/database_users.py), each on the narrowest resource IAM evaluates."""
        passed = [
            self.task_definition.task_role.role_arn,
            self.task_definition.obtain_execution_role().role_arn,
        ]
        statements = runs_one_off_tasks(service, family=self.task_definition.family, passed_roles=passed)
        return iam.PolicyDocument.from_json({"Version": "2012-10-17", "Statement": statements})

    def _acknowledge(self, role: iam.Role, service: RegionalEcsService) -> None:
        acknowledge_all(
            role,
            [
                (
                    f"AwsSolutions-IAM5[Resource::{family_arn(service, self.task_definition.family)}]",
                    "RunTask of any revision of the database setup's own task-definition family (a new revision "
                    "runs it again), on this service's cluster only (ecs:cluster condition).",
                ),
                one_off_task_finding(service, "setup"),
            ],
        )
        acknowledge(
            self.task_definition,
            "AwsSolutions-ECS2",
            "The plain environment variables are the database's host, port and name and the service role's name: "
            "non-secret values. The master user's name and password come from its secret by valueFrom.",
        )
