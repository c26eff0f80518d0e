"""The samples of command output in README.md and docs/*.md: where they are, how to compare and rewrite them.

A sample is the fenced block right below a marker naming what printed it::

    <!-- output: make plan -->
    ```text
    ==> cdk synth (offline, no lookups) into cdk.out
    ...
    ```

tests/test_doc_outputs.py produces each named sample offline and fails when the block is not what the
command prints today; ``make doc-samples`` (DOC_SAMPLES_UPDATE=1) rewrites the blocks instead. A block
that looks like output (no language, ``text`` or ``output``, or a ``==>`` line) but is something else, such
as a listing of files, says so: ``<!-- not output: what it is -->``.
"""

from __future__ import annotations

import fcntl
import hashlib
import re
import tempfile
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
MARKER = re.compile(r"^<!-- (?P<kind>output|not output): (?P<name>.+?) -->$")
FENCE = re.compile(r"^(?P<indent>[ \t]*)(?P<fence>`{3,})(?P<info>[^`]*)$")
PLAIN = ("", "text", "output")


@dataclass(frozen=True)
class Block:
    """One fenced block of a page: where it is, its language, its text, and the marker line above it."""

    path: Path
    line: int  # 1-based line of the opening fence
    indent: str
    info: str
    body: str
    marker: tuple[str, str] | None  # (kind, name) of the line right above the fence

    @property
    def where(self) -> str:
        return f"{self.path.relative_to(ROOT)}:{self.line}"

    @property
    def looks_like_output(self) -> bool:
        return self.info in PLAIN or any(line.startswith("==>") for line in self.body.splitlines())


def pages() -> list[Path]:
    """The README and every page of the site."""
    return [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]


def blocks(path: Path, text: str | None = None) -> list[Block]:
    """Every fenced block of ``path`` (or of ``text``, read from it)."""
    lines = (path.read_text() if text is None else text).splitlines()
    found, index = [], 0
    while index < len(lines):
        opening = FENCE.match(lines[index])
        if not opening:
            index += 1
            continue
        indent, fence = opening["indent"], opening["fence"]
        end = next(
            n
            for n in range(index + 1, len(lines))
            if lines[n].strip() == fence and lines[n].startswith(indent)
        )
        above = MARKER.match(lines[index - 1]) if index else None
        body = "\n".join(line.removeprefix(indent) for line in lines[index + 1 : end])
        found.append(
            Block(
                path,
                index + 1,
                indent,
                opening["info"].strip(),
                body + "\n" if end > index + 1 else "",
                (above["kind"], above["name"]) if above else None,
            )
        )
        index = end + 1
    return found


def samples() -> list[Block]:
    """Every block marked as a command's output, on every page."""
    return [b for path in pages() for b in blocks(path) if b.marker and b.marker[0] == "output"]


def normalised(text: str, paths: dict[Path, str]) -> str:
    """``text`` with each of ``paths`` (machine-specific directories) replaced by its placeholder.

    Also without spaces at line ends (editors strip them from the pages) and with one final newline.
    """
    for path, placeholder in sorted(paths.items(), key=lambda item: -len(str(item[0]))):
        text = text.replace(str(path), placeholder)
    return "\n".join(line.rstrip() for line in text.strip("\n").splitlines()) + "\n"


def rewrite(name: str, body: str) -> list[str]:
    """Replace every block marked ``output: name`` with ``body``; the places rewritten."""
    lock = (
        Path(tempfile.gettempdir())
        / f"doc-samples-{hashlib.sha256(str(ROOT).encode()).hexdigest()[:12]}.lock"
    )
    changed = []
    with lock.open("w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)  # pytest-xdist workers rewrite blocks of the same page at once
        for path in pages():
            text = path.read_text()
            lines = text.splitlines()
            stale = [b for b in blocks(path, text) if b.marker == ("output", name) and b.body != body]
            for block in reversed(stale):
                start, length = block.line, len(block.body.splitlines())
                lines[start : start + length] = [
                    f"{block.indent}{line}" if line else "" for line in body.splitlines()
                ]
                changed.append(block.where)
            if stale:
                path.write_text("\n".join(lines) + "\n")
    return changed
