"""checkov over every template of the test configurations: nothing but the reasoned skips in checkov-skips.yaml."""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path

import pytest
import yaml
from conftest import CONFIGURATIONS, ROOT, built_once

CHECKOV = ROOT / ".venv-scan" / "bin" / "checkov"
# JSON of the failed checks only; --skip-download: no guidelines from Prisma Cloud (offline).
CHECKOV_OPTIONS = ("--output", "json", "--quiet", "--compact", "--skip-download")
SKIPS = yaml.safe_load((ROOT / "checkov-skips.yaml").read_text())


def checkov(outdir: Path) -> list[dict]:
    """checkov's failed checks over one cloud assembly (CloudFormation framework, no network)."""
    if not CHECKOV.exists():
        pytest.fail(f"{CHECKOV} is missing: run `make setup` (it installs requirements-scan.txt)")
    run = subprocess.run(
        [str(CHECKOV), "-d", str(outdir), "--framework", "cloudformation", *CHECKOV_OPTIONS],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    reports = json.loads(run.stdout) if run.stdout.strip() else []
    reports = reports if isinstance(reports, list) else [reports]
    assert run.returncode in (0, 1), run.stderr[-2000:]
    return [
        {"check": f["check_id"], "resource": f["resource"], "file": Path(f["file_path"]).name}
        for report in reports
        for f in report["results"]["failed_checks"]
    ]


def skip_for(finding: dict) -> dict | None:
    return next(
        (
            s
            for s in SKIPS
            if s["check"] == finding["check"] and re.search(s["resources"], finding["resource"])
        ),
        None,
    )


@pytest.fixture(scope="session")
def findings(synth_cache, tmp_path_factory):
    """Each configuration's checkov findings, scanned once per session (across workers)."""

    def get(name: str) -> list[dict]:
        outdir = synth_cache(name).outdir

        def build(target: Path) -> None:
            (target / "findings.json").write_text(json.dumps(checkov(outdir)))

        return json.loads(
            (built_once(tmp_path_factory, f"checkov-{name}", build) / "findings.json").read_text()
        )

    return get


@pytest.mark.parametrize("name", sorted(CONFIGURATIONS))
def test_checkov_finds_nothing_but_the_reasoned_skips(findings, name):
    unexpected = [
        f"{f['check']} {f['resource']} ({f['file']})" for f in findings(name) if skip_for(f) is None
    ]
    assert unexpected == [], "fix these, or add a reasoned entry to checkov-skips.yaml"


def test_every_skip_has_a_reason_and_still_matches_a_finding(findings):
    used = {id(skip_for(f)) for name in CONFIGURATIONS for f in findings(name)}
    for skip in SKIPS:
        assert set(skip) == {"check", "resources", "reason"}, skip
        assert re.fullmatch(r"CKV_AWS_\d+", skip["check"])
        assert len(skip["reason"]) > 40, f"{skip['check']}: say why"
        assert id(skip) in used, f"{skip['check']} {skip['resources']} matches no finding any more: remove it"
