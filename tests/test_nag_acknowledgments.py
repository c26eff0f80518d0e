"""Every cdk-nag acknowledgment answers a real finding, on the narrowest construct, and docs/security.md lists them."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from conftest import CONFIGURATIONS, built_once, synthesize

from constructs import nag_acknowledgments

ROOT = Path(__file__).resolve().parent.parent
TABLE_START, TABLE_END = "<!-- acknowledgments:start -->", "<!-- acknowledgments:end -->"


class RecordingValidations:
    """Stands in for aws_cdk.Validations inside nag_acknowledgments: records, acknowledges nothing."""

    def __init__(self) -> None:
        self.recorded: list[tuple[str, str, str]] = []

    def of(self, construct):
        recorded = self.recorded

        class Scope:
            @staticmethod
            def acknowledge(*rules):
                recorded.extend((construct.node.path, rule.id, rule.reason) for rule in rules)

        return Scope()


# staged and hardened between them make every kind of acknowledgment the default makes, and more;
# database adds those of the database and the migration hook; ecs those of the ECS engine.
NAG_CONFIGURATIONS = ("staged", "hardened", "database", "ecs")


def synthesize_without_acknowledgments(target: Path, name: str) -> None:
    """Synthesize with acknowledgments recorded, not applied; keep them next to cdk-nag's report."""
    recorder = RecordingValidations()
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(nag_acknowledgments, "Validations", recorder)
        with pytest.raises(RuntimeError, match="ValidationFailed"):
            synthesize(target, CONFIGURATIONS[name])
    (target / "acknowledgments.json").write_text(json.dumps(recorder.recorded))


@pytest.fixture(scope="session")
def nag_runs(tmp_path_factory):
    """Per configuration: (acknowledgments the app makes, findings cdk-nag reports without them)."""
    runs = {}
    for name in NAG_CONFIGURATIONS:
        target = built_once(
            tmp_path_factory, f"nag-{name}", lambda t, name=name: synthesize_without_acknowledgments(t, name)
        )
        report = json.loads((target / "validation-report.json").read_text())
        findings = {
            (construct["constructPath"], violation["ruleName"])
            for plugin in report["pluginReports"]
            for violation in plugin["violations"]
            for construct in violation["violatingConstructs"]
        }
        recorded = [tuple(entry) for entry in json.loads((target / "acknowledgments.json").read_text())]
        runs[name] = (recorded, findings)
    return runs


@pytest.fixture(params=sorted(NAG_CONFIGURATIONS))
def unacknowledged(request, nag_runs):
    return nag_runs[request.param]


def covers(acknowledged_path: str, finding_path: str) -> bool:
    return finding_path == acknowledged_path or finding_path.startswith(acknowledged_path + "/")


def test_without_acknowledgments_cdk_nag_fails_synth(unacknowledged):
    _, findings = unacknowledged
    assert findings


def test_every_finding_is_acknowledged_and_every_acknowledgment_answers_a_finding(unacknowledged):
    recorded, findings = unacknowledged
    unanswered = [f for f in findings if not any(r == f[1] and covers(p, f[0]) for p, r, _ in recorded)]
    assert unanswered == []
    unused = [
        (p, r) for p, r, _ in recorded if not any(r == rule and covers(p, path) for path, rule in findings)
    ]
    assert unused == []


def test_acknowledgments_are_on_resources_not_stacks(unacknowledged):
    recorded, _ = unacknowledged
    for path, rule, reason in recorded:
        # Stacks sit at the app's root: a path without "/" is a stack (or the app).
        assert path.count("/") >= 1, f"{rule} acknowledged on {path}, a stack or the app"
        assert len(reason) > 40, rule


def readme_rows(recorded) -> set[tuple[str, str, str]]:
    """(rule, construct, reason) with regions, accounts and generated names written as placeholders."""

    def general(text: str) -> str:
        text = re.sub(
            r"arn:aws:s3:::[a-z0-9.-]+/\*", "arn:aws:s3:::<artifact bucket of another region>/*", text
        )
        text = re.sub(
            r"task-definition/[A-Za-z0-9]+(-migration)?:", r"task-definition/<generated family>\1:", text
        )
        text = re.sub(r"\b[a-z]{2}(-[a-z]+)+-\d\b", "<region>", text)
        return text.replace("111111111111", "<account>")

    rows = set()
    for path, rule, reason in recorded:
        stack, _, rest = path.partition("/")
        stack = "<app>-pipeline" if stack.endswith("-pipeline") else "<app>-<region>"
        construct = f"{stack}/{rest}"
        rows.add((general(rule), general(construct), general(reason)))
    return rows


def test_readme_lists_exactly_the_acknowledgments(nag_runs):
    expected = set().union(*(readme_rows(recorded) for recorded, _ in nag_runs.values()))
    text = (ROOT / "docs" / "security.md").read_text()
    table = text[text.index(TABLE_START) + len(TABLE_START) : text.index(TABLE_END)]
    listed = {
        tuple(cell.strip().strip("`") for cell in line.strip().strip("|").split(" | "))
        for line in table.strip().splitlines()[2:]
    }
    as_rows = "\n".join
    missing, stale = sorted(expected - listed), sorted(listed - expected)
    assert missing == [], "docs/security.md lacks:\n" + as_rows(
        f"| `{r}` | `{c}` | {why} |" for r, c, why in missing
    )
    assert stale == [], "docs/security.md lists acknowledgments the app does not make:\n" + as_rows(
        map(str, stale)
    )
