"""Every sample of a command's output in the docs is what that command prints today (tests/doc_samples.py).

Each marker ``<!-- output: NAME -->`` names one of SAMPLES. A ``make`` sample runs the commands ``make -n
--trace`` lists for the target (set-up left out: it installs), as make runs them, in a copy of the project
whose ``cdk.out`` is one of the session's synthesized configurations; the CDK CLI's own lines come from the
session's CLI synth. A sample on stubbed AWS runs the scenario of the command's own tests. What is normalised
(and only that): the machine's directories become ``<project>``, and spaces at line ends go.

``make doc-samples`` (DOC_SAMPLES_UPDATE=1) rewrites the blocks with what the commands print.
"""

from __future__ import annotations

import contextlib
import io
import os
import re
import shlex
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest
from aws_world import World
from conftest import ROOT, for_account, without_credentials
from doc_samples import blocks, normalised, pages, rewrite, samples
from test_destroy import destroy_the_default_app
from test_preflight import REAL_ACCOUNT, Account, Usage, stub_account
from test_release import Scenario, codedeploy_release
from test_rollback import roll_back_every_region
from test_status import default_app_status

from tools.cloud_assembly import CloudAssembly
from tools.operate import preflight
from tools.operate.app_needs import app_needs
from tools.operate.release import PERMISSIONS as RELEASE_PERMISSIONS

UPDATE = os.environ.get("DOC_SAMPLES_UPDATE") == "1"
PROJECT = "<project>"
# The only CDK CLI command a make recipe may run here: the one the session's CLI synth runs.
CLI_SYNTH = ["node_modules/.bin/cdk", "synth", "--no-lookups", "--quiet"]
ASSIGNMENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*=")
TRACE = re.compile(r"^(?P<makefile>[^:\s]+):(?P<line>\d+): update target '(?P<target>[^']+)'")


@dataclass(frozen=True)
class Run:
    """What ``make TARGET`` printed (stdout and stderr as on a terminal), and the project it ran in."""

    output: str
    project: Path


def recipe(target: str) -> list[tuple[str, int, str]]:
    """(``makefile:target``, line, command) for each command ``make TARGET`` runs after set-up, in order."""
    # Not the flags of a make that runs these tests (make test): this make only lists.
    environ = {k: v for k, v in os.environ.items() if k not in ("MAKEFLAGS", "MFLAGS", "MAKELEVEL")}
    listed = subprocess.run(
        ["make", "--no-print-directory", "-n", "--trace", "-o", "setup", target],
        cwd=ROOT,
        env=environ,
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    ).stdout
    commands, current, line = [], "", 0
    for text in listed.splitlines():
        traced = TRACE.match(text)
        if traced:
            current, line = f"{traced['makefile']}:{traced['target']}", int(traced["line"])
            continue
        commands.append((current, line, text))
        line += 1
    return commands


def project_copy(directory: Path, assembly: Path) -> Path:
    """A project in ``directory``: the checkout's files (linked), its own docs/ and a cdk.out like ``assembly``."""
    directory.mkdir(parents=True)
    for entry in ROOT.iterdir():
        if entry.name not in ("cdk.out", "docs", ".git"):
            (directory / entry.name).symlink_to(entry)
    (directory / "docs").mkdir()
    out = directory / "cdk.out"
    out.mkdir()
    for entry in assembly.iterdir():  # the files copied (a command may write there), asset folders linked
        if entry.is_file():
            (out / entry.name).write_bytes(entry.read_bytes())
        else:
            (out / entry.name).symlink_to(entry)
    return directory


def run_make(target: str, directory: Path, assembly: Path, synth: subprocess.CompletedProcess | None) -> Run:
    """Run ``make TARGET``'s commands the way make does, offline and without AWS credentials.

    ``synth``: what the CDK CLI printed for the recipe's ``cdk synth`` (None: leave its lines out).
    """
    project = project_copy(directory, assembly)
    environ = {
        **without_credentials(directory.parent),
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}",
        "PYTHONUNBUFFERED": "1",  # as on a terminal: a tool's lines in the order it printed them
    }
    printed = []
    for owner, line, command in recipe(target):
        words = shlex.split(command)
        # The recipe names make's command-line variables to the app first (VARIABLE=... before the CLI).
        while words and ASSIGNMENT.match(words[0]):
            words.pop(0)
        if words[:1] == CLI_SYNTH[:1]:
            assert words == CLI_SYNTH, f"the synth recipe changed: {command}"
            code = synth.returncode if synth else 0
            printed.append(synth.stderr + synth.stdout if synth else "")
        else:
            done = subprocess.run(
                ["bash", "-eu", "-o", "pipefail", "-c", command],
                cwd=project,
                env=environ,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                text=True,
                timeout=120,
                check=False,
            )
            code = done.returncode
            printed.append(done.stdout)
        if code:
            makefile, target_name = owner.split(":")
            printed.append(f"make: *** [{makefile}:{line}: {target_name}] Error {code}\n")
            break
    return Run("".join(printed), project)


