"""The construct in another team's app: the example in docs/configuration.md, run in a bare app, synthesizes what ours does."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import ROOT, cdk_context, cli_environment
from template_queries import pipeline_stages

from constructs.settings.feature_flags import TESTED_FEATURE_FLAGS
from tools.cloud_assembly import stack_name


def readme_example() -> str:
    """The "another team" example, as docs/configuration.md shows it (so the test cannot drift from it)."""
    readme = (ROOT / "docs" / "configuration.md").read_text()
    after = readme[readme.index("Another team gets the same pipeline") :]
    return re.search(r"```python\n(.*?)```", after, re.DOTALL).group(1)


def run_example(workdir: Path, context: dict | None) -> subprocess.Popen:
    """The example as `python app.py` in ``workdir``: no cdk.json there; ``context`` as the CLI would pass it."""
    workdir.mkdir(parents=True)
    (workdir / "app.py").write_text(readme_example())
    environ = cli_environment() | {"PYTHONPATH": str(ROOT), "CDK_OUTDIR": str(workdir / "out")}
    environ["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{environ.get('PATH', '')}"
    if context is not None:
        environ["CDK_CONTEXT_JSON"] = json.dumps(context)
    return subprocess.Popen(
        [sys.executable, "app.py"], cwd=workdir, env=environ, stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )


def templates(outdir: Path) -> dict[str, dict]:
    manifest = json.loads((outdir / "manifest.json").read_text())
    return {
        stack_name(artifact_id, artifact): json.loads(
            (outdir / artifact["properties"]["templateFile"]).read_text()
        )
        for artifact_id, artifact in manifest["artifacts"].items()
        if artifact["type"] == "aws:cloudformation:stack"
    }


@pytest.fixture(scope="module")
def example(tmp_path_factory) -> dict[str, dict[str, dict]]:
    """The example's templates in a bare app (CDK's default flags) and in one with this project's cdk.json."""
    base = tmp_path_factory.mktemp("reuse")
    runs = {
        "bare": run_example(base / "bare", None),
        "project": run_example(base / "project", cdk_context()),
    }
    found = {}
    for name, process in runs.items():
        _, stderr = process.communicate(timeout=300)
        assert process.returncode == 0, stderr.decode()[-3000:]
        found[name] = templates(base / name / "out")
    return found


def test_the_construct_pins_exactly_the_flags_it_is_tested_with():
    assert {k: v for k, v in cdk_context().items() if k.startswith("@")} == TESTED_FEATURE_FLAGS


def test_the_readme_example_synthesizes_in_a_bare_app(example):
    bare = example["bare"]
    assert sorted(bare) == ["shop-ap-southeast-1", "shop-eu-west-2", "shop-pipeline", "shop-us-east-1"]
    stages = pipeline_stages(bare["shop-pipeline"])
    assert [s["Name"] for s in stages] == ["Source", "Build", "Deploy_to_Production"]
    actions = stages[-1]["Actions"]
    assert [a["Name"] for a in actions] == ["Deploy-eu-west-2", "Deploy-ap-southeast-1", "Deploy-us-east-1"]
    assert all(a["ActionTypeId"]["Provider"] == "CodeDeployToECS" for a in actions)
    assert [a.get("Region") for a in actions] == [None, "ap-southeast-1", "us-east-1"]
    for region in ("eu-west-2", "ap-southeast-1", "us-east-1"):
        (task_definition,) = (
            r["Properties"]
            for r in bare[f"shop-{region}"]["Resources"].values()
            if r["Type"] == "AWS::ECS::TaskDefinition"
        )
        (container,) = task_definition["ContainerDefinitions"]
        assert container["PortMappings"][0]["ContainerPort"] == 8080
        assert container["User"] == "10001"
        # The project's bootstrap image, built from its own directory wherever the app lives.
        assert "cdk-hnb659fds-container-assets-" in container["Image"]["Fn::Sub"]


def test_a_bare_app_gets_the_same_templates_as_this_projects_flags(example):
    """Whatever the app's own flags, the construct synthesizes what the suite tests (no flag leaks in)."""
    for stack, template in example["project"].items():
        assert example["bare"][stack]["Resources"] == template["Resources"], stack
        assert example["bare"][stack].get("Outputs") == template.get("Outputs"), stack
