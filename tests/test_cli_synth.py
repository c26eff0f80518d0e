"""The real CDK CLI: offline synth, the same output as the test app, clean errors."""

from __future__ import annotations

import json

from conftest import SIX_REGIONS


def stack_templates(outdir) -> dict[str, dict]:
    manifest = json.loads((outdir / "manifest.json").read_text())
    return {
        artifact["properties"]["stackName"]: json.loads(
            (outdir / artifact["properties"]["templateFile"]).read_text()
        )
        for artifact in manifest["artifacts"].values()
        if artifact["type"] == "aws:cloudformation:stack"
    }


def test_cli_synthesizes_what_the_tests_assert(cli_synth, default_synth):
    result, outdir = cli_synth()
    assert result.returncode == 0, result.stderr
    assert stack_templates(outdir) == default_synth.templates


def test_cli_synth_is_offline_for_regions_with_irregular_zone_names(cli_synth):
    extra = ",".join((*SIX_REGIONS, "ap-northeast-2", "us-west-1"))
    result, outdir = cli_synth("-c", f"extra_regions={extra}")
    assert result.returncode == 0, result.stderr
    manifest = json.loads((outdir / "manifest.json").read_text())
    assert "missing" not in manifest
    assert len(stack_templates(outdir)) == 1 + 1 + len(extra.split(","))


def test_cli_runs_on_a_supported_node_without_banners(cli_synth):
    result, _ = cli_synth()
    output = result.stdout + result.stderr
    assert "end-of-life" not in output
    assert "NOTICES" not in output


def test_bad_configuration_fails_synth_with_one_line(cli_synth):
    result, _ = cli_synth("-c", "home_region=mars-1")
    assert result.returncode != 0
    errors = [line for line in result.stderr.splitlines() if line.startswith("configuration error:")]
    assert len(errors) == 1
    assert errors[0].startswith(
        "configuration error: home_region: 'mars-1' is not allowed; expected a region code"
    )
    assert "Traceback" not in result.stderr
    assert "jsii" not in result.stderr.lower()
