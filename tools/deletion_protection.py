"""The deletion protection this project sets, turned off before a stack is deleted and back on if it is not.

Load balancers (``deletion_protection.enabled``) and Aurora clusters
(``DeletionProtection``) are protected in the templates. ``turn_off`` switches
off what is still on and returns it, so that ``turn_on`` can restore exactly
that when the stack's deletion is refused (the templates still say
"protected", and CloudFormation would not restore it on the next deploy).
"""

from __future__ import annotations

from dataclasses import dataclass

from botocore.exceptions import ClientError

from tools.cloud_assembly import StackArtifact
from tools.operate import OperatorError
from tools.patient_aws import Aws, error_code

LOAD_BALANCER = "AWS::ElasticLoadBalancingV2::LoadBalancer"
DATABASE_CLUSTER = "AWS::RDS::DBCluster"


@dataclass(frozen=True)
class Protected:
    """A resource whose deletion protection ``turn_off`` switched off."""

    region: str
    kind: str  # LOAD_BALANCER or DATABASE_CLUSTER
    identifier: str  # the load balancer's ARN or the cluster's identifier

    def describe(self) -> str:
        return f"{'load balancer' if self.kind == LOAD_BALANCER else 'database'} {self.identifier}"


def _load_balancer(aws: Aws, region: str, arn: str, *, enabled: bool) -> bool:
    try:
        aws.call(
            "elbv2",
            region,
            "modify_load_balancer_attributes",
            LoadBalancerArn=arn,
            Attributes=[{"Key": "deletion_protection.enabled", "Value": str(enabled).lower()}],
        )
    except ClientError as error:
        if error_code(error) == "LoadBalancerNotFound":
            return False  # already deleted by an earlier, failed deletion of the stack
        raise
    return True


def _database(aws: Aws, region: str, identifier: str, *, enabled: bool) -> bool:
    try:
        (cluster,) = aws.call("rds", region, "describe_db_clusters", DBClusterIdentifier=identifier)[
            "DBClusters"
        ]
    except ClientError as error:
        if error_code(error) == "DBClusterNotFoundFault":
            return False
        raise
    if cluster.get("DeletionProtection") == enabled:
        return False
    if cluster["Status"] != "available":
        raise OperatorError(
            f"the database {identifier} in {region} is {cluster['Status']}; its protection can only change when it "
            f"is available (stopped: aws rds start-db-cluster --db-cluster-identifier {identifier} --region {region})"
            ", then run the command again"
        )
    aws.call(
        "rds",
        region,
        "modify_db_cluster",
        DBClusterIdentifier=identifier,
        DeletionProtection=enabled,
        ApplyImmediately=True,
    )
    return True


def turn_off(aws: Aws, stack: StackArtifact, resources: dict[str, str]) -> list[Protected]:
    """Switch off the protection of the stack's load balancers and clusters that still exist; return them."""
    changed = []
    for kind, switch in ((LOAD_BALANCER, _load_balancer), (DATABASE_CLUSTER, _database)):
        for logical_id in stack.of_type(kind):
            if logical_id in resources and switch(aws, stack.region, resources[logical_id], enabled=False):
                changed.append(Protected(stack.region, kind, resources[logical_id]))
    return changed


def turn_on(aws: Aws, protected: list[Protected]) -> None:
    for item in protected:
        switch = _load_balancer if item.kind == LOAD_BALANCER else _database
        switch(aws, item.region, item.identifier, enabled=True)
