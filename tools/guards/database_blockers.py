"""Changes `cdk deploy` must not make to a region's database: they would lose it or strand it.

A deployed ``AWS::RDS::DBCluster`` has deletion protection, so CloudFormation
cannot delete it: in the clean-up after an update its delete fails and is
skipped, and the cluster stays behind outside the stack. A change that removes
the cluster, or that replaces it (a create-only property changes, per
CloudFormation's resource schema), leaves the region's data in a cluster no
stack manages, and with a replacement the service moves to a new, empty one.
``database_changes`` compares a deployed template with the synthesized one and
names each such change, with what to do instead.
"""

from __future__ import annotations

from tools.guards.code_deploy_blockers import show

CLUSTER = "AWS::RDS::DBCluster"
# The cluster's create-only properties that this app sets (tests check them against CloudFormation's
# schema, as cfn-lint ships it): a change replaces the cluster with a new, empty one.
CLUSTER_CREATE_ONLY = (
    "DBClusterIdentifier",
    "DBSubnetGroupName",
    "DatabaseName",
    "EngineMode",
    "KmsKeyId",
    "PubliclyAccessible",
    "StorageEncrypted",
)
KEEP_DATA = (
    "keep the deployed setting; to move the data, restore a snapshot into a new cluster and switch the service "
    "to it in a release of its own"
)


def database_changes(stack: str, deployed: dict, synthesized: dict) -> list[str]:
    """One line per deployed database cluster that the synthesized template removes or replaces."""
    lines = []
    new_resources = synthesized.get("Resources", {})
    for logical_id, cluster in deployed.get("Resources", {}).items():
        if cluster["Type"] != CLUSTER:
            continue
        new = new_resources.get(logical_id)
        if new is None or new["Type"] != CLUSTER:
            lines.append(
                f"{stack}: removes the region's database {logical_id} (database set to none?); deletion protection "
                "keeps CloudFormation from deleting it, and the cluster would stay behind outside the stack; keep "
                "the database, or turn deletion protection off first so that the delete takes a final snapshot"
            )
            continue
        old_properties, new_properties = cluster.get("Properties", {}), new.get("Properties", {})
        for name in CLUSTER_CREATE_ONLY:
            if old_properties.get(name) != new_properties.get(name):
                lines.append(
                    f"{stack}: replaces the region's database {logical_id} with a new, empty cluster ({name}: "
                    f"{show(old_properties.get(name))} -> {show(new_properties.get(name))}); {KEEP_DATA}"
                )
    return lines
