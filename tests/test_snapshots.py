"""JSON snapshots of every stack of the default configuration, of a regional stack with a database, of
the ECS engine's stacks and of the multi-account ones: a guard.

Asset hashes and the CDK version analytics are masked so that a change of
asset content alone does not churn the snapshots. Update them on purpose with
`make snapshots`, then read `git diff tests/__snapshots__` before committing.
"""

from __future__ import annotations

import re

import pytest
from syrupy.extensions.json import JSONSnapshotExtension

ASSET_HASH = re.compile(r"[0-9a-f]{64}")
DEFAULT_STACKS = ["webapp-eu-west-2", "webapp-ap-southeast-1", "webapp-pipeline"]


@pytest.fixture
def snapshot_json(snapshot):
    return snapshot.use_extension(JSONSnapshotExtension)


def masked(value: object) -> object:
    if isinstance(value, dict):
        if "Analytics" in value and isinstance(value["Analytics"], str):
            return {**value, "Analytics": "<masked: CDK version analytics>"}
        return {key: masked(item) for key, item in value.items()}
    if isinstance(value, list):
        return [masked(item) for item in value]
    if isinstance(value, str):
        return ASSET_HASH.sub("<asset-hash>", value)
    return value


def test_default_configuration_has_exactly_these_stacks(default_synth):
    assert sorted(default_synth.templates) == sorted(DEFAULT_STACKS)


@pytest.mark.parametrize("stack_name", DEFAULT_STACKS)
def test_stack_template(default_synth, snapshot_json, stack_name):
    assert masked(default_synth.templates[stack_name]) == snapshot_json


def test_regional_stack_with_a_database(synth_cache, snapshot_json):
    """The database configuration's home-region stack: cluster, key, isolated subnets, migration hook."""
    assert masked(synth_cache("database").regional("eu-west-2")) == snapshot_json


@pytest.mark.parametrize("stack_name", ["webapp-eu-west-2", "webapp-pipeline"])
def test_ecs_engine_stack(synth_cache, snapshot_json, stack_name):
    """The ECS engine (the ecs configuration): the home region's stack and the pipeline."""
    assert masked(synth_cache("ecs").templates[stack_name]) == snapshot_json


@pytest.mark.parametrize(
    "stack_name", ["webapp-pipeline", "webapp-artifacts-ap-southeast-1", "webapp-eu-central-1", "webapp-dns"]
)
def test_multi_account_stack(synth_cache, snapshot_json, stack_name):
    """One account per jurisdiction (the accounts configuration): the pipeline, an artifact store in the
    pipeline's account, Frankfurt's stack in the EU account (its certificate and records written in the DNS
    account's zone), and the DNS account's writer roles."""
    assert masked(synth_cache("accounts").templates[stack_name]) == snapshot_json
