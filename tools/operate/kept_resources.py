"""What a deleted stack keeps by design (DeletionPolicy Retain, RetainExceptOnCreate, Snapshot), and how to delete it.

Repositories with their image count, buckets, log groups, KMS keys, and the
snapshots of each deleted Aurora cluster, one line each with the AWS CLI
command that deletes it. Also the log groups Lambda itself created for the
stack's functions that name no log group of their own (CDK's providers), which
no template holds.
"""

from __future__ import annotations

from dataclasses import dataclass

from botocore.exceptions import ClientError

from tools.cloud_assembly import StackArtifact
from tools.operate.patient_aws import Aws, error_code

KEPT_POLICIES = ("Retain", "RetainExceptOnCreate", "Snapshot")
LAMBDA_LOG_GROUP_PREFIX = "/aws/lambda/"


@dataclass(frozen=True)
class Kept:
    region: str
    kind: str
    name: str
    command: str
    note: str = ""

    def lines(self) -> list[str]:
        note = f" ({self.note})" if self.note else ""
        return [
            f"    {self.region:<15} {self.kind:<17} {self.name}{note}",
            *([f"        {self.command}"] if self.command else []),
        ]


def kept_by(stack: StackArtifact, resources: dict[str, str]) -> list[tuple[str, str, dict]]:
    """(type, physical ID, properties) of every resource the stack's template keeps when the stack is deleted."""
    return [
        (resource["Type"], resources[logical_id], resource.get("Properties", {}))
        for logical_id, resource in stack.resources.items()
        if resource.get("DeletionPolicy") in KEPT_POLICIES and logical_id in resources
    ]


def _repository(aws: Aws, region: str, name: str) -> list[Kept]:
    try:
        images = aws.pages("ecr", region, "list_images", "imageIds", "nextToken", repositoryName=name)
    except ClientError as error:
        if error_code(error) == "RepositoryNotFoundException":
            return []
        raise
    command = f"aws ecr delete-repository --region {region} --repository-name {name} --force"
    return [Kept(region, "repository", name, command, f"{len(images)} image(s)")]


def _snapshots(aws: Aws, region: str, cluster: str) -> list[Kept]:
    # The filter, not DBClusterIdentifier: that parameter must name a cluster that still exists.
    snapshots = aws.pages(
        "rds",
        region,
        "describe_db_cluster_snapshots",
        "DBClusterSnapshots",
        "Marker",
        Filters=[{"Name": "db-cluster-id", "Values": [cluster]}],
        SnapshotType="manual",
    )
    return [
        Kept(
            region,
            "database snapshot",
            s["DBClusterSnapshotIdentifier"],
            f"aws rds delete-db-cluster-snapshot --region {region} "
            f"--db-cluster-snapshot-identifier {s['DBClusterSnapshotIdentifier']}",
            f"of {cluster}"
            + (
                f", taken {s['SnapshotCreateTime']:%Y-%m-%d %H:%M} UTC" if s.get("SnapshotCreateTime") else ""
            ),
        )
        for s in snapshots
    ]


def describe(aws: Aws, region: str, kind: str, name: str, properties: dict) -> list[Kept]:
    if kind == "AWS::ECR::Repository":
        return _repository(aws, region, name)
    if kind == "AWS::RDS::DBCluster":
        return _snapshots(aws, region, name)
    if kind == "AWS::S3::Bucket":
        command = f"aws s3 rb s3://{name} --force --region {region}"
        versioned = properties.get("VersioningConfiguration", {}).get("Status") == "Enabled"
        note = (
            "versioned: rb --force leaves its old versions; empty it in the S3 console first"
            if versioned
            else ""
        )
        return [Kept(region, "bucket", name, command, note)]
    if kind == "AWS::Logs::LogGroup":
        return [
            Kept(
                region,
                "log group",
                name,
                f"aws logs delete-log-group --region {region} --log-group-name {name}",
            )
        ]
    if kind == "AWS::KMS::Key":
        command = (
            f"aws kms schedule-key-deletion --region {region} --key-id {name} --pending-window-in-days 7"
        )
        note = (
            "only after what it encrypts is gone: a snapshot or object it encrypts cannot be read without it"
        )
        return [Kept(region, "key", name, command, note)]
    return [Kept(region, kind, name, "")]


def lambda_log_groups(aws: Aws, stack: StackArtifact) -> list[Kept]:
    """The log groups Lambda created for the stack's functions (``/aws/lambda/<stack name>-...``: CloudFormation
    names a function ``<stack>-<logical ID>-<suffix>``), which outlive the stack."""
    groups = aws.pages(
        "logs",
        stack.region,
        "describe_log_groups",
        "logGroups",
        "nextToken",
        logGroupNamePrefix=f"{LAMBDA_LOG_GROUP_PREFIX}{stack.name}-",
    )
    return [
        Kept(
            stack.region,
            "log group",
            group["logGroupName"],
            f"aws logs delete-log-group --region {stack.region} --log-group-name {group['logGroupName']}",
            "Lambda's own, for a function of the stack",
        )
        for group in groups
    ]
