"""Where settings come from: cdk.json's context, a deployment's own file, -c; refused where they are ignored."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import ROOT, cdk_context, cli_environment, run_cdk
from test_cli_synth import IRREGULAR_ZONES_FILE, irregular_cli_synth

from constructs.settings.config_checks import ConfigError
from constructs.settings.config_sources import MAKE_VARIABLES, deployment_context
from constructs.settings.release_config import ReleaseConfig

CDK_JSON = {
    "app": ".venv/bin/python app.py",
    "context": {"@aws-cdk/core:x": True, "app_name": "shop", "waf": True},
}
STAGING = {"app_name": "shop-preprod", "extra_regions": [], "allow_plain_http": True}


def resolve(context: dict, tmp_path: Path, *, cdk_json: dict | None = CDK_JSON, environ: dict | None = None):
    return deployment_context(context, cdk_json=cdk_json, environ=environ or {}, cwd=tmp_path)


def write(tmp_path: Path, name: str, content: object) -> str:
    (tmp_path / name).write_text(content if isinstance(content, str) else json.dumps(content))
    return name


def test_without_a_file_the_context_is_the_deployment(tmp_path):
    context = {**CDK_JSON["context"], "home_region": "eu-west-1"}
    assert resolve(context, tmp_path) == context


def test_a_file_replaces_cdk_jsons_settings_and_keeps_cdks_keys(tmp_path):
    path = write(tmp_path, "staging.json", STAGING)
    resolved = resolve({**CDK_JSON["context"], "config": path}, tmp_path)
    # cdk.json's waf=True belongs to the default deployment: the file's deployment takes the code's default.
    assert resolved == {"@aws-cdk/core:x": True, **STAGING}
    config = ReleaseConfig.from_context(resolved, default_account=None)
    assert (config.app_name, config.regions) == ("shop-preprod", ("eu-west-2",))


def test_a_command_line_setting_overrides_the_file(tmp_path):
    path = write(tmp_path, "staging.json", STAGING)
    # -c home_region=eu-west-1 is in the context but not in cdk.json; -c app_name=shop equals cdk.json's.
    resolved = resolve({**CDK_JSON["context"], "config": path, "home_region": "eu-west-1"}, tmp_path)
    assert resolved["home_region"] == "eu-west-1"
    assert resolved["app_name"] == "shop-preprod"


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        (None, r"^config: missing\.json not found \(relative paths start at "),
        ("{not json", r"^config: staging\.json is not readable JSON \("),
        ([1, 2], r"^config: staging\.json holds list; expected a JSON object of settings$"),
        (
            {"app_name": "x", "extra_region": []},
            r"^staging\.json: extra_region: unknown setting, .*did you mean extra_regions\?$",
        ),
        (
            {"app_name": "x", "@aws-cdk/core:x": True},
            r"^staging\.json: @aws-cdk/core:x is CDK's own key, not a setting; keep",
        ),
        ({"extra_regions": []}, r"^staging\.json: app_name missing; each deployment needs its own app_name"),
    ],
)
def test_a_bad_file_is_refused_with_one_line(tmp_path, content, expected):
    path = "missing.json" if content is None else write(tmp_path, "staging.json", content)
    with pytest.raises(ConfigError) as error:
        resolve({"config": path}, tmp_path)
    assert re.search(expected, str(error.value)), str(error.value)
    assert "\n" not in str(error.value)


def test_config_must_name_a_json_file(tmp_path):
    with pytest.raises(
        ConfigError, match=r"^config: 'staging' is not allowed; expected the path of a \.json file"
    ):
        resolve({"config": "staging"}, tmp_path)


def test_a_setting_at_cdk_jsons_top_level_is_refused(tmp_path):
    with pytest.raises(
        ConfigError, match=r'^cdk\.json: "app_name" is at the top level, where the CDK CLI ignores it; move'
    ):
        resolve({}, tmp_path, cdk_json={**CDK_JSON, "app_name": "shop"})


def test_cdks_own_top_level_keys_are_fine(tmp_path):
    project = {**CDK_JSON, "notices": False, "requireApproval": "broadening", "watch": {"include": ["**"]}}
    assert resolve({}, tmp_path, cdk_json=project) == {}


def test_a_make_variable_named_like_a_setting_is_refused(tmp_path):
    with pytest.raises(
        ConfigError, match=r"^app_name: a make variable does not reach the app; set it in cdk\.json's"
    ):
        resolve({}, tmp_path, environ={MAKE_VARIABLES: "CONFIG app_name"})
    assert resolve({}, tmp_path, environ={MAKE_VARIABLES: "CONFIG APPROVAL SOURCE"}) == {}


def test_make_names_its_command_line_variables_to_the_app():
    result = subprocess.run(
        ["make", "-n", "synth", "app_name=shop", "CONFIG=staging.json"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
        env=cli_environment(),
    )
    synth = next(line for line in result.stdout.splitlines() if " synth --no-lookups" in line)
    names = re.search(rf'{MAKE_VARIABLES}="([^"]*)"', synth)[1].split()
    assert {"app_name", "CONFIG"} <= set(names)
    assert synth.endswith('-c config="staging.json"')


def test_cdk_json_runs_the_projects_own_interpreter():
    assert json.loads((ROOT / "cdk.json").read_text())["app"].split()[0] == ".venv/bin/python"


def test_a_deployment_file_through_the_cli(cli_synth):
    """`-c config=<file>` as the CLI passes it: the file's deployment, its own stack names (the CLI synth of
    tests/test_cli_synth.py, which also shows it is exactly the test app's)."""
    assert json.loads(IRREGULAR_ZONES_FILE.read_text())["app_name"] == "shop"
    result, outdir = irregular_cli_synth(cli_synth)
    assert result.returncode == 0, result.stderr
    names = sorted(p.name for p in outdir.glob("*.template.json"))
    assert names == [
        f"shop-{name}.template.json" for name in ("ap-northeast-1", "eu-west-2", "pipeline", "us-west-1")
    ]


def test_the_projects_own_configuration_synthesizes_and_selects_stacks_by_name(tmp_path):
    """The one test that reads the user's cdk.json: the CLI as users run it, without activating the venv."""
    environ = cli_environment()
    venv_bin = str(Path(sys.executable).parent)
    environ["PATH"] = os.pathsep.join(p for p in environ["PATH"].split(os.pathsep) if p != venv_bin)
    if shutil.which("node", path=environ["PATH"]) is None:
        pytest.fail(
            "no node outside the virtualenv: the CDK CLI needs one on PATH (the README's prerequisites)"
        )
    app_name = json.loads((ROOT / "cdk.json").read_text())["context"].get("app_name", "webapp")
    out = tmp_path / "out"
    result = subprocess.run(
        [
            str(ROOT / "node_modules/.bin/cdk"),
            "synth",
            f"{app_name}-pipeline",
            "--json",
            "--no-lookups",
            "-o",
            str(out),
        ],
        cwd=ROOT,
        env=environ,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["Resources"], "the selected stack's template is printed"
    assert cdk_context()  # the project's cdk.json keeps CDK's keys
    listed = run_cdk("ls", "--app", str(out), cwd=tmp_path)
    assert f"{app_name}-pipeline" in listed.stdout.split()
