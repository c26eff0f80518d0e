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
from tools.operate.cdk_commands import OperatorError
from tools.operate.patient_aws import Aws, error_code

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


def _cluster(aws: Aws, region: str, identifier: str) -> dict | None:
    try:
        (cluster,) = aws.call("rds", region, "describe_db_clusters", DBClusterIdentifier=identifier)[
            "DBClusters"
        ]
    except ClientError as error:
        if error_code(error) == "DBClusterNotFoundFault":
            return None  # already deleted by an earlier, failed deletion of the stack
        raise
    return cluster


def _database(aws: Aws, region: str, identifier: str, *, enabled: bool) -> bool:
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
    """Switch off the protection of the stack's load balancers and clusters that still exist; return them.

    Every cluster is checked first (its protection can change only while it is available), so that
    nothing is changed when one cannot be; a change that fails undoes the ones made before it.
    """
    clusters = []
    for logical_id in stack.of_type(DATABASE_CLUSTER):
        cluster = _cluster(aws, stack.region, resources[logical_id]) if logical_id in resources else None
        if cluster is None or not cluster.get("DeletionProtection"):
            continue
        if cluster["Status"] != "available":
            identifier = resources[logical_id]
            raise OperatorError(
                f"the database {identifier} is {cluster['Status']}; its protection can change only while it is "
                f"available (stopped: aws rds start-db-cluster --db-cluster-identifier {identifier} "
                f"--region {stack.region}); nothing of this stack was changed"
            )
        clusters.append(Protected(stack.region, DATABASE_CLUSTER, resources[logical_id]))
    balancers = [
        Protected(stack.region, LOAD_BALANCER, resources[logical_id])
        for logical_id in stack.of_type(LOAD_BALANCER)
        if logical_id in resources
    ]
    changed: list[Protected] = []
    try:
        for item in (*balancers, *clusters):
            if _switch(aws, item, enabled=False):
                changed.append(item)
    except ClientError:
        turn_on(aws, changed)
        raise
    return changed


def _switch(aws: Aws, item: Protected, *, enabled: bool) -> bool:
    switch = _load_balancer if item.kind == LOAD_BALANCER else _database
    return switch(aws, item.region, item.identifier, enabled=enabled)


def turn_on(aws: Aws, protected: list[Protected]) -> None:
    for item in protected:
        _switch(aws, item, enabled=True)
