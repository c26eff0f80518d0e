"""One region's copy of the service: network, load balancer, ECS Fargate service, image repository."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from aws_cdk import Duration, PhysicalName, Stack, Token
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_ecr as ecr
from aws_cdk import aws_ecs as ecs
from aws_cdk import aws_iam as iam
from aws_cdk import aws_logs as logs
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_secretsmanager as secretsmanager
from aws_cdk import aws_ssm as ssm

from constructs import Construct
from constructs.engines.released_image import ReleasedImage
from constructs.nag_acknowledgments import acknowledge
from constructs.region.blue_green_load_balancer import BlueGreenLoadBalancer
from constructs.region.bootstrap_image import bootstrap_image
from constructs.region.regional_database import RegionalDatabase
from constructs.region.service_network import ServiceNetwork
from constructs.settings.database_settings import APP_USER, DATABASE_NAME, DATABASE_SETTINGS
from constructs.settings.retention import (
    DEFAULT_LOG_RETENTION,
    RETAINED,
    RETENTION_DAYS,
    SECURITY_LOG_RETENTION_DAYS,
    log_group,
)
from constructs.settings.service_settings import (
    FIRST_UNPRIVILEGED_PORT,
    SECRETS_MANAGER_PREFIX,
    SSM_PREFIX,
    ServiceSettings,
)

# A non-root user may listen on the container port below 1024 (the sample runs as uid 10001 on port 80).
# ECS takes network-namespace sysctls ("net.*") on Fargate platform 1.4.0 and later (API, SystemControl).
UNPRIVILEGED_PORT_SYSCTL = "net.ipv4.ip_unprivileged_port_start"

# Images kept per repository; older ones expire (immutable tags make every release a new image).
KEPT_IMAGES = 100


@dataclass(frozen=True, kw_only=True)
class ServiceDeployment:
    """What the deployment engine decides about the ECS service itself.

    Attributes:
        controller: who deploys the service. Default ``CODE_DEPLOY``. Either way the
            service names its task definition family, not a revision: ECS runs
            the latest active revision, which is the pipeline's last release
            unless CloudFormation registered a newer one (with ``ECS``, the
            engine then deploys it; see :class:`EcsBuiltInBlueGreen`).
        options: further ``FargateService`` properties (strategy, bake time,
            traffic shifts). Default none.
        released_image: the container runs the image the region's service
            serves when CloudFormation registers the task definition (a
            :class:`ReleasedImage`), so a ``cdk deploy`` never goes back to the
            bootstrap image or an older release. Default ``False``: the
            bootstrap image, until the pipeline registers its own revision.
    """

    controller: ecs.DeploymentControllerType = ecs.DeploymentControllerType.CODE_DEPLOY
    options: Mapping[str, object] = field(default_factory=dict)
    released_image: bool = False


class RegionalEcsService(Construct):
    """An ECS Fargate service behind an application load balancer, ready for blue/green deployments.

    Builds a :class:`ServiceNetwork`, a :class:`BlueGreenLoadBalancer`, an ECS
    cluster with Container Insights, a log group, an ECR repository for this
    region's copy of the image (scan on push, immutable tags, the last 100
    images kept), and a Fargate service with the ``CODE_DEPLOY`` deployment
    controller in the private subnets, without public IPs, reachable only from
    the load balancer on the container port. Container secrets come from
    Secrets Manager or SSM Parameter Store by name, never as plain text.

    The service follows its task definition *family* (latest active revision)
    rather than one revision: CloudFormation cannot update the task definition
    of a ``CODE_DEPLOY`` service, so a changed task definition reaches the tasks
    through the next pipeline release instead.

    Args:
        settings: what runs (container, port, size, count, health check, secrets).
        access_logs: bucket for the load balancer's access logs.
        certificate_arn: ACM certificate for an HTTPS production listener. Default none.
        nat_gateways: NAT gateways for the private subnets. Default ``1``.
        zone_count: availability zones the network spans. Default ``2``.
        log_retention: how long the container's logs are kept. Default one month.
        flow_log_retention: how long the VPC's flow logs are kept. Default a year.
        isolated_subnets: give the network isolated subnets for a database
            (see :meth:`use_database`). Default ``False``.
        deployment: how the engine deploys the service. Default
            ``ServiceDeployment()``: CodeDeploy blue/green.

    The load balancer's target groups are attached by the engine's construct.
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        settings: ServiceSettings,
        access_logs: s3.IBucket,
        certificate_arn: str | None = None,
        nat_gateways: int = 1,
        zone_count: int = 2,
        log_retention: logs.RetentionDays = DEFAULT_LOG_RETENTION,
        flow_log_retention: logs.RetentionDays = RETENTION_DAYS[SECURITY_LOG_RETENTION_DAYS],
        isolated_subnets: bool = False,
        deployment: ServiceDeployment | None = None,
    ) -> None:
        super().__init__(scope, construct_id)
        deployment = deployment or ServiceDeployment()
        self.settings = settings
        self.network = ServiceNetwork(
            self,
            "Network",
            nat_gateways=nat_gateways,
            zone_count=zone_count,
            log_retention=flow_log_retention,
            isolated_subnets=isolated_subnets,
        )
        self.vpc = self.network.vpc
        # Names are generated only when another region (the pipeline's ECS deploy action) needs them.
        self.cluster = ecs.Cluster(
            self,
            "Cluster",
            vpc=self.vpc,
            cluster_name=PhysicalName.GENERATE_IF_NEEDED,
            container_insights_v2=ecs.ContainerInsights.ENABLED,
        )

        # Generated only when another environment (the pipeline's build) needs it.
        self.repository = ecr.Repository(
            self,
            "Repository",
            repository_name=PhysicalName.GENERATE_IF_NEEDED,
            image_scan_on_push=True,
            image_tag_mutability=ecr.TagMutability.IMMUTABLE,
            lifecycle_rules=[ecr.LifecycleRule(max_image_count=KEPT_IMAGES)],
            removal_policy=RETAINED,
        )
        self.log_group = log_group(self, "Logs", retention=log_retention)

        self.task_definition = ecs.FargateTaskDefinition(
            self, "TaskDefinition", cpu=settings.cpu, memory_limit_mib=settings.memory_mib
        )
        self.released_image: ReleasedImage | None = None
        bootstrap = bootstrap_image(self, settings.bootstrap_image)
        # The image a service runs until its first release (what a deployment of it holds no migration for).
        self.bootstrap_image_uri = bootstrap.uri
        image = bootstrap.image
        if deployment.released_image:
            self.released_image = ReleasedImage(
                self, "ReleasedImage", service=self, bootstrap_image=bootstrap.uri
            )
            self.released_image.follow(self.task_definition)
            image = self.released_image.image
            # The container names the image by the resource's answer: the asset's pull is granted here.
            bootstrap.grant_pull(self.task_definition.obtain_execution_role())
        self.secrets = {name: self._secret(name, source) for name, source in settings.container_secrets}
        self.container = self.task_definition.add_container(
            settings.container_name,
            image=image,
            essential=True,
            # The task's memory as the container's hard limit (Control Tower CT.ECS.PR.7 asks for one).
            memory_limit_mib=settings.memory_mib,
            port_mappings=[ecs.PortMapping(container_port=settings.container_port)],
            logging=ecs.LogDrivers.aws_logs(stream_prefix=settings.container_name, log_group=self.log_group),
            # Tell the service where to listen and answer health checks (the sample service reads these).
            environment={"PORT": str(settings.container_port), "HEALTH_PATH": settings.health_check_path},
            secrets=self.secrets,
            user=settings.container_user,
            readonly_root_filesystem=settings.readonly_root_filesystem,
            system_controls=[ecs.SystemControl(namespace=UNPRIVILEGED_PORT_SYSCTL, value="0")]
            if settings.container_port < FIRST_UNPRIVILEGED_PORT
            else None,
        )
        for index, path in enumerate(settings.scratch_volumes, start=1):
            self.task_definition.add_volume(name=f"scratch-{index}")
            self.container.add_mount_points(
                ecs.MountPoint(container_path=path, source_volume=f"scratch-{index}", read_only=False)
            )
        acknowledge(
            self.task_definition,
            "AwsSolutions-ECS2",
            "The only plain environment variables are PORT and HEALTH_PATH and, with a database, its host, port, "
            "name, region and the service's own role (which signs in with IAM tokens): non-secret values. "
            "Secrets (container_secrets) come from Secrets Manager or SSM by valueFrom.",
        )
        # Releases run the image from this region's repository.
        execution_role = self.task_definition.obtain_execution_role()
        self.repository.grant_pull(execution_role)
        acknowledge(
            execution_role,
            "AwsSolutions-IAM5[Resource::*]",
            "ecr:GetAuthorizationToken has no resource-level permissions; pulls are limited to this region's repository.",
        )

        self.balancer = BlueGreenLoadBalancer(
            self,
            "LoadBalancer",
            vpc=self.vpc,
            settings=settings,
            access_logs=access_logs,
            nat_addresses=self.network.nat_addresses,
            certificate_arn=certificate_arn,
        )
        self.load_balancer = self.balancer.load_balancer
        self.blue_target_group = self.balancer.blue_target_group
        self.green_target_group = self.balancer.green_target_group
        self.production_listener = self.balancer.production_listener
        self.test_listener = self.balancer.test_listener

        self.service = ecs.FargateService(
            self,
            "Service",
            cluster=self.cluster,
            service_name=PhysicalName.GENERATE_IF_NEEDED,
            task_definition=self.task_definition,
            # The family: ECS runs its latest ACTIVE revision, the pipeline's last release or a newer one
            # CloudFormation registered; never an older revision CloudFormation still holds.
            task_definition_revision=ecs.TaskDefinitionRevision.LATEST,
            deployment_controller=ecs.DeploymentController(type=deployment.controller),
            desired_count=settings.desired_count,
            # Keep full capacity while ECS replaces unhealthy tasks; a release
            # runs blue and green side by side.
            min_healthy_percent=100,
            max_healthy_percent=200,
            assign_public_ip=False,
            vpc_subnets=ec2.SubnetSelection(subnet_type=ec2.SubnetType.PRIVATE_WITH_EGRESS),
            health_check_grace_period=Duration.seconds(60),
            **deployment.options,
        )

    @property
    def passed_roles(self) -> tuple[iam.IRole, ...]:
        """The roles a deployment hands to ECS: the task definition's task and execution roles."""
        return (self.task_definition.task_role, self.task_definition.obtain_execution_role())

    def use_database(self, database: RegionalDatabase) -> None:
        """Give the container the database as plain settings: where it is, and its own role, ``APP_USER``.

        The service signs in with IAM database authentication: its task role may
        ``rds-db:connect`` as ``APP_USER`` (data access only, made by the
        stack's :class:`~constructs.region.database_users.DatabaseUsers`), and the
        container asks for a token (DB_AUTH=iam) in DB_REGION. It never gets the
        master credentials. The database admits the service's security group.
        """
        endpoint = database.endpoint
        values = (
            endpoint.hostname,
            Token.as_string(endpoint.port),
            DATABASE_NAME,
            APP_USER,
            "iam",
            Stack.of(self).region,
        )
        for name, value in zip(DATABASE_SETTINGS, values, strict=True):
            self.container.add_environment(name, value)
        database.grant_connect(self.task_definition.task_role)
        database.allow_from(self.service)

    def grant_read_secrets(self, role: iam.IGrantable) -> None:
        """Let ``role`` read the container's secrets (``container_secrets``), as the execution role may."""
        for secret in self.secrets.values():
            secret.grant_read(role)

    def _secret(self, name: str, source: str) -> ecs.Secret:
        """``secretsmanager:NAME`` or ``ssm:/PARAMETER`` as an ECS secret the execution role may read."""
        if source.startswith(SECRETS_MANAGER_PREFIX):
            secret_name = source.removeprefix(SECRETS_MANAGER_PREFIX)
            secret = secretsmanager.Secret.from_secret_name_v2(self, f"Secret{name}", secret_name)
            return ecs.Secret.from_secrets_manager(secret)
        parameter = ssm.StringParameter.from_secure_string_parameter_attributes(
            self, f"Parameter{name}", parameter_name=source.removeprefix(SSM_PREFIX)
        )
        return ecs.Secret.from_ssm_parameter(parameter)
