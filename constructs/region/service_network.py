"""The network of one region's service: a VPC over two or more zones, with flow logs."""

from __future__ import annotations

from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_logs as logs

from constructs import Construct
from constructs.settings.retention import RETENTION_DAYS, SECURITY_LOG_RETENTION_DAYS, log_group


class ServiceNetwork(Construct):
    """A VPC over ``zone_count`` availability zones with public subnets (load balancer) and private ones (tasks).

    Private subnets reach the internet through NAT gateways. All traffic is
    recorded as VPC flow logs in a CloudWatch log group with retention. The
    zones come from the enclosing stack's ``availability_zones``.

    Args:
        nat_gateways: NAT gateways for the private subnets. Default ``1``; use
            ``2`` for egress that survives the loss of one zone.
        zone_count: how many of the stack's ``availability_zones`` it spans. Default ``2``.
        log_retention: how long flow logs are kept. Default a year.
        isolated_subnets: add ``PRIVATE_ISOLATED`` subnets (no route to the
            internet, named ``Database``) for a database. Default ``False``.
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        nat_gateways: int = 1,
        zone_count: int = 2,
        log_retention: logs.RetentionDays = RETENTION_DAYS[SECURITY_LOG_RETENTION_DAYS],
        isolated_subnets: bool = False,
    ) -> None:
        super().__init__(scope, construct_id)
        # Appended after the others, so adding them leaves the existing subnets' ranges as they are.
        isolated = (
            [
                ec2.SubnetConfiguration(
                    name="Database", subnet_type=ec2.SubnetType.PRIVATE_ISOLATED, cidr_mask=24
                )
            ]
            if isolated_subnets
            else []
        )
        self.vpc = ec2.Vpc(
            self,
            "Vpc",
            max_azs=zone_count,
            nat_gateways=nat_gateways,
            subnet_configuration=[
                # Only the NAT gateway (its Elastic IP) and the load balancer live here; nothing launched
                # in these subnets gets a public IP of its own.
                ec2.SubnetConfiguration(
                    name="Public",
                    subnet_type=ec2.SubnetType.PUBLIC,
                    cidr_mask=24,
                    map_public_ip_on_launch=False,
                ),
                ec2.SubnetConfiguration(
                    name="Private", subnet_type=ec2.SubnetType.PRIVATE_WITH_EGRESS, cidr_mask=24
                ),
                *isolated,
            ],
        )
        self.vpc.add_flow_log(
            "FlowLog",
            destination=ec2.FlowLogDestination.to_cloud_watch_logs(
                log_group(self, "FlowLogs", retention=log_retention)
            ),
            traffic_type=ec2.FlowLogTrafficType.ALL,
        )

    @property
    def nat_addresses(self) -> list[str]:
        """The public IPs (as tokens) that traffic from the private subnets leaves through."""
        addresses = []
        for subnet in self.vpc.public_subnets:
            elastic_ip = subnet.node.try_find_child("EIP")
            if isinstance(elastic_ip, ec2.CfnEIP):
                addresses.append(elastic_ip.attr_public_ip)
        return addresses
