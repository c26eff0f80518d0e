"""What a deleted stack keeps by design (DeletionPolicy Retain, RetainExceptOnCreate, Snapshot), and how to delete it.

Repositories with their image count, buckets, log groups, KMS keys, and the
snapshots of each deleted Aurora cluster, one line each with the AWS CLI
command that deletes it. Also the log groups services create by themselves for
the stack's resources (Lambda for a function that names no log group of its
own, such as CDK's providers; RDS for a cluster's exported logs), which no
template holds.
"""

from __future__ import annotations

from dataclasses import dataclass

from botocore.exceptions import ClientError

from tools.cloud_assembly import StackArtifact
from tools.operate.aws_access import utc_minute
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
    account: str = ""  # for an app in several accounts: the account it is in

    def lines(self) -> list[str]:
        note = f" ({self.note})" if self.note else ""
        where = f"{self.account}/{self.region}" if self.account else self.region
        return [
            f"    {where:<15} {self.kind:<17} {self.name}{note}",
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
            + (f", taken {utc_minute(s['SnapshotCreateTime'])}" if s.get("SnapshotCreateTime") else ""),
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


def service_log_groups(stack: StackArtifact, resources: dict[str, str]) -> list[str]:
    """The log groups AWS services create by themselves for the stack's resources, which no template holds
    and no stack deletion removes: Lambda's ``/aws/lambda/<function>`` for each function that logs there (one
    that names a log group of its own finds none; CloudFormation shortens a long stack name inside a generated
    function name, so by the function's physical ID), RDS's ``/aws/rds/cluster/<cluster>/<log>`` for each log
    a cluster exports, and Container Insights' ``/aws/ecs/containerinsights/<cluster>/performance`` for each
    ECS cluster that has it on."""
    groups = []
    for logical_id, resource in stack.resources.items():
        if logical_id not in resources:
            continue
        if resource["Type"] == "AWS::Lambda::Function":
            groups.append(f"{LAMBDA_LOG_GROUP_PREFIX}{resources[logical_id]}")
        elif resource["Type"] == "AWS::RDS::DBCluster":
            exports = resource.get("Properties", {}).get("EnableCloudwatchLogsExports", [])
            groups += [f"/aws/rds/cluster/{resources[logical_id]}/{log}" for log in exports]
        elif resource["Type"] == "AWS::ECS::Cluster":
            settings = resource.get("Properties", {}).get("ClusterSettings", [])
            if any(s.get("Name") == "containerInsights" and s.get("Value") != "disabled" for s in settings):
                groups.append(f"/aws/ecs/containerinsights/{resources[logical_id]}/performance")
    return groups


def existing_log_groups(aws: Aws, region: str, names: list[str]) -> list[str]:
    """Those of ``names`` that exist in the region (one DescribeLogGroups by prefix each)."""
    found = []
    for name in names:
        groups = aws.pages(
            "logs", region, "describe_log_groups", "logGroups", "nextToken", logGroupNamePrefix=name
        )
        found += [group["logGroupName"] for group in groups if group["logGroupName"] == name]
    return found


def service_made(aws: Aws, stack: StackArtifact, resources: dict[str, str]) -> list[Kept]:
    """The log groups services made for the stack's resources that exist, with the command that deletes each."""
    return [
        Kept(
            stack.region,
            "log group",
            name,
            f"aws logs delete-log-group --region {stack.region} --log-group-name {name}",
            "made by the service itself, for a resource of the stack",
        )
        for name in existing_log_groups(aws, stack.region, service_log_groups(stack, resources))
    ]
