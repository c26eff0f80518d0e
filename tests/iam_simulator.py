"""One running IAM simulator (iam-simulate on Node) per test worker, and how tests ask it."""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from pathlib import Path

from fakes.iam_client import ALLOWED, Caller, decide, service_simulation, simulation

SERVER = Path(__file__).resolve().parent / "iam" / "simulator_server.mjs"

__all__ = ["ALLOWED", "Caller", "IamSimulator"]


class IamSimulator:
    """A Node process answering authorization questions on a Unix socket; stops with the test session."""

    def __init__(self) -> None:
        self._directory = tempfile.mkdtemp(prefix="iam-")
        self.socket_path = str(Path(self._directory) / "simulator.sock")
        self._process = subprocess.Popen(
            [shutil.which("node") or "node", str(SERVER), self.socket_path],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        ready = self._process.stdout.readline().strip()
        if ready != "ready":
            raise RuntimeError(f"the IAM simulator did not start: {ready!r}")

    def decide(self, caller: Caller, action: str, resource: str, **options) -> str:
        """``Allowed``, ``ExplicitlyDenied`` or ``ImplicitlyDenied``; invalid requests raise."""
        return decide(self.socket_path, simulation(caller, action, resource, **options))

    def decide_service(self, service: str, action: str, resource: str, **options) -> str:
        """The decision on a request an AWS service principal makes (``sts:AssumeRole`` of a role it trusts)."""
        return decide(self.socket_path, service_simulation(service, action, resource, **options))

    def close(self) -> None:
        self._process.stdin.close()
        self._process.wait(timeout=10)
        shutil.rmtree(self._directory, ignore_errors=True)
