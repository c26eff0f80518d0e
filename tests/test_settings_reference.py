"""The settings reference is the code's: every key parsed into the field it names, defaults as documented."""

from __future__ import annotations

import json
import operator
import re

import pytest
from conftest import ROOT

from constructs.settings.release_config import CONTEXT_KEYS, PYTHON_FIELDS, DatabaseSettings, ReleaseConfig
from constructs.settings.service_settings import ServiceSettings
from tools import settings_reference

ACCOUNT = "123456789012"
CERT = f"arn:aws:acm:us-east-1:{ACCOUNT}:certificate/0b8e8b2c-1d3a-4f5e-9a7b-123456789abc"
CONNECTION = f"arn:aws:codeconnections:eu-west-2:{ACCOUNT}:connection/5c1e9a7d-3b2f-4e8a-9c6d-0f1e2d3c4b5a"
DOMAIN = {
    "domain_name": "shop.example.com",
    "hosted_zone_id": "Z0123456789ABCDEFGHIJ",
    "hosted_zone_name": "example.com",
}
GITHUB = {"source_connection_arn": CONNECTION, "source_repository": "acme/shop", "source_branch": "main"}
DATABASE = {"database": "aurora-postgresql"}
# Each setting with a value other than its default, and the settings it needs beside it.
SAMPLES: dict[str, tuple[object, dict[str, object]]] = {
    "account": ("210987654321", {}),
    "home_region": ("eu-west-1", {}),
    "extra_regions": ("us-east-1", {}),
    "app_name": ("shop", {}),
    "container_name": ("app", {}),
    "container_port": ("8080", {}),
    "cpu": ("512", {"memory_mib": "1024"}),
    "memory_mib": ("1024", {}),
    "desired_count": ("3", {}),
    "health_check_path": ("/health", {}),
    "test_listener_port": ("9090", {}),
    "bootstrap_image": ("public.ecr.aws/acme/shop:bootstrap", {}),
    "container_user": ("10002", {}),
    "container_secrets": (json.dumps({"API_KEY": "ssm:/shop/key"}), {}),
    "readonly_root_filesystem": ("false", {}),
    "scratch_paths": ("/tmp,/cache", {}),
    "traffic_shifting": ("linear", {}),
    "traffic_percentage": ("20", {}),
    "traffic_interval_minutes": ("10", {}),
    "alarm_5xx_per_minute": ("9", {}),
    "alarm_unhealthy_hosts": ("2", {}),
    "alarm_latency_ms": ("900", {}),
    "alarm_latency_percentile": ("p95", {}),
    "alarm_evaluation_minutes": ("3", {}),
    "deployment_engine": ("ecs", {}),
    "termination_wait_minutes": ("15", {}),
    "test_traffic_check_path": ("/health", {}),
    "waves": ("eu-west-2;ap-southeast-1", {}),
    "wave_bake_minutes": ("45", {"waves": "eu-west-2;ap-southeast-1"}),
    "deployment_windows": (
        json.dumps({"ap-southeast-1": {"cron": "* * 9-16 ? * MON-FRI *", "timezone": "Asia/Singapore"}}),
        {"waves": "eu-west-2;ap-southeast-1"},
    ),
    "staging_regions": ("eu-west-1", {}),
    "manual_approval": ("true", {}),
    "execution_mode": ("superseded", {}),
    "build_compute": ("large", {}),
    "certificate_arns": (json.dumps({"us-east-1": CERT}), {"extra_regions": "us-east-1"}),
    "availability_zones": (json.dumps({"eu-west-2": ["eu-west-2a", "eu-west-2c"]}), {}),
    "source_object_key": ("app.zip", {}),
    "source_connection_arn": (
        CONNECTION,
        {**GITHUB, "source_connection_arn": CONNECTION.replace("5c1e", "6d2f")},
    ),
    "source_repository": ("acme/shop", {**GITHUB, "source_repository": "acme/other"}),
    "source_branch": ("main", {**GITHUB, "source_branch": "develop"}),
    "database": ("aurora-postgresql", {}),
    "database_min_acu": ("0.5", DATABASE),
    "database_max_acu": ("8", DATABASE),
    "database_backup_days": ("14", DATABASE),
    "migration_command": ('["python", "migrate.py"]', DATABASE),
    "migration_timeout_minutes": ("5", {**DATABASE, "migration_command": '["python", "migrate.py"]'}),
    "waf": ("false", {}),
    "waf_rate_limit": ("1000", {}),
    "domain_name": ("shop.example.com", {**DOMAIN, "domain_name": "www.example.com"}),
    "hosted_zone_id": (
        "Z0123456789ABCDEFGHIJ",
        {**DOMAIN, "hosted_zone_id": "Z9876543210ABCDEFGHIJ"},
    ),
    "hosted_zone_name": ("shop.example.com", DOMAIN),
    "routing": ("none", DOMAIN),
    "residency": (
        json.dumps({"EU": "eu-west-2", "*": "ap-southeast-1"}),
        {**DOMAIN, "routing": "geolocation", "residency": json.dumps({"*": "eu-west-2"})},
    ),
    "notification_emails": ("ops@example.com", {}),
    "allow_plain_http": ("false", {"certificate_arns": json.dumps({})}),
    "security_log_retention_days": ("731", {}),
    "region_accounts": (json.dumps({"ap-southeast-1": "210987654321"}), {}),
    "staging_account": ("210987654321", {"staging_regions": "eu-west-1"}),
    "hosted_zone_account": ("210987654321", DOMAIN),
}
BASE = {"account": ACCOUNT, "allow_plain_http": "true"}


