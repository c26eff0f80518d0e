"""Checks shared by the configuration classes: one-line errors naming setting, value and what is allowed.

Also the parsers for raw CDK context values: ``-c key=value`` always gives
strings, cdk.json gives JSON values.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence

from constructs.settings.supported_regions import supported_regions

# The account the app synthesizes for until one is configured (CDK_DEFAULT_ACCOUNT or "account");
# here, free of aws_cdk, so the operator tools can refuse it without loading the CDK.
PLACEHOLDER_ACCOUNT = "111111111111"

REGION_CODE = re.compile(r"^[a-z]{2}(-[a-z]+)+-\d{1,2}$")


class ConfigError(ValueError):
    """A configuration value is not allowed; the message is one line for the user."""


def fail(setting: str, value: object, allowed: str) -> ConfigError:
    """The one line that refuses ``value``; true, false and null as cdk.json writes them."""
    shown = json.dumps(value) if isinstance(value, bool) or value is None else repr(value)
    return ConfigError(f"{setting}: {shown} is not allowed; {allowed}")


# How long CloudWatch Logs may keep events (PutRetentionPolicy's retentionInDays; tests/test_config.py checks
# them against botocore's model).
LOG_RETENTION_DAYS = (
    1,
    3,
    5,
    7,
    14,
    30,
    60,
    90,
    120,
    150,
    180,
    365,
    400,
    545,
    731,
    1096,
    1827,
    2192,
    2557,
    2922,
    3288,
    3653,
)


def require_int(setting: str, value: object, low: int, high: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise fail(setting, value, f"expected a whole number from {low} to {high}")


def require_str(setting: str, value: object, pattern: re.Pattern[str], allowed: str) -> None:
    if not isinstance(value, str):
        raise fail(setting, value, f"expected text, not {type(value).__name__}: {allowed}")
    if not pattern.fullmatch(value):
        raise fail(setting, value, allowed)


def require_bool(setting: str, value: object) -> None:
    if not isinstance(value, bool):
        raise fail(setting, value, "expected true or false")


def require_region(setting: str, value: object) -> None:
    require_str(setting, value, REGION_CODE, "expected a region code such as eu-west-2")
    if value not in supported_regions():
        raise fail(
            setting,
            value,
            "CodePipeline, CodeDeploy and ECS all run only in: " + ", ".join(supported_regions()),
        )


def require_distinct_regions(setting: str, regions: object) -> None:
    """A tuple of supported region codes, each listed once."""
    if not isinstance(regions, tuple):
        raise fail(setting, regions, "expected a tuple of region codes")
    seen: set[str] = set()
    for region in regions:
        require_region(setting, region)
        if region in seen:
            raise fail(setting, region, "it is listed twice; list each region once")
        seen.add(region)


# --- parsers for raw context values -------------------------------------------


def whole_number(setting: str, value: object) -> object:
    """``-c`` values arrive as strings; JSON numbers pass through to validation."""
    if isinstance(value, str):
        try:
            return int(value.strip())
        except ValueError:
            raise fail(setting, value, "expected a whole number") from None
    return value


def decimal_number(setting: str, value: object) -> object:
    """A number that may have a fraction (``-c database_min_acu=0.5``); JSON numbers pass through."""
    if isinstance(value, str):
        try:
            return float(value.strip())
        except ValueError:
            raise fail(setting, value, "expected a number") from None
    return value


def command_list(setting: str, value: object) -> object:
    """A container command: a JSON list of strings (cdk.json), or one as text (``-c``)."""
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except json.JSONDecodeError:
            raise fail(
                setting, value, 'expected a JSON list of strings, such as ["python", "-m", "app.migrate"]'
            ) from None
    return tuple(value) if isinstance(value, list) else value


def boolean(setting: str, value: object) -> object:
    if isinstance(value, str):
        text = value.strip().lower()
        if text in ("true", "false"):
            return text == "true"
        raise fail(setting, value, "expected true or false")
    return value


def _json_or_text(setting: str, value: object, expected: str) -> object:
    if isinstance(value, str) and value.strip().startswith("["):
        try:
            return json.loads(value)
        except json.JSONDecodeError:
            raise fail(setting, value, f"expected {expected}") from None
    return value


def region_list(setting: str, value: object) -> tuple[str, ...]:
    """A JSON list (cdk.json), or a comma-separated / JSON-list string (``-c``)."""
    return text_list(setting, value, "region codes")


def text_list(setting: str, value: object, items: str) -> tuple[str, ...]:
    """A JSON list of ``items`` (cdk.json), or a comma-separated / JSON-list string (``-c``)."""
    value = _json_or_text(setting, value, f"a JSON list of {items}")
    if isinstance(value, str):
        return tuple(part.strip() for part in value.split(",") if part.strip())
    if not isinstance(value, Sequence):
        raise fail(setting, value, f"expected a JSON list of {items}, or a comma-separated string with -c")
    return tuple(value)


def text_mapping(setting: str, value: object) -> tuple[tuple[str, object], ...]:
    """A JSON object (cdk.json) or a JSON-object string (``-c``), as sorted (key, value) pairs."""
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except json.JSONDecodeError:
            raise fail(setting, value, 'expected a JSON object such as {"NAME": "value"}') from None
    if not isinstance(value, dict):
        raise fail(setting, value, 'expected a JSON object such as {"NAME": "value"}')
    return tuple(sorted(value.items()))


def wave_list(setting: str, value: object) -> tuple[tuple[str, ...], ...]:
    """A JSON list of lists, or ``-c waves='eu-west-2;ap-southeast-1,us-east-1'`` (``;`` between waves)."""
    value = _json_or_text(setting, value, "a JSON list of lists of region codes")
    if isinstance(value, str):
        return tuple(region_list(setting, wave) for wave in value.split(";"))
    if not isinstance(value, Sequence) or not all(
        isinstance(w, Sequence) and not isinstance(w, str) for w in value
    ):
        raise fail(setting, value, "expected a list of waves, each a list of region codes")
    return tuple(tuple(wave) for wave in value)


def zone_mapping(setting: str, value: object) -> tuple[tuple[str, tuple[str, ...]], ...]:
    """A JSON object of region -> list of zone names, as sorted (region, zones) pairs."""
    pairs = text_mapping(setting, value)
    for region, zones in pairs:
        if not isinstance(zones, list):
            raise fail(
                setting,
                {region: zones},
                'expected a list of zone names, such as {"us-west-1": ["us-west-1a", "us-west-1c"]}',
            )
    return tuple((region, tuple(zones)) for region, zones in pairs)


def freeze(instance: object, *names: str) -> None:
    """Turn the lists and dicts a Python user passes into the tuples a frozen setting holds.

    A list becomes a tuple and a dict a tuple of (key, value) pairs, recursively; anything else is left
    for the setting's own check to judge.
    """
    for name in names:
        object.__setattr__(instance, name, _frozen(getattr(instance, name)))


def _frozen(value: object) -> object:
    if isinstance(value, Mapping):
        return tuple((key, _frozen(item)) for key, item in value.items())
    if isinstance(value, list | tuple):
        return tuple(_frozen(item) for item in value)
    return value
