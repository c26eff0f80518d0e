#!/usr/bin/env python3
"""The CDK app: reads configuration from context and the environment, builds the release."""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping

import aws_cdk as cdk
from cdk_nag import AwsSolutionsChecks

from constructs.multi_region_release import MultiRegionBlueGreenRelease
from constructs.release_config import ConfigError, ReleaseConfig


def create_app(**props) -> cdk.App:
    """The CDK app, as `cdk synth` and the tests create it.

    CDK's built-in CloudFormation validation is off: it only warns, costs about
    a second per synth, and `make test` runs cfn-lint on every template instead.
    """
    return cdk.App(builtin_cloud_formation_validation=False, **props)


def read_config(app: cdk.App, environ: Mapping[str, str]) -> ReleaseConfig:
    """The release configuration from the app's context (cdk.json, ``-c``) and environment."""
    return ReleaseConfig.from_context(
        app.node.get_all_context(), default_account=environ.get("CDK_DEFAULT_ACCOUNT")
    )


def build(app: cdk.App, config: ReleaseConfig) -> MultiRegionBlueGreenRelease:
    """The release, checked by cdk-nag's AWS Solutions rules: an unacknowledged finding fails synth."""
    release = MultiRegionBlueGreenRelease(app, config.app_name, config=config)
    cdk.Validations.of(app).add_plugins(AwsSolutionsChecks(app))
    return release


def main() -> int:
    app = create_app()
    try:
        config = read_config(app, os.environ)
    except ConfigError as error:
        print(f"configuration error: {error}", file=sys.stderr)
        return 2
    release = build(app, config)
    stacks = len(release.regional_stacks) + len(release.staging_stacks) + 1
    print(
        f"==> {config.app_name}: {len(config.regions)} production region(s) ({', '.join(config.regions)}), "
        f"{len(config.staging_regions)} staging, {stacks} stacks; running cdk-nag",
        file=sys.stderr,
    )
    app.synth()
    return 0


if __name__ == "__main__":
    sys.exit(main())
