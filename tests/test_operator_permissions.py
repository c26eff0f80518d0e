"""The operator commands' IAM actions: real action names, and the README lists exactly those."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from tools import destroy, release, status

ROOT = Path(__file__).resolve().parent.parent
IAM_DATA = ROOT / "node_modules" / "@cloud-copilot" / "iam-data" / "data" / "actions"
COMMANDS = {"make release": release, "make status": status, "make destroy": destroy}


@pytest.mark.parametrize("command", COMMANDS)
def test_every_permission_is_an_iam_action_and_needs_no_other(command):
    for permission in COMMANDS[command].PERMISSIONS:
        prefix, name = permission.split(":")
        actions = json.loads((IAM_DATA / f"{prefix}.json").read_text())
        action = actions.get(name.lower())
        assert action is not None, (
            f"{permission} is not an action of {prefix} in the Service Authorization Reference"
        )
        assert action["name"] == name, permission
        # An action that needs another one to succeed would need that one listed too.
        dependent = {d for r in action["resourceTypes"] for d in r["dependentActions"]} | set(
            action["dependentActions"]
        )
        assert dependent <= set(COMMANDS[command].PERMISSIONS), (permission, dependent)


def test_the_readme_lists_each_commands_permissions():
    readme = (ROOT / "README.md").read_text()
    for command, module in COMMANDS.items():
        (row,) = re.findall(rf"^\| `{command}` \| (`[a-z0-9-]+:\w+`.*) \|$", readme, flags=re.MULTILINE)
        assert re.findall(r"`([^`]+)`", row) == list(module.PERMISSIONS), command
