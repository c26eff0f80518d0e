"""The README is the door and the docs are the house: the site builds, and every link in both resolves."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import tomllib

import pytest
import yaml
from conftest import ROOT

DOCS = ROOT / "docs"
# The door: what the project is, the flow, prerequisites, an example configuration, the first release, links.
README_MAX_LINES = 250
# No network while the site builds: any request a theme or plugin makes goes to a closed port and fails.
OFFLINE = {"HTTP_PROXY": "http://127.0.0.1:9", "HTTPS_PROXY": "http://127.0.0.1:9", "NO_PROXY": ""}
# What loads a resource into a page (a plain link to another site is fine).
LOADS = re.compile(r"<(?:link|script|img|iframe|source)\b[^>]*\b(?:href|src)=\"(?:https?:)?//", re.IGNORECASE)


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    """The site, built strictly and offline; mkdocs.yml validates every link and anchor."""
    target = tmp_path_factory.mktemp("site")
    environ = {**os.environ, **OFFLINE, "NO_MKDOCS_2_WARNING": "1"}
    for key in ("http_proxy", "https_proxy", "no_proxy"):
        environ.pop(key, None)
    result = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(target)],
        cwd=ROOT,
        env=environ,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    return target


def test_the_site_builds_strictly_every_link_and_anchor_resolving(site):
    assert sorted(p.parent.name for p in site.glob("*/index.html")) == sorted(
        p.stem for p in DOCS.glob("*.md") if p.stem != "index"
    )


def test_the_site_uses_material_with_search_navigation_and_code_copy_and_loads_nothing_from_elsewhere(site):
    config = yaml.safe_load((ROOT / "mkdocs.yml").read_text())
    theme = config["theme"]
    assert theme["name"] == "material"
    assert theme["font"] is False  # no Google Fonts, at build time or in the reader's browser
    assert {"content.code.copy", "navigation.sections", "search.suggest"} <= set(theme["features"])
    assert config["plugins"] == ["search"]  # bundled with the theme, and needs no network
    assert (site / "search" / "search_index.json").exists()
    pages = sorted(site.rglob("*.html"))
    assert [str(p.relative_to(site)) for p in pages if LOADS.search(p.read_text())] == []
    assert not any("fonts.googleapis.com" in p.read_text() for p in pages)


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


# --- CHANGELOG.md: Keep a Changelog, with the project's version ---------------------------------------

CHANGE_TYPES = ("Added", "Changed", "Deprecated", "Removed", "Fixed", "Security")


def test_the_changelog_keeps_a_changelog_with_the_projects_version():
    changelog = (ROOT / "CHANGELOG.md").read_text()
    version = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["version"]
    assert changelog.startswith("# Changelog\n")
    assert "[Keep a Changelog](https://keepachangelog.com/" in changelog
    releases = re.findall(r"^## (.+)$", changelog, flags=re.M)
    assert releases[0] == "[Unreleased]"
    assert all(re.fullmatch(r"\[\d+\.\d+\.\d+\] - \d{4}-\d{2}-\d{2}", r) for r in releases[1:]), releases
    assert releases[1].startswith(f"[{version}] - ")  # the newest version is the one pyproject.toml declares
    dates = [r.split(" - ")[1] for r in releases[1:]]
    assert dates == sorted(dates, reverse=True)  # newest first
    assert set(re.findall(r"^### (.+)$", changelog, flags=re.M)) <= set(CHANGE_TYPES)
