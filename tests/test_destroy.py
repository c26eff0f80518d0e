"""make destroy: pipeline first, then every region at once, protection off, what was kept (Stubbers, offline)."""

from __future__ import annotations

import io

import pytest
from aws_world import World, expect_stack_resources, minutes_after
from conftest import for_account, tool, without_credentials

from tools import destroy as destroy_tool
from tools.cloud_assembly import CloudAssembly
from tools.destroy import Destroy, deletion_waves
from tools.operate import OperatorError


def gone(world: World, stack) -> None:
    world.fail(
        "cloudformation",
        stack.region,
        "describe_stacks",
        "ValidationError",
        f"Stack with id {stack.name} does not exist",
    )


def state(world: World, stack, status: str, reason: str = "") -> None:
    described = {"StackName": stack.name, "CreationTime": minutes_after(0), "StackStatus": status}
    if reason:
        described["StackStatusReason"] = reason
    world.expect(
        "cloudformation", stack.region, "describe_stacks", {"Stacks": [described]}, {"StackName": stack.name}
    )


def only_id(stack, resource_type: str) -> str:
    (logical_id,) = stack.of_type(resource_type)
    return logical_id


class Teardown:
    """A deployed app on a World: every stack's resources queued, the calls of its deletion to add."""

    def __init__(self, synthesized) -> None:
        self.world = World()
        self.assembly = CloudAssembly.read(synthesized.outdir)
        self.waves = deletion_waves(self.assembly)
        self.ids = {s.name: expect_stack_resources(self.world, s) for s in self.assembly.deploy_order()}

    def delete(self, stack) -> None:
        ids = self.ids[stack.name]
        if stack.of_type("AWS::ElasticLoadBalancingV2::LoadBalancer"):
            self.world.expect(
                "elbv2",
                stack.region,
                "modify_load_balancer_attributes",
                {},
                {
                    "LoadBalancerArn": ids[only_id(stack, "AWS::ElasticLoadBalancingV2::LoadBalancer")],
                    "Attributes": [{"Key": "deletion_protection.enabled", "Value": "false"}],
                },
            )
        if stack.of_type("AWS::RDS::DBCluster"):
            self.world.expect(
                "rds",
                stack.region,
                "modify_db_cluster",
                {},
                {
                    "DBClusterIdentifier": ids[only_id(stack, "AWS::RDS::DBCluster")],
                    "DeletionProtection": False,
                    "ApplyImmediately": True,
                },
            )
        self.world.expect("cloudformation", stack.region, "delete_stack", {}, {"StackName": stack.name})

    def images(self, stack, count: int) -> None:
        self.world.expect(
            "ecr",
            stack.region,
            "list_images",
            # ECR leaves imageIds out for an empty repository (the list has a minimum length of 1).
            {"imageIds": [{"imageDigest": f"sha256:{n:064x}"} for n in range(count)]} if count else {},
            {"repositoryName": self.ids[stack.name][only_id(stack, "AWS::ECR::Repository")]},
        )

    def run(self, confirm=lambda *_: True) -> tuple[int, list[str]]:
        said: list[str] = []
        code = Destroy(self.assembly, self.world.aws(), say=said.append, poll_seconds=15).run(confirm)
        self.world.assert_done()
        return code, said


def test_the_pipeline_goes_first_then_every_region_at_once(default_synth):
    teardown = Teardown(default_synth)
    (pipeline,), regional = teardown.waves
    assert pipeline.name == "webapp-pipeline"
    assert [s.name for s in regional] == ["webapp-ap-southeast-1", "webapp-eu-west-2"]
    world = teardown.world
    teardown.delete(pipeline)
    state(world, pipeline, "DELETE_IN_PROGRESS")
    gone(world, pipeline)
    for stack in regional:
        teardown.delete(stack)
    asia, europe = regional
    state(world, asia, "DELETE_IN_PROGRESS")
    state(world, europe, "DELETE_IN_PROGRESS")
    gone(world, asia)
    state(world, europe, "DELETE_COMPLETE")
    teardown.images(asia, 3)
    teardown.images(europe, 5)
    code, said = teardown.run()
    assert code == 0
    calls = world.calls
    pipeline_gone = calls.index(
        "cloudformation eu-west-2 describe_stacks", calls.index("cloudformation eu-west-2 delete_stack") + 2
    )
    # Both regional deletions start only after the pipeline stack is gone, and both before either is waited on.
    deletes = [n for n, call in enumerate(calls) if call.endswith("delete_stack")]
    assert deletes[0] < pipeline_gone < deletes[1] < deletes[2]
    assert deletes[2] < next(
        n for n, c in enumerate(calls) if n > deletes[1] and c.endswith("describe_stacks")
    )
    # Each load balancer's protection is off before its stack's deletion.
    for stack in regional:
        its_delete = max(
            n for n, call in enumerate(calls) if call == f"cloudformation {stack.region} delete_stack"
        )
        assert calls.index(f"elbv2 {stack.region} modify_load_balancer_attributes") < its_delete
    assert world.slept == [15, 15, 15, 15]
    assert "    webapp-pipeline: deleted" in said
    kept = said[said.index(next(line for line in said if line.startswith("==> kept"))) :]
    text = "\n".join(kept)
    asia_repo = teardown.ids[asia.name][only_id(asia, "AWS::ECR::Repository")]
    assert f"repository        {asia_repo} (3 image(s))" in text
    assert f"aws ecr delete-repository --region ap-southeast-1 --repository-name {asia_repo} --force" in text
    source = teardown.ids[pipeline.name]["ReleaseSourceBucketB6EA8221"]
    assert f"aws s3 rb s3://{source} --force --region eu-west-2" in text
    # Everything the templates keep, and nothing else, is listed.
    expected = sum(
        1
        for stack in teardown.assembly.stacks.values()
        for resource in stack.resources.values()
        if resource.get("DeletionPolicy") in ("Retain", "RetainExceptOnCreate", "Snapshot")
    )
    assert kept[0] == f"==> kept ({expected}): delete what you no longer need"