def field(config: ReleaseConfig, key: str) -> object:
    return operator.attrgetter(PYTHON_FIELDS[key].split(" ")[0])(config)


def test_the_docs_table_is_generated_from_the_code():
    text = (ROOT / "docs" / "configuration.md").read_text()
    assert settings_reference.documented(text) == settings_reference.table(), "run make settings-reference"


def test_every_setting_has_its_field_and_a_sample():
    assert list(PYTHON_FIELDS) == list(PYTHON_FIELDS)  # order is the parser's; the set must match
    assert set(PYTHON_FIELDS) == set(CONTEXT_KEYS) == set(SAMPLES)


@pytest.mark.parametrize("key", CONTEXT_KEYS)
def test_each_setting_lands_in_the_field_the_reference_names(key):
    value, companions = SAMPLES[key]
    if key == "allow_plain_http":
        # Off is the default: start from on (the base) and turn it off for a region with HTTPS.
        on = ReleaseConfig.from_context({**BASE, "extra_regions": ""}, default_account=None)
        with pytest.raises(Exception, match="allow_plain_http"):
            ReleaseConfig.from_context({**BASE, "extra_regions": "", key: value}, default_account=None)
        assert field(on, key) is True
        return
    # The companions are what the setting needs beside it, or the same group with another value.
    plain = ReleaseConfig.from_context({**BASE, **companions}, default_account=None)
    changed = ReleaseConfig.from_context({**BASE, **companions, key: value}, default_account=None)
    assert field(changed, key) != field(plain, key), PYTHON_FIELDS[key]


# Settings whose field stays None until the mode they depend on resolves it, and how to read the result.
RESOLVED_LATER = {"traffic_percentage": lambda config: config.rollout.traffic_shifting.step_percentage}


def defaults() -> ReleaseConfig:
    return ReleaseConfig.from_context(BASE, default_account=None)


@pytest.mark.parametrize("setting", settings_reference.SETTINGS, ids=lambda s: s.key)
def test_a_single_documented_default_is_the_codes(setting):
    """Where the reference gives one plain value as the default, the code's default is that value."""
    match = re.fullmatch(r"`([^`]+)`", setting.default)
    if not match or setting.key == "account":
        assert setting.default, setting.key
        return
    actual = field(defaults(), setting.key)
    if actual is None and setting.key in RESOLVED_LATER:
        assert RESOLVED_LATER[setting.key](defaults()) == int(match[1])
        return
    shown = json.dumps(list(actual)) if isinstance(actual, tuple) else str(actual).lower()
    assert match[1].lower() in (shown, shown.replace('"', "'")), (setting.key, actual)


def test_the_typed_api_takes_lists_and_dicts():
    as_tuples = ReleaseConfig(
        account=ACCOUNT,
        extra_regions=("us-east-1",),
        waves=(("eu-west-2",), ("us-east-1",)),
        certificate_arns=(("us-east-1", CERT),),
        availability_zones=(("us-east-1", ("us-east-1a", "us-east-1b")),),
        service=ServiceSettings(container_secrets=(("API_KEY", "ssm:/k"),), scratch_paths=("/tmp",)),
        database=DatabaseSettings(engine="aurora-postgresql", migration_command=("python", "migrate.py")),
        allow_plain_http=True,
    )
    as_plain = ReleaseConfig(
        account=ACCOUNT,
        extra_regions=["us-east-1"],
        waves=[["eu-west-2"], ["us-east-1"]],
        certificate_arns={"us-east-1": CERT},
        availability_zones={"us-east-1": ["us-east-1a", "us-east-1b"]},
        service=ServiceSettings(container_secrets={"API_KEY": "ssm:/k"}, scratch_paths=["/tmp"]),
        database=DatabaseSettings(engine="aurora-postgresql", migration_command=["python", "migrate.py"]),
        allow_plain_http=True,
    )
    assert as_plain == as_tuples
    hash(as_plain)  # still immutable and hashable
