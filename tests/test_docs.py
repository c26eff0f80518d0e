"""The README is the door and the docs are the house: the site builds, and every link in both resolves."""

from __future__ import annotations

import re
import subprocess
import sys

from conftest import ROOT

DOCS = ROOT / "docs"
# What the README holds: what the project is, prerequisites, the quick start, links, license.
README_MAX_LINES = 100


def test_the_site_builds_strictly_every_link_and_anchor_resolving(tmp_path):
    """mkdocs.yml is strict and validates links and anchors: any warning fails the build."""
    result = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(tmp_path / "site")],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr


def test_every_page_is_in_the_navigation():
    nav = (ROOT / "mkdocs.yml").read_text()
    pages = sorted(p.name for p in DOCS.glob("*.md"))
    assert [page for page in pages if f": {page}" not in nav] == []


def anchors(markdown: str) -> set[str]:
    """The anchors MkDocs gives the headings of ``markdown`` (Python-Markdown's toc slugify)."""
    return {
        re.sub(r"[\s-]+", "-", re.sub(r"[^\w\s-]", "", heading.lower()).strip())
        for heading in re.findall(r"^#+ (.+)$", markdown, flags=re.MULTILINE)
    }


def test_the_readme_is_a_door_whose_links_all_open():
    readme = (ROOT / "README.md").read_text()
    assert len(readme.splitlines()) <= README_MAX_LINES
    links = re.findall(r"\]\(([^)#]+)(?:#([^)]+))?\)", readme)
    assert links
    for path, anchor in links:
        target = ROOT / path
        assert target.exists(), path
        if anchor:
            assert anchor in anchors(target.read_text()), f"{path}#{anchor}"
    # Every page of the site is one link away.
    linked = {path for path, _ in links}
    assert [
        p.name for p in DOCS.glob("*.md") if p.name != "index.md" and f"docs/{p.name}" not in linked
    ] == []
