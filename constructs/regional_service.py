"""One region's copy of the service: network, load balancer, ECS Fargate service, image repository."""

from __future__ import annotations

from aws_cdk import Duration, PhysicalName
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_ecr as ecr
from aws_cdk import aws_ecs as ecs
from aws_cdk import aws_elasticloadbalancingv2 as elbv2
from aws_cdk import aws_logs as logs

from constructs import Construct
from constructs.service_settings import PRODUCTION_LISTENER_PORT, ServiceSettings


class RegionalEcsService(Construct):
    """An ECS Fargate service behind an application load balancer, ready for CodeDeploy blue/green.

    Builds a VPC over two availability zones (public subnets for the load
    balancer, private subnets with NAT egress for the tasks), an ECS cluster, a
    log group, an ECR repository for this region's copy of the image, and a
    Fargate service with the ``CODE_DEPLOY`` deployment controller. The load
    balancer has a production listener (port 80, open to the internet) and a
    test listener (``settings.test_listener_port``, reachable from inside the
    VPC only); both forward to the blue target group until CodeDeploy shifts
    them to the green one.

    The service follows its task definition *family* (latest active revision)
    rather than one revision: CloudFormation cannot update the task definition
    of a ``CODE_DEPLOY`` service, so a changed task definition reaches the tasks
    through the next pipeline release instead.

    The availability zones come from the enclosing stack's
    ``availability_zones``; give the stack token AZs (``Fn::GetAZs``) to keep
    synth free of context lookups.

    Args:
        settings: what runs (container, port, size, count, health check).
        nat_gateways: NAT gateways for the private subnets. Default ``1``; use
            ``2`` for egress that survives the loss of one zone.
        log_retention: how long container logs are kept. Default one month.
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        settings: ServiceSettings,
        nat_gateways: int = 1,
        log_retention: logs.RetentionDays = logs.RetentionDays.ONE_MONTH,
    ) -> None:
        super().__init__(scope, construct_id)
        self.settings = settings

        self.vpc = ec2.Vpc(
            self,
            "Vpc",
            max_azs=2,
            nat_gateways=nat_gateways,
            subnet_configuration=[
                ec2.SubnetConfiguration(name="Public", subnet_type=ec2.SubnetType.PUBLIC, cidr_mask=24),
                ec2.SubnetConfiguration(
                    name="Private", subnet_type=ec2.SubnetType.PRIVATE_WITH_EGRESS, cidr_mask=24
                ),
            ],
        )
        self.cluster = ecs.Cluster(self, "Cluster", vpc=self.vpc)

        # Generated only when another environment (the pipeline's build) needs it.
        self.repository = ecr.Repository(self, "Repository", repository_name=PhysicalName.GENERATE_IF_NEEDED)
        self.log_group = logs.LogGroup(self, "Logs", retention=log_retention)

        self.task_definition = ecs.FargateTaskDefinition(
            self, "TaskDefinition", cpu=settings.cpu, memory_limit_mib=settings.memory_mib
        )
        self.container = self.task_definition.add_container(
            settings.container_name,
            image=ecs.ContainerImage.from_registry(settings.bootstrap_image),
            essential=True,
            port_mappings=[ecs.PortMapping(container_port=settings.container_port)],
            logging=ecs.LogDrivers.aws_logs(stream_prefix=settings.container_name, log_group=self.log_group),
        )
        # Releases run the image from this region's repository.
        self.repository.grant_pull(self.task_definition.obtain_execution_role())

        self.load_balancer = elbv2.ApplicationLoadBalancer(
            self, "LoadBalancer", vpc=self.vpc, internet_facing=True
        )
        self.blue_target_group = self._target_group("Blue")
        self.green_target_group = self._target_group("Green")
        self.production_listener = self.load_balancer.add_listener(
            "ProductionListener",
            port=PRODUCTION_LISTENER_PORT,
            protocol=elbv2.ApplicationProtocol.HTTP,
            default_target_groups=[self.blue_target_group],
        )
        self.test_listener = self.load_balancer.add_listener(
            "TestListener",
            port=settings.test_listener_port,
            protocol=elbv2.ApplicationProtocol.HTTP,
            default_target_groups=[self.blue_target_group],
            open=False,
        )
        self._admit_test_traffic_from_the_vpc()

        self.service = ecs.FargateService(
            self,
            "Service",
            cluster=self.cluster,
            task_definition=self.task_definition,
            task_definition_revision=ecs.TaskDefinitionRevision.LATEST,
            deployment_controller=ecs.DeploymentController(type=ecs.DeploymentControllerType.CODE_DEPLOY),
            desired_count=settings.desired_count,
            # Keep full capacity while ECS replaces unhealthy tasks; CodeDeploy
            # runs blue and green side by side during a release.
            min_healthy_percent=100,
            max_healthy_percent=200,
            assign_public_ip=False,
            vpc_subnets=ec2.SubnetSelection(subnet_type=ec2.SubnetType.PRIVATE_WITH_EGRESS),
            health_check_grace_period=Duration.seconds(60),
        )
        self.service.attach_to_application_target_group(self.blue_target_group)

    def _admit_test_traffic_from_the_vpc(self) -> None:
        """Open the test listener to the VPC: its CIDR, and its NAT gateways' addresses.

        Requests from the private subnets to the internet-facing load balancer
        leave through NAT, so they arrive from the NAT gateways' public IPs.
        """
        port = ec2.Port.tcp(self.settings.test_listener_port)
        self.load_balancer.connections.allow_from(
            ec2.Peer.ipv4(self.vpc.vpc_cidr_block), port, "Test traffic from inside the VPC"
        )
        for index, subnet in enumerate(self.vpc.public_subnets, start=1):
            nat_address = subnet.node.try_find_child("EIP")
            if isinstance(nat_address, ec2.CfnEIP):
                self.load_balancer.connections.allow_from(
                    ec2.Peer.ipv4(f"{nat_address.attr_public_ip}/32"),
                    port,
                    f"Test traffic from the VPC through NAT gateway {index}",
                )

    def _target_group(self, color: str) -> elbv2.ApplicationTargetGroup:
        return elbv2.ApplicationTargetGroup(
            self,
            f"{color}TargetGroup",
            vpc=self.vpc,
            port=self.settings.container_port,
            protocol=elbv2.ApplicationProtocol.HTTP,
            target_type=elbv2.TargetType.IP,
            deregistration_delay=Duration.seconds(30),
            health_check=elbv2.HealthCheck(
                path=self.settings.health_check_path,
                healthy_http_codes="200-399",
                interval=Duration.seconds(15),
                healthy_threshold_count=2,
                unhealthy_threshold_count=3,
            ),
        )
