"""The create-only table the deploy guards share is CloudFormation's own, type by type."""

from __future__ import annotations

from cfnlint.schema import PROVIDER_SCHEMA_MANAGER

from tools.guards.code_deploy_blockers import NAMED_TYPES
from tools.guards.create_only import CREATE_ONLY


def test_create_only_properties_are_cloudformations_own():
    for resource_type, names in CREATE_ONLY.items():
        schema = PROVIDER_SCHEMA_MANAGER.get_resource_schema("us-east-1", resource_type).schema
        assert {f"/properties/{n}" for n in names} == set(schema["createOnlyProperties"]), resource_type


def test_the_codedeploy_guard_checks_only_types_the_table_holds():
    assert set(NAMED_TYPES) <= set(CREATE_ONLY)
