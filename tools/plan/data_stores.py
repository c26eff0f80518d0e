"""Where each stack's data lives, read from cdk.out alone: the auditor's part of `make plan`.

For every stack, with its account and region: its data stores (database cluster and its secret, keys, log
groups, buckets, image repositories), the region that holds each, how it is
encrypted and kept, and whether anything replicates, copies or ships it
elsewhere (global database, read replica, S3 replication, log subscription,
multi-Region key, secret replica). An app synthesized by this project shows
"none" for the last on every line; anything else is printed as it is.
"""

from __future__ import annotations

from dataclasses import dataclass

from tools.cloud_assembly import CloudAssembly, StackArtifact

# Each property that would send a resource's data to another place, by resource type.
_LEAVES_BY = {
    "AWS::RDS::DBCluster": ("GlobalClusterIdentifier", "ReplicationSourceIdentifier", "SourceRegion"),
    "AWS::RDS::DBInstance": ("SourceDBInstanceIdentifier",),
    "AWS::S3::Bucket": ("ReplicationConfiguration",),
    "AWS::KMS::Key": ("MultiRegion",),
    "AWS::SecretsManager::Secret": ("ReplicaRegions",),
}
# Resource types that exist only to move data somewhere else.
_MOVERS = (
    "AWS::RDS::GlobalCluster",
    "AWS::Logs::SubscriptionFilter",
    "AWS::Logs::Destination",
    "AWS::KMS::ReplicaKey",
    "AWS::Backup::BackupPlan",
    "AWS::DMS::ReplicationTask",
)


@dataclass(frozen=True)
class DataStore:
    stack: str
    account: str
    region: str
    kind: str
    detail: str
    leaves_region: tuple[str, ...]  # how its data could leave the region; empty: it does not


def _ref(value: object) -> str:
    if isinstance(value, dict) and "Fn::GetAtt" in value:
        return value["Fn::GetAtt"][0]
    if isinstance(value, dict) and "Ref" in value:
        return value["Ref"]
    return str(value)


def _leaves(resource: dict) -> tuple[str, ...]:
    properties = resource.get("Properties", {})
    return tuple(name for name in _LEAVES_BY.get(resource["Type"], ()) if properties.get(name))


def _database(stack: StackArtifact) -> list[DataStore]:
    found = []
    for lid, cluster in stack.of_type("AWS::RDS::DBCluster").items():
        p = cluster["Properties"]
        key = _ref(p.get("KmsKeyId", "the AWS-managed aws/rds key"))
        found.append(
            DataStore(
                stack.name,
                stack.account,
                stack.region,
                f"database {lid}",
                f"{p['Engine']} {p.get('EngineVersion', '')}".strip()
                + f", encrypted with {key}; backups {p.get('BackupRetentionPeriod', 1)} days"
                + (", final snapshot on delete" if cluster.get("DeletionPolicy") == "Snapshot" else ""),
                _leaves(cluster),
            )
        )
        if p.get("ManageMasterUserPassword"):
            secret_key = _ref(p.get("MasterUserSecret", {}).get("KmsKeyId", "aws/secretsmanager"))
            found.append(
                DataStore(
                    stack.name,
                    stack.account,
                    stack.region,
                    f"database credentials of {lid}",
                    f"Secrets Manager, made and rotated by RDS, encrypted with {secret_key}",
                    (),
                )
            )
    return found


BUILD_CACHE = "ReleaseImageBuildCache"


def data_stores(assembly: CloudAssembly) -> list[DataStore]:
    """Every data store of every stack, in deploy order."""
    found: list[DataStore] = []
    for stack in assembly.deploy_order():
        found += _database(stack)
        for lid, key in stack.of_type("AWS::KMS::Key").items():
            rotation = "rotated yearly" if key["Properties"].get("EnableKeyRotation") else "not rotated"
            found.append(
                DataStore(stack.name, stack.account, stack.region, f"KMS key {lid}", rotation, _leaves(key))
            )
        for lid, bucket in stack.of_type("AWS::S3::Bucket").items():
            rules = (
                bucket.get("Properties", {})
                .get("BucketEncryption", {})
                .get("ServerSideEncryptionConfiguration")
            )
            algorithm = rules[0]["ServerSideEncryptionByDefault"]["SSEAlgorithm"] if rules else "AES256"
            found.append(
                DataStore(
                    stack.name, stack.account, stack.region, f"bucket {lid}", algorithm, _leaves(bucket)
                )
            )
        for lid in stack.of_type("AWS::ECR::Repository"):
            found.append(
                DataStore(
                    stack.name,
                    stack.account,
                    stack.region,
                    f"image repository {lid}",
                    # The pipeline's is the build's layer cache (constructs/pipeline/release_build_project.py).
                    "the build's layer cache" if lid.startswith(BUILD_CACHE) else "release images",
                    (),
                )
            )
        groups = stack.of_type("AWS::Logs::LogGroup")
        exported = len(stack.of_type("Custom::LogRetention"))
        if groups or exported:
            days = sorted(
                {str(g["Properties"].get("RetentionInDays", "never expire")) for g in groups.values()}
            )
            detail = f"{len(groups)} log group(s), kept {'/'.join(days)} days"
            if exported:
                detail += f", and {exported} database log export(s) to CloudWatch Logs"
            found.append(DataStore(stack.name, stack.account, stack.region, "logs", detail, ()))
        movers = sorted(r["Type"] for r in stack.resources.values() if r["Type"] in _MOVERS)
        if movers:
            found.append(
                DataStore(
                    stack.name, stack.account, stack.region, "data movers", ", ".join(movers), tuple(movers)
                )
            )
    return found


def render(stores: list[DataStore]) -> str:
    """The auditor's table: one line per store, grouped by stack."""
    lines = [
        "Data stores (where each region's data lives; 'leaves region' lists anything that sends it elsewhere):"
    ]
    current = None
    for store in stores:
        if store.stack != current:
            current = store.stack
            lines.append(f"  {store.stack} (account {store.account}, {store.region}):")
        leaves = ", ".join(store.leaves_region) if store.leaves_region else "none"
        lines.append(f"    - {store.kind} in {store.region}: {store.detail}; leaves region: {leaves}")
    return "\n".join(lines) + "\n"
