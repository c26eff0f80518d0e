"""The real CDK CLI: offline synth, the same output as the test app, clean errors."""

from __future__ import annotations

import json

from conftest import ROOT, Synthesized, synthesize


def stack_templates(outdir) -> dict[str, dict]:
    return Synthesized.load(outdir, IRREGULAR_ZONES).templates


# ap-northeast-1 has no zone "b" and us-west-1 only "b" and "c": nothing may look zones up. The CLI reads the
# configuration from a deployment's own file (-c config=...), as a second deployment of the app would.
IRREGULAR_ZONES = {"app_name": "shop", "extra_regions": "ap-northeast-1,us-west-1"}
IRREGULAR_ZONES_FILE = ROOT / "tests" / "configs" / "irregular_zones.json"


def irregular_cli_synth(cli_synth):
    """One CLI synth of the irregular-zones deployment file, shared by every test that needs one."""
    return cli_synth("-c", f"config={IRREGULAR_ZONES_FILE}")


def test_cli_synthesizes_exactly_what_the_tests_assert(cli_synth, tmp_path):
    result, outdir = irregular_cli_synth(cli_synth)
    assert result.returncode == 0, result.stderr
    assert stack_templates(outdir) == synthesize(tmp_path, IRREGULAR_ZONES).templates


def test_cli_synth_is_offline_even_for_regions_with_irregular_zone_names(cli_synth):
    result, outdir = irregular_cli_synth(cli_synth)
    assert result.returncode == 0, result.stderr
    manifest = json.loads((outdir / "manifest.json").read_text())
    assert "missing" not in manifest
    assert sorted(stack_templates(outdir)) == [
        "shop-ap-northeast-1",
        "shop-eu-west-2",
        "shop-pipeline",
        "shop-us-west-1",
    ]


def test_cli_runs_on_a_supported_node_without_banners(cli_synth):
    result, _ = irregular_cli_synth(cli_synth)
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


def test_a_region_in_another_account_synthesizes_into_that_account(cli_synth):
    """One account per jurisdiction through the CLI: the region's stack in its account (docs/accounts.md)."""
    # The home region alone (the smallest app): its stack in its account, the pipeline in the tools account.
    result, out = cli_synth("-c", "extra_regions=", "-c", 'region_accounts={"eu-west-2": "333344445555"}')
    assert result.returncode == 0, result.stderr
    manifest = json.loads((out / "manifest.json").read_text())
    environments = {
        name: artifact["environment"]
        for name, artifact in manifest["artifacts"].items()
        if artifact["type"] == "aws:cloudformation:stack"
    }
    assert environments == {
        "webapp-eu-west-2": "aws://333344445555/eu-west-2",
        "webapp-pipeline": "aws://111111111111/eu-west-2",
    }