def test_databases_lose_their_protection_and_their_final_snapshots_are_listed(synth_cache):
    teardown = Teardown(synth_cache("ecs"))
    world = teardown.world
    (pipeline,), regional = teardown.waves
    assert len(regional) == 3  # staging in the same wave as production
    teardown.delete(pipeline)
    gone(world, pipeline)
    for stack in regional:
        teardown.delete(stack)
    for stack in regional:
        gone(world, stack)
    for stack in regional:
        teardown.images(stack, 1)
        cluster = teardown.ids[stack.name][only_id(stack, "AWS::RDS::DBCluster")]
        world.expect(
            "rds",
            stack.region,
            "describe_db_cluster_snapshots",
            {"DBClusterSnapshots": [{"DBClusterSnapshotIdentifier": f"{cluster}-snapshot-final"}]},
            {"DBClusterIdentifier": cluster, "SnapshotType": "manual"},
        )
    code, said = teardown.run()
    assert code == 0
    text = "\n".join(said)
    for stack in regional:
        cluster = teardown.ids[stack.name][only_id(stack, "AWS::RDS::DBCluster")]
        assert f"{stack.name}: database {cluster} deletion protection off" in text
        assert (
            f"aws rds delete-db-cluster-snapshot --region {stack.region} "
            f"--db-cluster-snapshot-identifier {cluster}-snapshot-final"
        ) in text


def test_a_stack_that_fails_to_delete_is_named_and_the_command_fails(default_synth):
    teardown = Teardown(default_synth)
    world = teardown.world
    (pipeline,), (asia, europe) = teardown.waves
    teardown.delete(pipeline)
    gone(world, pipeline)
    teardown.delete(asia)
    teardown.delete(europe)
    gone(world, asia)
    state(
        world,
        europe,
        "DELETE_FAILED",
        "The following resource(s) failed to delete: [ServiceRepositoryB5DB2931]",
    )
    teardown.images(asia, 0)
    teardown.images(europe, 0)
    code, said = teardown.run()
    assert code == 1
    assert (
        "failed: webapp-eu-west-2 (eu-west-2): DELETE_FAILED: The following resource(s) failed to delete: "
        "[ServiceRepositoryB5DB2931]"
    ) in said


def test_stacks_that_are_not_deployed_are_skipped(default_synth):
    world = World()
    assembly = CloudAssembly.read(default_synth.outdir)
    for stack in assembly.deploy_order():
        world.fail(
            "cloudformation",
            stack.region,
            "list_stack_resources",
            "ValidationError",
            f"Stack with id {stack.name} does not exist",
        )
    said: list[str] = []
    assert Destroy(assembly, world.aws(), say=said.append).run(lambda *_: pytest.fail("asked")) == 0
    assert said == ["==> nothing to delete: no stack of this app is deployed"]
    world.assert_done()


def test_nothing_is_deleted_without_confirmation(default_synth, monkeypatch):
    teardown = Teardown(default_synth)
    asked = []
    with pytest.raises(OperatorError, match="not confirmed; nothing was deleted"):
        teardown.run(lambda app, names: asked.append((app, names)) or False)
    assert asked == [("webapp", ["webapp-pipeline", "webapp-ap-southeast-1", "webapp-eu-west-2"])]
    assert not [call for call in teardown.world.calls if not call.endswith("list_stack_resources")]
    # The prompt wants the app's name, typed; away from a terminal it wants --force instead.
    monkeypatch.setattr("sys.stdin", io.StringIO("webap\n"))
    monkeypatch.setattr("sys.stdin.isatty", lambda: True, raising=False)
    assert destroy_tool.ask("webapp", ["webapp-pipeline"]) is False
    monkeypatch.setattr("sys.stdin", io.StringIO("webapp\n"))
    monkeypatch.setattr("sys.stdin.isatty", lambda: True, raising=False)
    assert destroy_tool.ask("webapp", ["webapp-pipeline"]) is True
    monkeypatch.setattr("sys.stdin", io.StringIO(""))
    with pytest.raises(OperatorError, match=r"confirm with --force \(FORCE=1 for make\)"):
        destroy_tool.ask("webapp", ["webapp-pipeline"])


def test_destroy_refuses_without_credentials(default_synth, tmp_path):
    assembly = for_account(default_synth.outdir, tmp_path / "out")
    result = tool("destroy.py", str(assembly), "--force", env=without_credentials(tmp_path))
    assert result.returncode == 1
    assert result.stderr.startswith("error: no AWS credentials found;")
    assert len(result.stderr.splitlines()) == 1