def make_run(tmp_path: Path, target: str, assembly: Path, synth=None) -> Run:
    return run_make(target, tmp_path / "project", assembly, synth)


def section(text: str, first: str, *, more: str) -> str:
    """The lines of ``text`` from the one starting with ``first`` through the entries of the first heading
    under it, then ``more`` (the sample's own elision line)."""
    lines = text.splitlines()
    start = next(n for n, line in enumerate(lines) if line.startswith(first))
    entry = start + 2  # the first entry's heading
    end = next((n for n in range(entry, len(lines)) if not lines[n].startswith("    ")), len(lines))
    return "\n".join([*lines[start:end], more]) + "\n"


# --- the samples -------------------------------------------------------------------------------------


@dataclass
class Sources:
    """The session's synthesized configurations, and a directory for this sample."""

    synth_cache: Callable
    cli_synth: Callable
    tmp_path: Path

    def cli_default(self) -> tuple[subprocess.CompletedProcess, Path]:
        """The default app through the real CLI (`make synth`'s command), as the session synthesized it."""
        return self.cli_synth()

    def paths(self) -> dict[Path, str]:
        """The machine's directories a command may print: the project copy make_run makes, the checkout."""
        return {self.tmp_path / "project": PROJECT, ROOT: PROJECT}


def default_make(target: str):
    def produce(sources: Sources) -> str:
        result, out = sources.cli_default()
        assert result.returncode == 0, result.stderr
        run = make_run(sources.tmp_path, target, out, result)
        # The CLI wrote its assembly elsewhere; make's synth writes <project>/cdk.out.
        return normalised(run.output, {out: f"{PROJECT}/cdk.out", **sources.paths()})

    return produce


def plan_diagram(sources: Sources) -> str:
    result, out = sources.cli_default()
    run = make_run(sources.tmp_path, "plan", out, result)
    (diagram,) = [p for p in run.project.rglob("*.mmd") if not p.is_symlink()]
    return normalised(diagram.read_text(), sources.paths())


def database_data_stores(sources: Sources) -> str:
    run = make_run(sources.tmp_path, "plan", sources.synth_cache("database").outdir)
    return normalised(section(run.output, "Data stores", more="  ..."), sources.paths())


def staged_plan(sources: Sources) -> str:
    """The staged configuration's stages (a deployment window on Singapore's wave) and its release time."""
    run = make_run(sources.tmp_path, "plan", sources.synth_cache("staged").outdir)
    lines = run.output.splitlines()
    shown = []
    for first in ("Stages:", "Release time"):
        start = next(n for n, line in enumerate(lines) if line.startswith(first))
        end = next(n for n in range(start, len(lines)) if not lines[n].strip())
        shown += [*lines[start:end], "..."]
    return normalised("\n".join(shown) + "\n", sources.paths())


# The stubbed account of docs/preflight.md: ECS's service-linked role missing, ap-southeast-1 not
# bootstrapped, CodeBuild's quota 0, some of London's room in use, Docker answering.
PREFLIGHT_ACCOUNT = Account(
    missing_roles=("AWSServiceRoleForECS",),
    bootstrap={"ap-southeast-1": None},
    codebuild_small=0,
    usage={"eu-west-2": Usage(vpcs=3, elastic_ips=2, fargate_tasks=((1024, "FARGATE"), (1024, "FARGATE")))},
)


def stubbed_preflight(sources: Sources) -> str:
    outdir = for_account(sources.synth_cache("default").outdir, sources.tmp_path / "account", REAL_ACCOUNT)
    fake = stub_account(app_needs(CloudAssembly.read(outdir)), PREFLIGHT_ACCOUNT)

    def docker(command, **_):
        return subprocess.CompletedProcess(command, 0, "27.3.1\n", "")

    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        code = preflight.run(
            str(outdir), clients=fake, credentials=True, docker=lambda: preflight.docker_row(docker)
        )
    fake.assert_all_answered()
    assert code == 1
    return normalised(printed.getvalue(), sources.paths())


def stubbed_release(sources: Sources) -> str:
    scenario = Scenario(sources.synth_cache("default"), World(RELEASE_PERMISSIONS))
    codedeploy_release(scenario)
    code, said = scenario.release()
    assert code == 0
    return normalised("\n".join(said), sources.paths())


def stubbed_rollback(sources: Sources) -> str:
    _, code, said = roll_back_every_region(sources.synth_cache("default"))
    assert code == 0
    return normalised("\n".join(said), sources.paths())


def stubbed_status(sources: Sources) -> str:
    code, said, _ = default_app_status(sources.synth_cache("default"))
    assert code == 0
    return normalised("\n".join(said), sources.paths())


def stubbed_destroy_kept(sources: Sources) -> str:
    code, said, _ = destroy_the_default_app(sources.synth_cache("default"))
    assert code == 0
    kept = said[next(n for n, line in enumerate(said) if line.startswith("==> kept")) :]
    entries = [kept[n : n + 2] for n in range(1, len(kept), 2)]  # each: what is kept, the command deleting it
    shown = [next(entry for entry in entries if kind in entry[0]) for kind in (" repository ", "versioned")]
    return normalised("\n".join([kept[0], *shown[0], *shown[1], "    ..."]), sources.paths())


