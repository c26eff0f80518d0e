"""Where a deployment's settings come from: cdk.json's context, a configuration file, ``-c``, never make.

``cdk.json``'s ``context`` is the default deployment. ``-c config=<file.json>`` (``make ... CONFIG=<file.json>``)
selects another: a JSON object of the same settings, which then replaces cdk.json's own settings (those are
the default deployment's); CDK's keys (feature flags) still come from cdk.json, and ``-c key=value`` on the
command line still overrides one setting. Places where a setting would be silently ignored are refused with
one line: a setting at the top level of cdk.json (the CLI reads only its ``context``) and a make variable
named like a setting (make does not pass it to the app).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from constructs.settings.config_checks import ConfigError
from constructs.settings.release_config import CONTEXT_KEYS, check_context_keys

CONFIG_KEY = "config"
# The Makefile names its command-line variables here, so that the app can refuse those named like a setting.
MAKE_VARIABLES = "RELEASE_MAKE_VARIABLES"


def deployment_context(
    context: Mapping[str, Any],
    *,
    cdk_json: Mapping[str, Any] | None,
    environ: Mapping[str, str],
    cwd: Path,
) -> dict[str, Any]:
    """The context to build the release from: CDK's keys and the selected deployment's settings.

    Args:
        context: the app's whole context (cdk.json's ``context`` merged with ``-c`` by the CDK CLI).
        cdk_json: the project's cdk.json, if the app runs in a project that has one.
        environ: the process environment (for the make variables).
        cwd: the directory a relative ``config`` path is read from.
    """
    refuse_make_variables(environ.get(MAKE_VARIABLES, "").split())
    project_context: Mapping[str, Any] = {}
    if cdk_json is not None:
        refuse_top_level_settings(cdk_json)
        project_context = cdk_json.get("context") or {}
    if CONFIG_KEY not in context:
        return dict(context)
    file_settings = read_config_file(context[CONFIG_KEY], cwd)
    # -c key=value is what differs from cdk.json: it overrides the file; cdk.json's own settings do not.
    command_line = {
        key: value
        for key, value in context.items()
        if key in CONTEXT_KEYS and (key not in project_context or project_context[key] != value)
    }
    cdk_keys = {key: value for key, value in context.items() if key not in CONTEXT_KEYS and key != CONFIG_KEY}
    return {**cdk_keys, **file_settings, **command_line}


def refuse_make_variables(names: Iterable[str]) -> None:
    for name in sorted(set(names) & set(CONTEXT_KEYS)):
        raise ConfigError(
            f'{name}: a make variable does not reach the app; set it in cdk.json\'s "context", in a file given '
            f"as CONFIG=<file.json>, or with the CDK CLI: npx cdk synth -c {name}=..."
        )


def refuse_top_level_settings(cdk_json: Mapping[str, Any]) -> None:
    for key in sorted(set(cdk_json) & set(CONTEXT_KEYS)):
        raise ConfigError(
            f'cdk.json: "{key}" is at the top level, where the CDK CLI ignores it; move it into cdk.json\'s "context"'
        )


def read_config_file(path: object, cwd: Path) -> dict[str, Any]:
    """A deployment's settings from its JSON file: only settings, and its own ``app_name``."""
    if not isinstance(path, str) or not path.endswith(".json"):
        raise ConfigError(
            f"{CONFIG_KEY}: {path!r} is not allowed; expected the path of a .json file of settings"
        )
    file = cwd / path
    try:
        settings = json.loads(file.read_text())
    except FileNotFoundError:
        raise ConfigError(f"{CONFIG_KEY}: {path} not found (relative paths start at {cwd})") from None
    except (OSError, ValueError) as error:
        raise ConfigError(f"{CONFIG_KEY}: {path} is not readable JSON ({error})") from None
    if not isinstance(settings, dict):
        raise ConfigError(
            f"{CONFIG_KEY}: {path} holds {type(settings).__name__}; expected a JSON object of settings"
        )
    not_settings = sorted(key for key in settings if key not in CONTEXT_KEYS)
    if not_settings:
        try:
            check_context_keys(not_settings)
        except ConfigError as error:
            raise ConfigError(f"{path}: {error}") from None
        raise ConfigError(
            f"{path}: {not_settings[0]} is CDK's own key, not a setting; keep CDK's keys in cdk.json's \"context\""
        )
    if "app_name" not in settings:
        raise ConfigError(
            f"{path}: app_name missing; each deployment needs its own app_name (its stack names start with it)"
        )
    return settings
