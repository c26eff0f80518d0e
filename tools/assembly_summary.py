"""Print the stacks of a synthesized cloud assembly: name, account/region, resource count."""

from __future__ import annotations

import json
import sys
from pathlib import Path


def main(assembly_dir: str = "cdk.out") -> int:
    root = Path(assembly_dir)
    manifest = json.loads((root / "manifest.json").read_text())
    stacks = [a for a in manifest["artifacts"].values() if a["type"] == "aws:cloudformation:stack"]
    print(f"==> {len(stacks)} stacks in {root}:")
    for artifact in stacks:
        template = json.loads((root / artifact["properties"]["templateFile"]).read_text())
        environment = artifact["environment"].removeprefix("aws://")
        name = artifact["properties"]["stackName"]
        resources = len(template["Resources"])
        print(f"    {name:<40} {environment:<28} {resources} resources")
    return 0


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:]))
