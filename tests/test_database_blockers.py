"""`make diff` and `make deploy` name any change that would remove or replace a region's database."""

from __future__ import annotations

import copy

import pytest
from cfnlint.schema import PROVIDER_SCHEMA_MANAGER
from conftest import for_account
from template_queries import only
from test_code_deploy_blockers import Ran, stubbed_templates

from tools.guards.database_blockers import CLUSTER_CREATE_ONLY, database_changes
from tools.operate import cdk_commands as operate
from tools.operate.cdk_commands import OperatorError


def test_the_create_only_properties_are_cloudformations_own():
    schema = PROVIDER_SCHEMA_MANAGER.get_resource_schema("us-east-1", "AWS::RDS::DBCluster").schema
    assert {f"/properties/{name}" for name in CLUSTER_CREATE_ONLY} <= set(schema["createOnlyProperties"])


def test_the_same_database_or_a_changed_capacity_is_not_blocked(synth_cache):
    template = synth_cache("database").regional("eu-west-2")
    resized = copy.deepcopy(template)
    only(resized, "AWS::RDS::DBCluster")[1]["Properties"]["ServerlessV2ScalingConfiguration"][
        "MaxCapacity"
    ] = 16
    assert database_changes("s", template, template) == []
    assert database_changes("s", template, resized) == []


def test_a_removed_database_is_blocked(synth_cache):
    with_database = synth_cache("database").regional("eu-west-2")
    (line,) = database_changes(
        "webapp-eu-west-2", with_database, synth_cache("default").regional("eu-west-2")
    )
    assert line.startswith("webapp-eu-west-2: removes the region's database DatabaseCluster")
    assert "deletion protection" in line


def test_a_database_replaced_by_a_new_key_is_blocked(synth_cache):
    template = synth_cache("database").regional("eu-west-2")
    rekeyed = copy.deepcopy(template)
    cluster_id, cluster = only(rekeyed, "AWS::RDS::DBCluster")
    cluster["Properties"]["KmsKeyId"] = {"Fn::GetAtt": ["OtherKey", "Arn"]}
    (line,) = database_changes("webapp-eu-west-2", template, rekeyed)
    assert line.startswith(
        f"webapp-eu-west-2: replaces the region's database {cluster_id} with a new, empty cluster"
    )
    assert "(KmsKeyId: " in line


def test_deploy_stops_before_removing_a_database(synth_cache, tmp_path, capsys):
    ran = Ran()
    with pytest.raises(
        OperatorError, match=r"^2 change\(s\) above cannot be deployed to the running regions"
    ):
        operate.run(
            "deploy",
            str(for_account(synth_cache("default").outdir, tmp_path / "assembly")),
            interactive=True,
            credentials=True,
            fetch=stubbed_templates(synth_cache("database").templates),
            execute=ran,
        )
    assert ran.commands == []
    blocked = [line for line in capsys.readouterr().err.splitlines() if line.startswith("blocked: ")]
    assert sorted(line.split(" (")[0] for line in blocked) == [
        "blocked: webapp-ap-southeast-1: removes the region's database DatabaseCluster5B53A178",
        "blocked: webapp-eu-west-2: removes the region's database DatabaseCluster5B53A178",
    ]
