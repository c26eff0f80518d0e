"""What the post-deploy hooks that watch a release share: starting make release, and waiting while it runs."""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

ROOT = Path(__file__).resolve().parents[2]
Found = TypeVar("Found")


def start_release(directory: str, *options: str) -> subprocess.Popen:
    """``make release`` (tools/operate/release.py) of the assembly in ``directory``, its output kept."""
    return subprocess.Popen(
        [sys.executable, str(ROOT / "tools/operate/release.py"), directory, *options],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


def await_during(
    release: subprocess.Popen, probe: Callable[[], Found | None], *, seconds: float, poll: float, missing: str
) -> Found | None:
    """What ``probe`` finds, asked every ``poll`` seconds while the release runs; None (saying ``missing`` after
    the release's output) when the release ends or ``seconds`` pass first."""
    deadline = time.monotonic() + seconds
    while True:
        if release.poll() is not None or time.monotonic() > deadline:
            print(release.communicate()[0])
            print(f"!!! {missing}")
            return None
        time.sleep(poll)
        found = probe()
        if found is not None:
            return found
