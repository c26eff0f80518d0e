"""The settings table of docs/configuration.md, generated from the code's own list of settings.

    python tools/settings_reference.py            # print the table
    python tools/settings_reference.py --write    # rewrite it in docs/configuration.md (make settings-reference)

Each row is a setting of constructs/settings/settings_reference.py (key, default, meaning) and the field of
``ReleaseConfig`` that holds it (release_config.PYTHON_FIELDS), so neither can drift from the code.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from constructs.settings.release_config import PYTHON_FIELDS  # noqa: E402
from constructs.settings.settings_reference import SETTINGS  # noqa: E402

DOCS = ROOT / "docs" / "configuration.md"
START, END = "<!-- settings:start -->", "<!-- settings:end -->"


def table() -> str:
    """The Markdown table: one row per setting, in the order of the code's list."""
    rows = [
        "| Setting | Default | Python (`ReleaseConfig.`…) | Meaning |",
        "|---|---|---|---|",
    ]
    for setting in SETTINGS:
        field, _, kind = PYTHON_FIELDS[setting.key].partition(" ")
        python = f"`{field}`" + (f" {kind}" if kind else "")
        rows.append(f"| `{setting.key}` | {setting.default} | {python} | {setting.meaning} |")
    return "\n".join(rows) + "\n"


def documented(text: str) -> str:
    """The table as docs/configuration.md holds it, between its markers."""
    return text[text.index(START) + len(START) : text.index(END)].strip("\n") + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--write", action="store_true", help="rewrite the table in docs/configuration.md")
    args = parser.parse_args(argv)
    if not args.write:
        print(table(), end="")
        return 0
    text = DOCS.read_text()
    start, end = text.index(START) + len(START), text.index(END)
    DOCS.write_text(f"{text[:start]}\n{table()}{text[end:]}")
    print(f"settings table written to {DOCS.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
