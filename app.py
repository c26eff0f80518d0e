#!/usr/bin/env python3
"""The CDK app: reads configuration from context and the environment, builds the release."""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Mapping
from pathlib import Path

import aws_cdk as cdk
from cdk_nag import AwsSolutionsChecks

from constructs.multi_region_release import MultiRegionBlueGreenRelease
from constructs.settings.config_sources import deployment_context
from constructs.settings.release_config import ConfigError, ReleaseConfig


def create_app(**props) -> cdk.App:
    """The CDK app, as `cdk synth` and the tests create it.

    CDK's built-in CloudFormation validation is off: it only warns, costs about
    a second per synth, and `make test` runs cfn-lint on every template instead.
    """
    return cdk.App(builtin_cloud_formation_validation=False, **props)


def read_config(app: cdk.App, environ: Mapping[str, str], cwd: Path | None = None) -> ReleaseConfig:
    """The release configuration from the app's context and environment.

    The context is cdk.json's and ``-c``'s; ``-c config=<file.json>`` selects another deployment's settings
    (see :mod:`constructs.settings.config_sources`). ``cwd`` is the project the CDK CLI runs the app in (its
    cdk.json is checked for settings outside its context); none when the app is built elsewhere.
    """
    cdk_json = None
    if cwd is not None and (cwd / "cdk.json").is_file():
        try:
            cdk_json = json.loads((cwd / "cdk.json").read_text())
        except ValueError as error:
            raise ConfigError(f"cdk.json is not valid JSON ({error})") from None
    context = deployment_context(
        app.node.get_all_context(), cdk_json=cdk_json, environ=environ, cwd=cwd or Path.cwd()
    )
    return ReleaseConfig.from_context(context, default_account=environ.get("CDK_DEFAULT_ACCOUNT"))


def build(app: cdk.App, config: ReleaseConfig) -> MultiRegionBlueGreenRelease:
    """The release, checked by cdk-nag's AWS Solutions rules: an unacknowledged finding fails synth."""
    release = MultiRegionBlueGreenRelease(app, config.app_name, config=config)
    cdk.Validations.of(app).add_plugins(AwsSolutionsChecks(app))
    return release


def main() -> int:
    app = create_app()
    try:
        config = read_config(app, os.environ, Path.cwd())
        release = build(app, config)
    except ConfigError as error:
        print(f"configuration error: {error}", file=sys.stderr)
        return 2
    stacks = len(release.stacks)
    print(
        f"==> {config.app_name}: {len(config.regions)} production region(s) ({', '.join(config.regions)}), "
        f"{len(config.staging_regions)} staging, {stacks} stacks; running cdk-nag",
        file=sys.stderr,
    )
    app.synth()
    return 0


if __name__ == "__main__":
    sys.exit(main())
