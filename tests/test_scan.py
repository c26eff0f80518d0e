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


def checkov(templates: list[Path]) -> list[dict]:
    """checkov's failed checks over the given templates, in one run (CloudFormation framework, no network):
    checkov's start is about half of a configuration's scan, so configurations share runs."""
    if not CHECKOV.exists():
        pytest.fail(f"{CHECKOV} is missing: run `make setup` (it installs requirements-scan.txt)")
    run = subprocess.run(
        [
            str(CHECKOV),
            *(f"--file={t}" for t in templates),
            "--framework",
            "cloudformation",
            *CHECKOV_OPTIONS,
        ],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    reports = json.loads(run.stdout) if run.stdout.strip() else []
    reports = reports if isinstance(reports, list) else [reports]
    assert run.returncode in (0, 1), run.stderr[-2000:]
    return [
        {
            "check": f["check_id"],
            "resource": f["resource"],
            "file": Path(f["file_path"]).name,
            "path": f["file_abs_path"],
        }
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


# Two shared runs, so that each of the two test workers can make one while the other tests go on.
GROUPS = 2


@pytest.fixture(scope="session")
def findings(synth_cache, tmp_path_factory):
    """Each configuration's checkov findings: one checkov run per group of configurations, made once per
    session (across workers), its findings told apart by their template's directory."""
    names = sorted(CONFIGURATIONS)

    def get(name: str) -> list[dict]:
        group = names.index(name) % GROUPS
        members = names[group::GROUPS]

        def build(target: Path) -> None:
            outdirs = {member: synth_cache(member).outdir.resolve() for member in members}
            found = checkov(
                [t for outdir in outdirs.values() for t in sorted(outdir.glob("*.template.json"))]
            )
            for member, outdir in outdirs.items():
                mine = [f for f in found if Path(f["path"]).resolve().parent == outdir]
                (target / f"{member}.json").write_text(json.dumps(mine))

        return json.loads(
            (built_once(tmp_path_factory, f"checkov-group-{group}", build) / f"{name}.json").read_text()
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