SAMPLES: dict[str, Callable[[Sources], str]] = {
    "make plan": default_make("plan"),
    "make plan: the Mermaid file it writes": plan_diagram,
    "make bootstrap, placeholder account": default_make("bootstrap"),
    "make plan, database configuration: data stores": database_data_stores,
    "make plan, staged configuration: stages and release time": staged_plan,
    "make preflight, stubbed account": stubbed_preflight,
    "make release, stubbed AWS": stubbed_release,
    "make status, stubbed AWS": stubbed_status,
    "make rollback, stubbed AWS": stubbed_rollback,
    "make destroy, stubbed AWS: kept": stubbed_destroy_kept,
}


# --- the tests ---------------------------------------------------------------------------------------


def test_every_block_that_looks_like_output_says_what_it_is():
    """A new sample cannot slip in unchecked: plain blocks and blocks with `==>` lines carry a marker."""
    unmarked = [b.where for path in pages() for b in blocks(path) if b.looks_like_output and not b.marker]
    assert unmarked == [], "mark each as <!-- output: NAME --> (one of SAMPLES) or <!-- not output: WHAT -->"


def test_every_marker_names_a_sample_and_every_sample_is_shown():
    named = {b.marker[1] for b in samples()}
    assert sorted(named - SAMPLES.keys()) == []
    assert sorted(SAMPLES.keys() - named) == []


@pytest.mark.parametrize("name", sorted(SAMPLES))
def test_the_sample_is_what_the_command_prints_today(name, synth_cache, cli_synth, tmp_path):
    printed = SAMPLES[name](Sources(synth_cache, cli_synth, tmp_path))
    if UPDATE:
        rewrite(name, printed)
        return
    shown = [b for b in samples() if b.marker == ("output", name)]
    assert shown
    for block in shown:
        assert block.body == printed, (
            f"{block.where} is not what '{name}' prints today; run make doc-samples and read the diff"
        )


def test_the_plan_sample_counts_the_resources_cdk_out_holds(default_synth):
    """The make plan sample's resource counts are the synthesized templates' own, checked apart from the run
    (a sample saying 25 resources where the pipeline stack has 26 fails here too)."""
    (block,) = [b for b in samples() if b.marker == ("output", "make plan")]
    counts = {name: len(t["Resources"]) for name, t in default_synth.templates.items()}
    shown = dict(re.findall(r"^    (\S+)\s+\d{12}/\S+\s+(\d+) resources$", block.body, flags=re.M))
    assert {name: int(n) for name, n in shown.items()} == counts


def test_normalising_replaces_only_the_machines_directories():
    text = "Successfully synthesized to /home/me/project/cdk.out  \nkept /tmp/x as is\n"
    assert normalised(text, {Path("/home/me/project"): PROJECT}) == (
        "Successfully synthesized to <project>/cdk.out\nkept /tmp/x as is\n"
    )


def test_rewriting_replaces_the_marked_block_alone(tmp_path, monkeypatch):
    import doc_samples

    page = tmp_path / "page.md"
    page.write_text(
        "intro\n<!-- output: a -->\n```text\nold\n```\n\n<!-- not output: a list -->\n```text\nkeep\n```\n"
    )
    monkeypatch.setattr(doc_samples, "pages", lambda: [page])
    monkeypatch.setattr(doc_samples, "ROOT", tmp_path)
    assert rewrite("a", "new\nlines\n") == ["page.md:3"]
    assert page.read_text() == (
        "intro\n<!-- output: a -->\n```text\nnew\nlines\n```\n\n<!-- not output: a list -->\n```text\nkeep\n```\n"
    )
    assert rewrite("a", "new\nlines\n") == []


def test_make_doc_samples_rewrites_through_this_file():
    makefile = (ROOT / "Makefile").read_text()
    (recipe_line,) = re.findall(r"^doc-samples:.*\n\t(.+)$", makefile, flags=re.M)
    assert "DOC_SAMPLES_UPDATE=1" in recipe_line
    assert "tests/test_doc_outputs.py" in recipe_line


def test_the_recipe_reader_knows_each_commands_target_and_line():
    """make's error line names the recipe line that failed: the reader must map each command to it."""
    commands = recipe("bootstrap")
    makefile = (ROOT / "Makefile").read_text().splitlines()
    target, line, command = commands[-1]
    assert (target, command) == (
        "Makefile:bootstrap",
        ".venv/bin/python tools/operate/cdk_commands.py bootstrap cdk.out",
    )
    assert makefile[line - 1] == "\t@$(PYTHON) tools/operate/cdk_commands.py bootstrap cdk.out"
    assert makefile[line - 2].startswith("bootstrap: ")
    synth = [(t, n) for t, n, _ in commands if t == "Makefile:synth"]
    assert [makefile[n - 1].startswith("\t") for _, n in synth] == [True] * len(synth)
    assert makefile[synth[0][1] - 2].startswith("synth: ")
