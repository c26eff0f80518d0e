"""The GitHub workflow: actionlint finds nothing, and it runs exactly the README's test command and plan."""

from __future__ import annotations

import json
import shutil
import subprocess

import yaml
from conftest import ROOT

WORKFLOWS = sorted((ROOT / ".github" / "workflows").glob("*.yml"))


def actionlint(*paths: str) -> list[dict]:
    run = subprocess.run(
        [shutil.which("node") or "node", str(ROOT / "tests" / "lint_workflows.cjs"), *paths],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    return json.loads(run.stdout)


def test_actionlint_finds_nothing_in_the_workflows():
    assert WORKFLOWS, "no workflow"
    assert actionlint(*map(str, WORKFLOWS)) == []


def test_actionlint_would_find_a_broken_workflow(tmp_path):
    broken = tmp_path / "broken.yml"
    broken.write_text(
        "on: push\njobs:\n  test:\n    runs-on: ubuntu-latest\n    steps:\n      - run: echo ${{ github.nope }}\n"
    )
    assert any("nope" in finding["message"] for finding in actionlint(str(broken)))


def test_the_workflow_runs_ci_run_on_pushes_and_pull_requests_with_caches():
    (workflow,) = (yaml.safe_load(path.read_text()) for path in WORKFLOWS if path.name == "ci.yml")
    triggers = workflow[True]  # YAML 1.1 reads the key `on` as true
    assert set(triggers) == {"push", "pull_request"}
    steps = workflow["jobs"]["test"]["steps"]
    assert [s["run"] for s in steps if "run" in s] == [".ci/run"]
    caches = {s["uses"].split("@")[0]: s["with"]["cache"] for s in steps if "cache" in s.get("with", {})}
    assert caches == {"actions/setup-python": "pip", "actions/setup-node": "npm"}
    assert (ROOT / ".ci" / "run").read_text().strip().endswith("exec make test")
    plan = workflow["jobs"]["plan"]
    assert plan["if"] == "github.event_name == 'pull_request'"
    assert "make plan" in " ".join(s.get("run", "") for s in plan["steps"])
    assert "GITHUB_STEP_SUMMARY" in " ".join(s.get("run", "") for s in plan["steps"])
    # Nothing of AWS: the plan and the tests run without credentials.
    text = json.dumps(workflow)
    assert "aws-actions" not in text
    assert "secrets." not in text
