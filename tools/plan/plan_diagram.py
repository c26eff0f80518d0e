"""Redraw the repository's release-plan diagram from the default configuration: ``make plan-diagram``.

    python tools/plan/plan_diagram.py [DIRECTORY]

Writes DIRECTORY/release-plan.mmd and DIRECTORY/release-plan.svg (default
``docs/``) from the app as it ships: the code's defaults with
``allow_plain_http`` on, as the shipped cdk.json sets them, whatever this
checkout's cdk.json configures (its CDK feature flags are kept). The app is
synthesized in a temporary directory, never into cdk.out.
tests/test_operator_tools.py compares docs/release-plan.* with the same
default synth. ``make plan`` draws the app you configured under cdk.out/.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

if __package__ in (None, ""):  # run as a script: make the repository root importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

import app as cdk_app
from constructs.settings.release_config import CDK_CONTEXT_KEYS
from tools.plan.release_plan import read_plan, render_mermaid, render_svg

ROOT = Path(__file__).resolve().parents[2]
# The settings the shipped cdk.json gives beyond the code's defaults (its other settings are the defaults).
SHIPPED_SETTINGS: dict[str, object] = {"allow_plain_http": True}


def cdk_keys(context: dict[str, object]) -> dict[str, object]:
    """CDK's own keys of a context (feature flags, the CLI's), as ``check_context_keys`` tells them apart."""
    return {
        key: value
        for key, value in context.items()
        if key.startswith("@") or ":" in key or key in CDK_CONTEXT_KEYS
    }


def default_context(cdk_json: Path = ROOT / "cdk.json") -> dict[str, object]:
    """cdk.json's CDK keys, never its app settings, plus :data:`SHIPPED_SETTINGS`."""
    return {**cdk_keys(json.loads(cdk_json.read_text())["context"]), **SHIPPED_SETTINGS}


def draw(directory: Path, cdk_json: Path = ROOT / "cdk.json") -> tuple[Path, Path]:
    """Synthesize the default app in a temporary directory and write its diagram and picture to ``directory``."""
    with tempfile.TemporaryDirectory(prefix="plan-diagram-") as outdir:
        app = cdk_app.create_app(context=default_context(cdk_json), outdir=outdir)
        cdk_app.build(app, cdk_app.read_config(app, environ={}))
        app.synth()
        plan = read_plan(outdir)
    directory.mkdir(parents=True, exist_ok=True)
    mermaid, svg = directory / "release-plan.mmd", directory / "release-plan.svg"
    mermaid.write_text(render_mermaid(plan))
    svg.write_text(render_svg(plan))
    return mermaid, svg


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("directory", nargs="?", type=Path, default=ROOT / "docs")
    args = parser.parse_args(argv)
    written = draw(args.directory)
    print(f"==> the default configuration's release plan drawn to {written[0]} and {written[1]}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
