"""Destroy: delete the pipeline stack, then every regional stack in parallel; list what was kept.

    python tools/destroy.py [cdk.out] [--force]

After a confirmation (typing the app's name; ``--force`` skips it, and is
required when not run from a terminal) it deletes the stacks in waves, each
stack after those that depend on it (the pipeline stack first, then every
regional stack, staging too, at once). Before deleting a stack it turns off
the deletion protection this project sets: the load balancer's and the
database cluster's. It waits for each deletion, names any that fail, and then
lists what the stacks retain (repositories and their images, buckets, log
groups, keys, the databases' final snapshots) with the command that deletes
each. The CDK bootstrap stacks are left alone. Without credentials, or with
the placeholder account, it refuses with one line.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

if __package__ in (None, ""):  # run as a script: make the repository root importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from botocore.exceptions import ClientError

from tools.cloud_assembly import CloudAssembly, StackArtifact
from tools.operate import OperatorError, aws_client, one_line_errors, ready_assembly
from tools.patient_aws import Aws, error_code
from tools.regional_state import StackResources, pipeline_stack

POLL_SECONDS = 15
KEPT_POLICIES = ("Retain", "RetainExceptOnCreate", "Snapshot")
LOAD_BALANCER = "AWS::ElasticLoadBalancingV2::LoadBalancer"
DATABASE_CLUSTER = "AWS::RDS::DBCluster"


def deletion_waves(assembly: CloudAssembly) -> list[list[StackArtifact]]:
    """The stacks in the order they can be deleted: each wave after every stack that depends on it."""
    stacks = assembly.deploy_order()
    dependents = {s.artifact_id: [d for d in stacks if s.artifact_id in d.dependencies] for s in stacks}
    level: dict[str, int] = {}
    for stack in reversed(stacks):  # dependents come later in deploy order, so they are levelled first
        level[stack.artifact_id] = 1 + max(
            (level[d.artifact_id] for d in dependents[stack.artifact_id]), default=-1
        )
    return [
        sorted((s for s in stacks if level[s.artifact_id] == n), key=lambda s: s.name)
        for n in range(max(level.values()) + 1)
    ]


@dataclass(frozen=True)
class Kept:
    """A resource the stack keeps when it is deleted, and how to delete it by hand."""

    region: str
    kind: str
    name: str
    command: str
    note: str = ""


def kept_resources(stack: StackArtifact, resources: dict[str, str]) -> list[tuple[str, str]]:
    """(type, physical ID) of every resource the template keeps on stack deletion."""
    return [
        (resource["Type"], resources[logical_id])
        for logical_id, resource in stack.resources.items()
        if resource.get("DeletionPolicy") in KEPT_POLICIES and logical_id in resources
    ]


class Destroy:
    """One teardown, against botocore clients made by ``aws`` (so it can be tested with Stubbers)."""

    def __init__(
        self,
        assembly: CloudAssembly,
        aws: Aws,
        *,
        say: Callable[[str], None] = print,
        poll_seconds: float = POLL_SECONDS,
    ) -> None:
        self.assembly, self.aws, self.say, self.poll_seconds = assembly, aws, say, poll_seconds

    def deployed(self) -> dict[str, dict[str, str]]:
        """Physical IDs by logical ID of every deployed stack of the app (stacks not deployed are left out)."""
        found = {}
        for stack in self.assembly.deploy_order():
            resources = StackResources.deployed(self.aws, stack)
            if resources is not None:
                found[stack.name] = resources.physical
        return found

    def unprotect(self, stack: StackArtifact, resources: dict[str, str]) -> None:
        for logical_id in stack.of_type(LOAD_BALANCER):
            if logical_id in resources:
                self.aws.call(
                    "elbv2",
                    stack.region,
                    "modify_load_balancer_attributes",
                    LoadBalancerArn=resources[logical_id],
                    Attributes=[{"Key": "deletion_protection.enabled", "Value": "false"}],
                )
                self.say(f"    {stack.name}: load balancer deletion protection off")
        for logical_id in stack.of_type(DATABASE_CLUSTER):
            if logical_id in resources:
                self.aws.call(
                    "rds",
                    stack.region,
                    "modify_db_cluster",
                    DBClusterIdentifier=resources[logical_id],
                    DeletionProtection=False,
                    ApplyImmediately=True,
                )
                self.say(f"    {stack.name}: database {resources[logical_id]} deletion protection off")

    def delete_wave(self, wave: list[StackArtifact], deployed: dict[str, dict[str, str]]) -> list[str]:
        """Delete the wave's deployed stacks at once; return one line per stack that failed."""
        pending = [s for s in wave if s.name in deployed]
        for stack in pending:
            self.unprotect(stack, deployed[stack.name])
            self.aws.call("cloudformation", stack.region, "delete_stack", StackName=stack.name)
            self.say(f"==> deleting {stack.name} ({stack.region})")
        failures = []
        while pending:
            self.aws.sleep(self.poll_seconds)
            still = []
            for stack in pending:
                state, reason = self.stack_state(stack)
                if state == "DELETE_COMPLETE":
                    self.say(f"    {stack.name}: deleted")
                elif state == "DELETE_FAILED":
                    failures.append(f"{stack.name} ({stack.region}): DELETE_FAILED: {reason}")
                else:
                    still.append(stack)
            pending = still
        return failures

    def stack_state(self, stack: StackArtifact) -> tuple[str, str]:
        try:
            (described,) = self.aws.call(
                "cloudformation", stack.region, "describe_stacks", StackName=stack.name
            )["Stacks"]
        except ClientError as error:
            if error_code(error) == "ValidationError" and "does not exist" in str(error):
                return "DELETE_COMPLETE", ""
            raise
        return described["StackStatus"], described.get("StackStatusReason", "")

    def kept(self, deployed: dict[str, dict[str, str]]) -> list[Kept]:
        found = []
        for stack in self.assembly.deploy_order():
            if stack.name not in deployed:
                continue
            for kind, name in kept_resources(stack, deployed[stack.name]):
                found += self.describe_kept(stack.region, kind, name)
        return found

    def describe_kept(self, region: str, kind: str, name: str) -> list[Kept]:
        if kind == "AWS::ECR::Repository":
            try:
                images = self.aws.pages(
                    "ecr", region, "list_images", "imageIds", "nextToken", repositoryName=name
                )
            except ClientError as error:
                if error_code(error) == "RepositoryNotFoundException":
                    return []
                raise
            command = f"aws ecr delete-repository --region {region} --repository-name {name} --force"
            return [Kept(region, "repository", name, command, f"{len(images)} image(s)")]
        if kind == "AWS::S3::Bucket":
            return [
                Kept(
                    region,
                    "bucket",
                    name,
                    f"aws s3 rb s3://{name} --force --region {region}",
                    "versioned buckets: empty every version first (S3 console: Empty)",
                )
            ]
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
            return [
                Kept(region, "key", name, command, "delete it after what it encrypts (snapshots, buckets)")
            ]
        if kind == DATABASE_CLUSTER:
            snapshots = self.aws.pages(
                "rds",
                region,
                "describe_db_cluster_snapshots",
                "DBClusterSnapshots",
                "Marker",
                DBClusterIdentifier=name,
                SnapshotType="manual",
            )
            return [
                Kept(
                    region,
                    "database snapshot",
                    s["DBClusterSnapshotIdentifier"],
                    f"aws rds delete-db-cluster-snapshot --region {region} "
                    f"--db-cluster-snapshot-identifier {s['DBClusterSnapshotIdentifier']}",
                    f"final snapshot of {name}",
                )
                for s in snapshots
            ]
        return [Kept(region, kind, name, "")]

    def run(self, confirm: Callable[[str, list[str]], bool]) -> int:
        deployed = self.deployed()
        if not deployed:
            self.say("==> nothing to delete: no stack of this app is deployed")
            return 0
        waves = deletion_waves(self.assembly)
        names = [s.name for wave in waves for s in wave if s.name in deployed]
        app = pipeline_stack(self.assembly.stacks.values()).name.removesuffix("-pipeline")
        if not confirm(app, names):
            raise OperatorError("not confirmed; nothing was deleted")
        failures = []
        for wave in waves:
            failures += self.delete_wave(wave, deployed)
            if failures:
                break  # a stack that others depended on is still there; later waves would fail on it
        for line in failures:
            self.say(f"failed: {line}")
        self.report(self.kept(deployed))
        return 1 if failures else 0

    def report(self, kept: list[Kept]) -> None:
        if not kept:
            return
        self.say(f"==> kept ({len(kept)}): delete what you no longer need")
        for item in kept:
            note = f" ({item.note})" if item.note else ""
            self.say(f"    {item.region:<15} {item.kind:<17} {item.name}{note}")
            if item.command:
                self.say(f"        {item.command}")


def ask(app: str, names: list[str]) -> bool:
    if not sys.stdin.isatty():
        raise OperatorError("confirm with --force (FORCE=1 for make) when not run from a terminal")
    print(f"This deletes {len(names)} stack(s): {', '.join(names)}")
    return input(f"Type the app's name ({app}) to delete them: ").strip() == app


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("assembly", nargs="?", default="cdk.out")
    parser.add_argument("--force", action="store_true", help="do not ask for confirmation")
    args = parser.parse_args(argv)
    return one_line_errors(
        lambda: Destroy(ready_assembly(args.assembly), Aws(aws_client)).run(
            (lambda *_: True) if args.force else ask
        )
    )


if __name__ == "__main__":
    sys.exit(main())
