"""make destroy: pipeline first, then every region at once, protection off, what was kept (Stubbers, offline)."""

from __future__ import annotations

import io

import pytest
from aws_world import World, expect_gone, expect_service_log_groups, expect_stack_resources, minutes_after
from conftest import for_account, tool, without_credentials

from tools.cloud_assembly import CloudAssembly
from tools.operate import destroy as destroy_tool
from tools.operate import kept_resources
from tools.operate.cdk_commands import OperatorError
from tools.operate.destroy import PERMISSIONS, Destroy, deletion_waves
from tools.operate.regional_state import StackResources

LOAD_BALANCER = "AWS::ElasticLoadBalancingV2::LoadBalancer"
CLUSTER = "AWS::RDS::DBCluster"


def not_deployed(world: World, stack) -> None:
    world.fail(
        "cloudformation",
        stack.region,
        "list_stack_resources",
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

    def __init__(self, synthesized, *, releasing: bool = False, deploying: str = ""):
        self.world = World(PERMISSIONS)
        self.assembly = CloudAssembly.read(synthesized.outdir)
        self.waves = deletion_waves(self.assembly)
        self.made_groups: dict[str, tuple[str, ...]] = {}  # of each stack deleted, by name: those that exist
        self.ids = {s.name: expect_stack_resources(self.world, s) for s in self.assembly.deploy_order()}
        (pipeline,) = self.waves[0]
        executions = [{"pipelineExecutionId": "exec-1", "status": "Succeeded"}]
        if releasing:
            executions.insert(0, {"pipelineExecutionId": "exec-2", "status": "InProgress"})
        self.world.expect(
            "codepipeline",
            pipeline.region,
            "list_pipeline_executions",
            {"pipelineExecutionSummaries": executions},
            {
                "pipelineName": self.ids[pipeline.name][only_id(pipeline, "AWS::CodePipeline::Pipeline")],
                "maxResults": 10,
            },
        )
        if releasing:
            return
        for stack in self.assembly.deploy_order():
            if stack.of_type("AWS::ECS::Service"):
                self.last_deployment(stack, "InProgress" if stack.name == deploying else "Succeeded")
                if stack.name == deploying:
                    return

    def last_deployment(self, stack, status: str) -> None:
        """Each region's last deployment, as make destroy checks that none is in flight."""
        ids = self.ids[stack.name]
        if stack.of_type("AWS::CodeDeploy::DeploymentGroup"):
            self.world.expect(
                "codedeploy",
                stack.region,
                "get_deployment_group",
                {
                    "deploymentGroupInfo": {
                        "lastAttemptedDeployment": {"deploymentId": "d-LAST", "status": status}
                    }
                },
                {
                    "applicationName": ids[only_id(stack, "AWS::CodeDeploy::Application")],
                    "deploymentGroupName": ids[only_id(stack, "AWS::CodeDeploy::DeploymentGroup")],
                },
            )
            return
        arn = f"arn:aws:ecs:{stack.region}:123456789012:service-deployment/{stack.name}-cluster/svc/sd-last"
        self.world.expect(
            "ecs",
            stack.region,
            "list_service_deployments",
            {
                "serviceDeployments": [
                    {
                        "serviceDeploymentArn": arn,
                        "createdAt": minutes_after(0),
                        "status": {"InProgress": "IN_PROGRESS", "Succeeded": "SUCCESSFUL"}[status],
                    }
                ]
            },
            {"cluster": f"{stack.name}-cluster", "service": f"{stack.name}-service", "maxResults": 100},
        )

    def protection(self, stack, *, enabled: bool) -> None:
        self.world.expect(
            "elbv2",
            stack.region,
            "modify_load_balancer_attributes",
            {},
            {
                "LoadBalancerArn": self.ids[stack.name][only_id(stack, LOAD_BALANCER)],
                "Attributes": [{"Key": "deletion_protection.enabled", "Value": str(enabled).lower()}],
            },
        )

    def cluster(self, stack, *, status: str = "available", protected: bool = True) -> str:
        identifier = self.ids[stack.name][only_id(stack, CLUSTER)]
        self.world.expect(
            "rds",
            stack.region,
            "describe_db_clusters",
            {
                "DBClusters": [
                    {"DBClusterIdentifier": identifier, "Status": status, "DeletionProtection": protected}
                ]
            },
            {"DBClusterIdentifier": identifier},
        )
        return identifier

    def delete(self, stack, status: str = "UPDATE_COMPLETE") -> None:
        """The stack as it stands, protection off (what still exists), then DeleteStack."""
        state(self.world, stack, status)
        if stack.of_type(LOAD_BALANCER):
            self.protection(stack, enabled=False)
        if stack.of_type(CLUSTER):
            identifier = self.cluster(stack)
            self.world.expect(
                "rds",
                stack.region,
                "modify_db_cluster",
                {},
                {"DBClusterIdentifier": identifier, "DeletionProtection": False, "ApplyImmediately": True},
            )
        self.world.expect("cloudformation", stack.region, "delete_stack", {}, {"StackName": stack.name})

    def gone(self, stack, made_groups: tuple[str, ...] = ()) -> None:
        """The stack is deleted; of the log groups services made for its resources, ``made_groups`` exist."""
        expect_gone(self.world, stack)
        self.made_groups[stack.name] = made_groups

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
        # make destroy lists what the deleted stacks keep in deploy order.
        for stack in self.assembly.deploy_order():
            if stack.name in self.made_groups:
                expect_service_log_groups(
                    self.world, stack, self.ids[stack.name], self.made_groups[stack.name]
                )
        said: list[str] = []
        code = Destroy(self.assembly, self.world.aws(), say=said.append, poll_seconds=15).run(confirm)
        self.world.assert_done()
        return code, said


def kept_count(stacks) -> int:
    return sum(
        1
        for stack in stacks
        for resource in stack.resources.values()
        if resource.get("DeletionPolicy") in ("Retain", "RetainExceptOnCreate", "Snapshot")
    )


def singapore_goes_and_london(synthesized, london) -> tuple[int, list[str], Teardown]:
    """The pipeline and Singapore are deleted; ``london(teardown, stack)`` queues what London's stack does."""
    teardown = Teardown(synthesized)
    (pipeline,), (asia, europe) = teardown.waves
    teardown.delete(pipeline)
    teardown.gone(pipeline)
    teardown.delete(asia)
    london(teardown, europe)
    teardown.gone(asia)
    teardown.images(asia, 0)
    code, said = teardown.run()
    return code, said, teardown


def destroy_the_default_app(synthesized) -> tuple[int, list[str], Teardown]:
    """make destroy of the deployed default app on stubbed AWS: the pipeline, then both regions (Singapore's
    repository holds 3 images, London's 5), every deletion waited for."""
    teardown = Teardown(synthesized)
    (pipeline,), regional = teardown.waves
    world = teardown.world
    teardown.delete(pipeline)
    state(world, pipeline, "DELETE_IN_PROGRESS")
    teardown.gone(pipeline)
    for stack in regional:
        teardown.delete(stack)
    asia, europe = regional
    state(world, asia, "DELETE_IN_PROGRESS")
    state(world, europe, "DELETE_IN_PROGRESS")
    teardown.gone(asia)
    state(world, europe, "DELETE_COMPLETE")
    teardown.made_groups[europe.name] = ()
    teardown.images(asia, 3)
    teardown.images(europe, 5)
    code, said = teardown.run()
    return code, said, teardown


def test_the_pipeline_goes_first_then_every_region_at_once(default_synth):
    code, said, teardown = destroy_the_default_app(default_synth)
    (pipeline,), regional = teardown.waves
    assert pipeline.name == "webapp-pipeline"
    assert [s.name for s in regional] == ["webapp-ap-southeast-1", "webapp-eu-west-2"]
    asia, _europe = regional
    world = teardown.world
    assert code == 0
    calls = world.calls
    deletes = [n for n, call in enumerate(calls) if call.endswith("delete_stack")]
    pipeline_gone = max(n for n, call in enumerate(calls[: deletes[1]]) if call.endswith("describe_stacks"))
    # Both regional deletions start only after the pipeline stack is gone, and both before either is waited on.
    assert deletes[0] < pipeline_gone < deletes[1] < deletes[2]
    assert calls[deletes[2] + 1 :].count("cloudformation ap-southeast-1 describe_stacks") == 2
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
    # Only the versioned source bucket is said to keep old versions.
    assert (
        f"{source} (versioned: rb --force leaves its old versions; empty it in the S3 console first)" in text
    )
    assert text.count("versioned:") == 1
    # Everything the templates keep, and nothing else, is listed.
    assert (
        kept[0]
        == f"==> kept ({kept_count(teardown.assembly.stacks.values())}): delete what you no longer need"
    )


def test_databases_lose_their_protection_and_their_snapshots_are_listed(synth_cache):
    teardown = Teardown(synth_cache("ecs"))
    world = teardown.world
    (pipeline,), regional = teardown.waves
    assert len(regional) == 3  # staging in the same wave as production
    teardown.delete(pipeline)
    teardown.gone(pipeline)
    for stack in regional:
        teardown.delete(stack)
    for stack in regional:
        teardown.gone(stack)
    for stack in regional:
        teardown.images(stack, 1)
        cluster = teardown.ids[stack.name][only_id(stack, CLUSTER)]
        world.expect(
            "rds",
            stack.region,
            "describe_db_cluster_snapshots",
            {
                "DBClusterSnapshots": [
                    {
                        "DBClusterSnapshotIdentifier": f"{cluster}-snapshot-final",
                        "SnapshotCreateTime": minutes_after(30),
                    }
                ]
            },
            # Found by the filter: DBClusterIdentifier must name a cluster that still exists.
            {"Filters": [{"Name": "db-cluster-id", "Values": [cluster]}], "SnapshotType": "manual"},
        )
    code, said = teardown.run()
    assert code == 0
    text = "\n".join(said)
    for stack in regional:
        cluster = teardown.ids[stack.name][only_id(stack, CLUSTER)]
        assert f"{stack.name}: database {cluster}: deletion protection off" in text
        assert f"{cluster}-snapshot-final (of {cluster}, taken 2026-11-27 09:30 UTC)" in text
        assert (
            f"aws rds delete-db-cluster-snapshot --region {stack.region} "
            f"--db-cluster-snapshot-identifier {cluster}-snapshot-final"
        ) in text


def test_a_failed_pipeline_deletion_stops_before_the_regions_and_lists_nothing_of_theirs(default_synth):
    teardown = Teardown(default_synth)
    world = teardown.world
    (pipeline,), _ = teardown.waves
    teardown.delete(pipeline)
    state(
        world,
        pipeline,
        "DELETE_FAILED",
        "The following resource(s) failed to delete: [ReleaseArtifacts7E374565]",
    )
    code, said = teardown.run()
    assert code == 1
    assert (
        "failed: webapp-pipeline (eu-west-2): DELETE_FAILED: The following resource(s) failed to delete"
        in "\n".join(said)
    )
    assert not [call for call in world.calls if call.endswith("delete_stack") and "ap-southeast-1" in call]
    # The regions still run: none of their resources is offered for deletion.
    assert not [line for line in said if line.startswith("==> kept")]


def test_a_regional_failure_says_protection_is_off(default_synth):
    def london(teardown: Teardown, europe) -> None:
        teardown.delete(europe)
        state(
            teardown.world,
            europe,
            "DELETE_FAILED",
            "The following resource(s) failed to delete: [ServiceNetworkVpc]",
        )

    code, said, teardown = singapore_goes_and_london(default_synth, london)
    assert code == 1
    europe, asia = (
        teardown.assembly.stacks["webapp-eu-west-2"],
        teardown.assembly.stacks["webapp-ap-southeast-1"],
    )
    europe_lb = teardown.ids[europe.name][only_id(europe, LOAD_BALANCER)]
    assert (
        "failed: webapp-eu-west-2 (eu-west-2): DELETE_FAILED: The following resource(s) failed to delete: "
        f"[ServiceNetworkVpc]; deletion protection is OFF on load balancer {europe_lb}: run make destroy again"
    ) in said
    # Only the deleted region's kept resources are listed.
    kept = "\n".join(said[said.index(next(line for line in said if line.startswith("==> kept"))) :])
    assert teardown.ids[asia.name][only_id(asia, "AWS::ECR::Repository")] in kept
    assert "webapp-eu-west-2-" not in kept


def test_running_it_again_after_a_failed_deletion_finishes_it(default_synth):
    """The second run skips what CloudFormation already deleted (the load balancer) and deletes the stack again."""
    world = World(PERMISSIONS)
    assembly = CloudAssembly.read(default_synth.outdir)
    europe = assembly.stacks["webapp-eu-west-2"]
    survivors = ("AWS::EC2::VPC", "AWS::ECR::Repository", "AWS::S3::Bucket", "AWS::Logs::LogGroup")
    deleted = {lid: "DELETE_COMPLETE" for lid, r in europe.resources.items() if r["Type"] not in survivors}
    assert only_id(europe, LOAD_BALANCER) in deleted
    for stack in assembly.deploy_order():  # the first run deleted the pipeline and Singapore
        if stack is europe:
            ids = expect_stack_resources(world, europe, deleted)
        else:
            not_deployed(world, stack)
    state(world, europe, "DELETE_FAILED")
    world.expect("cloudformation", europe.region, "delete_stack", {}, {"StackName": europe.name})
    expect_gone(world, europe)
    (provider,) = [
        lid for lid in europe.of_type("AWS::Lambda::Function") if lid.startswith("CustomVpcRestrictDefaultSG")
    ]
    provider_logs = f"/aws/lambda/{ids[provider]}"  # the function's name: its physical ID
    expect_service_log_groups(world, europe, ids, (provider_logs,))
    world.expect(
        "ecr",
        europe.region,
        "list_images",
        {"imageIds": [{"imageDigest": "sha256:" + "1" * 64}]},
        {"repositoryName": ids[only_id(europe, "AWS::ECR::Repository")]},
    )
    said: list[str] = []
    assert Destroy(assembly, world.aws(), say=said.append).run(lambda *_: True) == 0
    world.assert_done()
    assert not [call for call in world.calls if "modify_load_balancer_attributes" in call]
    assert "    webapp-eu-west-2: deleted" in said
    # Lambda's own log group of a CDK provider function: no template holds it, so it is listed with its command.
    assert (
        f"    eu-west-2       log group         {provider_logs} (made by the service itself, for a resource of "
        "the stack)" in said
    )
    assert f"        aws logs delete-log-group --region eu-west-2 --log-group-name {provider_logs}" in said


def test_a_refused_deletion_restores_the_protection(default_synth):
    def london(teardown: Teardown, europe) -> None:
        # Between the look and the call, a deploy began: CloudFormation refuses, the protection goes back on.
        state(teardown.world, europe, "UPDATE_COMPLETE")
        teardown.protection(europe, enabled=False)
        teardown.world.fail(
            "cloudformation",
            europe.region,
            "delete_stack",
            "ValidationError",
            "Stack is in UPDATE_IN_PROGRESS state",
        )
        teardown.protection(europe, enabled=True)

    code, said, _ = singapore_goes_and_london(default_synth, london)
    assert code == 1
    assert any(
        line.startswith("failed: webapp-eu-west-2 (eu-west-2): ")
        and line.endswith("(deletion protection restored)")
        for line in said
    )


def test_a_busy_stack_is_left_alone(default_synth):
    code, said, teardown = singapore_goes_and_london(
        default_synth, lambda teardown, europe: state(teardown.world, europe, "UPDATE_IN_PROGRESS")
    )
    assert code == 1
    assert (
        "failed: webapp-eu-west-2 (eu-west-2) is UPDATE_IN_PROGRESS; let it end, then run the command again"
        in said
    )
    assert "elbv2 eu-west-2 modify_load_balancer_attributes" not in teardown.world.calls


def test_a_stopped_database_leaves_its_stack_untouched_and_the_others_go(synth_cache):
    teardown = Teardown(synth_cache("ecs"))
    world = teardown.world
    (pipeline,), (asia, europe, staging) = teardown.waves
    teardown.delete(pipeline)
    teardown.gone(pipeline)
    # London's database is stopped: its protection cannot change, so nothing of London changes.
    state(world, europe, "UPDATE_COMPLETE")
    identifier = teardown.cluster(europe, status="stopped")
    for stack in (asia, staging):
        teardown.delete(stack)
    for stack in (asia, staging):
        teardown.gone(stack)
        teardown.images(stack, 0)
        world.expect(
            "rds",
            stack.region,
            "describe_db_cluster_snapshots",
            {"DBClusterSnapshots": []},
            {
                "Filters": [
                    {"Name": "db-cluster-id", "Values": [teardown.ids[stack.name][only_id(stack, CLUSTER)]]}
                ],
                "SnapshotType": "manual",
            },
        )
    code, said = teardown.run()
    assert code == 1
    assert (
        f"failed: {europe.name} (eu-west-2): the database {identifier} is stopped; its protection can change only "
        f"while it is available (stopped: aws rds start-db-cluster --db-cluster-identifier {identifier} "
        "--region eu-west-2); nothing of this stack was changed"
    ) in said
    assert "elbv2 eu-west-2 modify_load_balancer_attributes" not in world.calls
    assert f"    {asia.name}: deleted" in said
    assert f"    {staging.name}: deleted" in said


def test_a_region_that_is_deploying_stops_the_teardown(default_synth):
    teardown = Teardown(default_synth, deploying="webapp-ap-southeast-1")
    with pytest.raises(
        OperatorError, match=r"webapp-ap-southeast-1 \(ap-southeast-1\) is deploying \(d-LAST, InProgress\)"
    ):
        teardown.run(lambda *_: pytest.fail("asked"))


def test_nothing_is_deleted_while_a_release_runs(default_synth):
    teardown = Teardown(default_synth, releasing=True)
    with pytest.raises(
        OperatorError,
        match=r"is releasing \(exec-2\); let it end, or stop it with aws codepipeline .* \(without --abandon",
    ):
        teardown.run(lambda *_: pytest.fail("asked"))


def test_stacks_that_are_not_deployed_are_skipped(default_synth):
    world = World(PERMISSIONS)
    assembly = CloudAssembly.read(default_synth.outdir)
    for stack in assembly.deploy_order():
        not_deployed(world, stack)
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
    # Only reads before the answer: the stacks, the pipeline's executions, each region's last deployment.
    assert {call.split()[-1] for call in teardown.world.calls} == {
        "list_stack_resources",
        "list_pipeline_executions",
        "get_deployment_group",
    }
    # The prompt wants the app's name, typed; away from a terminal it wants --force instead.
    for typed, expected in (("webap\n", False), ("webapp\n", True)):
        monkeypatch.setattr("sys.stdin", io.StringIO(typed))
        monkeypatch.setattr("sys.stdin.isatty", lambda: True, raising=False)
        assert destroy_tool.ask("webapp", ["webapp-pipeline"]) is expected
    monkeypatch.setattr("sys.stdin", io.StringIO(""))
    with pytest.raises(OperatorError, match=r"confirm with --force \(FORCE=1 for make\)"):
        destroy_tool.ask("webapp", ["webapp-pipeline"])


def test_destroy_refuses_without_credentials(default_synth, tmp_path):
    assembly = for_account(default_synth.outdir, tmp_path / "out")
    result = tool("operate/destroy.py", str(assembly), "--force", env=without_credentials(tmp_path))
    assert result.returncode == 1
    assert result.stderr.startswith("error: no AWS credentials found;")
    assert len(result.stderr.splitlines()) == 1


def test_a_protection_that_cannot_be_restored_is_said_with_the_refusal(default_synth):
    def london(teardown: Teardown, europe) -> None:
        state(teardown.world, europe, "UPDATE_COMPLETE")
        teardown.protection(europe, enabled=False)
        teardown.world.fail(
            "cloudformation", europe.region, "delete_stack", "ValidationError", "Stack is busy"
        )
        teardown.world.fail("elbv2", europe.region, "modify_load_balancer_attributes", "AccessDenied", "no")

    code, said, teardown = singapore_goes_and_london(default_synth, london)
    assert code == 1
    europe = teardown.assembly.stacks["webapp-eu-west-2"]
    lb = teardown.ids[europe.name][only_id(europe, LOAD_BALANCER)]
    (line,) = [line for line in said if line.startswith("failed: webapp-eu-west-2")]
    assert "Stack is busy" in line
    assert f"deletion protection NOT restored on load balancer {lb}" in line
    assert line.endswith("turn it back on by hand)")


def test_a_rerun_still_lists_the_final_snapshot_of_a_cluster_deleted_the_first_time(synth_cache):
    """The cluster is gone (DELETE_COMPLETE in the failed stack) but its final snapshot, and its key, stay."""
    world = World(PERMISSIONS)
    assembly = CloudAssembly.read(synth_cache("ecs").outdir)
    stack = assembly.stacks["webapp-eu-west-2"]
    cluster_id = only_id(stack, CLUSTER)
    physical = {lid: f"{stack.name}-{lid}" for lid in stack.resources if lid != cluster_id}
    resources = StackResources(
        stack,
        physical,
        {lid: stack.resources[lid]["Type"] for lid in physical},
        deleted={cluster_id: "webapp-db"},
    )
    world.expect(
        "rds",
        stack.region,
        "describe_db_cluster_snapshots",
        {"DBClusterSnapshots": [{"DBClusterSnapshotIdentifier": "webapp-db-final"}]},
        {"Filters": [{"Name": "db-cluster-id", "Values": ["webapp-db"]}], "SnapshotType": "manual"},
    )
    world.expect(
        "ecr",
        stack.region,
        "list_images",
        {},
        {"repositoryName": physical[only_id(stack, "AWS::ECR::Repository")]},
    )
    # RDS made the cluster's exported log's group; no template holds it.
    exported = "/aws/rds/cluster/webapp-db/postgresql"
    expect_service_log_groups(world, stack, {**physical, cluster_id: "webapp-db"}, (exported,))
    destroy = Destroy(assembly, world.aws(), say=lambda _: None)
    destroy.deleted.add(stack.name)
    kept = destroy.kept({stack.name: resources})
    world.assert_done()
    assert [k.name for k in kept if k.kind == "log group" and k.name == exported] == [exported]
    (snapshot,) = [k for k in kept if k.kind == "database snapshot"]
    assert snapshot.name == "webapp-db-final"
    (key,) = [k for k in kept if k.kind == "key"]  # the database's key; the topic's key is not kept
    assert "DatabaseKey" in key.name
    assert "cannot be read without it" in key.note


def test_the_log_groups_services_make_for_a_regions_resources_are_named_from_their_physical_ids(
    default_synth,
):
    """Lambda's per function, and Container Insights' per cluster (it is on): no template holds either."""
    stack = CloudAssembly.read(default_synth.outdir).stacks["webapp-eu-west-2"]
    ids = {logical_id: f"physical-{logical_id}" for logical_id in stack.resources}
    groups = kept_resources.service_log_groups(stack, ids)
    (cluster,) = stack.of_type("AWS::ECS::Cluster")
    assert f"/aws/ecs/containerinsights/physical-{cluster}/performance" in groups
    assert {f"/aws/lambda/physical-{f}" for f in stack.of_type("AWS::Lambda::Function")} <= set(groups)
