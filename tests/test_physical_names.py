"""Every physical name the templates give a resource, pinned: changing one replaces the resource.

CloudFormation replaces a resource whose name (a create-only property) changes, and CDK generates several
names from the construct path (cross-region and cross-stack references need a name known at synth): a
refactor that moves a construct, or a stack, would replace the image repository, the artifact bucket or a
deploy role of an app already deployed. The names are pinned per test configuration in
``tests/__snapshots__/test_physical_names``; a change fails here until it is made on purpose with
``make physical-names`` and written in CHANGELOG.md with what it replaces.
"""

from __future__ import annotations

import functools

import pytest
from cfnlint.schema import PROVIDER_SCHEMA_MANAGER
from conftest import CONFIGURATIONS
from syrupy.extensions.json import JSONSnapshotExtension

PINNED = (
    "default",
    "six_regions",
    "staged",
    "hardened",
    "github",
    "database",
    "ecs",
    "domain_latency",
    "domain_geolocation",
)
assert set(PINNED) <= set(CONFIGURATIONS)


@functools.cache
def name_properties(resource_type: str) -> tuple[str, ...]:
    """The create-only properties of a type that name the resource (CloudFormation's schema)."""
    if resource_type.startswith("Custom::") or resource_type == "AWS::CDK::Metadata":
        return ()
    schema = PROVIDER_SCHEMA_MANAGER.get_resource_schema("us-east-1", resource_type).schema
    names = (path.removeprefix("/properties/") for path in schema.get("createOnlyProperties", ()))
    return tuple(
        n for n in names if n.endswith(("Name", "Identifier")) or n in ("Family", "GroupDescription")
    )


def physical_names(template: dict) -> dict[str, dict[str, str]]:
    """Logical ID -> {property: name} for every name the template spells out (not one CloudFormation makes)."""
    found = {}
    for logical_id, resource in template.get("Resources", {}).items():
        properties = resource.get("Properties", {})
        names = {
            prop: properties[prop]
            for prop in name_properties(resource["Type"])
            if isinstance(properties.get(prop), str)
        }
        if names:
            found[logical_id] = names
    return found


@pytest.fixture
def snapshot_json(snapshot):
    return snapshot.use_extension(JSONSnapshotExtension)


@pytest.mark.parametrize("name", PINNED)
def test_physical_names_are_pinned(synth_cache, snapshot_json, name):
    names = {stack: physical_names(t) for stack, t in sorted(synth_cache(name).templates.items())}
    assert names == snapshot_json, (
        "a physical name changed: CloudFormation replaces that resource on a deployed app; "
        "if intended, run `make physical-names` and say what it replaces in CHANGELOG.md"
    )


def test_names_are_found(default_synth):
    """The pin holds what it must: the generated names of the cross-region repository, bucket and roles."""
    names = physical_names(default_synth.regional("ap-southeast-1"))
    kinds = {prop for props in names.values() for prop in props}
    assert {"RepositoryName", "BucketName", "RoleName", "Family", "DeploymentGroupName"} <= kinds
    assert all(
        value.startswith("webapp-ap-southeast-1")
        for props in names.values()
        for p, value in props.items()
        if p in ("RepositoryName", "BucketName", "RoleName")
    )
