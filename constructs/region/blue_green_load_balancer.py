"""The application load balancer of one region, with what CodeDeploy blue/green needs."""

from __future__ import annotations

from collections.abc import Sequence

from aws_cdk import Duration
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_elasticloadbalancingv2 as elbv2
from aws_cdk import aws_s3 as s3

from constructs import Construct
from constructs.nag_acknowledgments import acknowledge
from constructs.settings.service_settings import HTTPS_PORT, PRODUCTION_LISTENER_PORT, ServiceSettings

# Why a production listener serves plain HTTP: the release configuration refuses it otherwise.
PLAIN_HTTP_REASON = (
    "Plain HTTP by choice: allow_plain_http is true (for trying the app out), or a staging copy; "
    "without either, a region needs domain_name or certificate_arns (docs/front-door.md)."
)


class BlueGreenLoadBalancer(Construct):
    """An internet-facing load balancer with blue and green target groups and two listeners.

    The production listener serves HTTP on port 80, or, when
    ``certificate_arn`` is given, HTTPS on 443 with port 80 redirecting to it.
    The test listener (``settings.test_listener_port``, HTTP) admits only the
    VPC: its CIDR and ``nat_addresses``, the public IPs its private subnets
    reach the internet through. Its deletion protection is not in the template: the regional stack's
    :class:`~constructs.region.protection_after_create.ProtectionAfterCreate` turns it on once the stack exists.
    Both listeners forward to the blue target
    group until CodeDeploy shifts them. The load balancer drops invalid
    header fields and writes access logs to ``access_logs``.

    Args:
        vpc: the network.
        settings: container port and health check of the targets, test listener port.
        access_logs: bucket for the load balancer's access logs.
        nat_addresses: public IPs of the VPC's NAT gateways.
        certificate_arn: ACM certificate for HTTPS; default none (HTTP only).
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        vpc: ec2.IVpc,
        settings: ServiceSettings,
        access_logs: s3.IBucket,
        nat_addresses: Sequence[str],
        certificate_arn: str | None = None,
    ) -> None:
        super().__init__(scope, construct_id)
        self.settings = settings
        self.load_balancer = elbv2.ApplicationLoadBalancer(
            self,
            "LoadBalancer",
            vpc=vpc,
            internet_facing=True,
            drop_invalid_header_fields=True,
        )
        # Not even "false": an attribute in the template is one CloudFormation may send on an update.
        self.load_balancer.remove_attribute("deletion_protection.enabled")
        self.load_balancer.log_access_logs(access_logs, prefix="load-balancer")
        acknowledge(
            self.load_balancer.connections.security_groups[0],
            "AwsSolutions-EC23",
            "The production listener serves the public web service to the internet (ports 80 and 443 only).",
        )
        self.blue_target_group = self._target_group(vpc, "Blue")
        self.green_target_group = self._target_group(vpc, "Green")

        if certificate_arn:
            self.production_listener = self.load_balancer.add_listener(
                "ProductionListener",
                port=HTTPS_PORT,
                protocol=elbv2.ApplicationProtocol.HTTPS,
                certificates=[elbv2.ListenerCertificate.from_arn(certificate_arn)],
                ssl_policy=elbv2.SslPolicy.RECOMMENDED_TLS,
                default_target_groups=[self.blue_target_group],
            )
            redirect = self.load_balancer.add_redirect(
                source_port=PRODUCTION_LISTENER_PORT,
                source_protocol=elbv2.ApplicationProtocol.HTTP,
                target_port=HTTPS_PORT,
                target_protocol=elbv2.ApplicationProtocol.HTTPS,
            )
            # When HTTPS comes to a running region, the production listener moves from port 80 to 443 in
            # place; the redirect may take port 80 only after that (ELB refuses a second listener on a port).
            redirect.node.add_dependency(self.production_listener)
        else:
            self.production_listener = self.load_balancer.add_listener(
                "ProductionListener",
                port=PRODUCTION_LISTENER_PORT,
                protocol=elbv2.ApplicationProtocol.HTTP,
                default_target_groups=[self.blue_target_group],
            )
            # Said in the template, where scanners read it: plain HTTP was chosen, not forgotten.
            self.production_listener.node.default_child.add_metadata(
                "checkov",
                {
                    "skip": [
                        {"id": check, "comment": PLAIN_HTTP_REASON} for check in ("CKV_AWS_2", "CKV_AWS_103")
                    ]
                },
            )
        self.test_listener = self.load_balancer.add_listener(
            "TestListener",
            port=settings.test_listener_port,
            protocol=elbv2.ApplicationProtocol.HTTP,
            default_target_groups=[self.blue_target_group],
            open=False,
        )
        test_port = ec2.Port.tcp(settings.test_listener_port)
        self.load_balancer.connections.allow_from(
            ec2.Peer.ipv4(vpc.vpc_cidr_block), test_port, "Test traffic from inside the VPC"
        )
        for index, address in enumerate(nat_addresses, start=1):
            self.load_balancer.connections.allow_from(
                ec2.Peer.ipv4(f"{address}/32"),
                test_port,
                f"Test traffic from the VPC through NAT gateway {index}",
            )

    def _target_group(self, vpc: ec2.IVpc, color: str) -> elbv2.ApplicationTargetGroup:
        return elbv2.ApplicationTargetGroup(
            self,
            f"{color}TargetGroup",
            vpc=vpc,
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
