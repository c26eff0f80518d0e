"""Print the stacks of a synthesized cloud assembly in deploy order: name, account/region, resource count."""

from __future__ import annotations

import sys
from pathlib import Path

if __package__ in (None, ""):  # run as a script: make the repository root importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from tools.cloud_assembly import AssemblyError, CloudAssembly


def main(assembly_dir: str = "cdk.out") -> int:
    try:
        assembly = CloudAssembly.read(assembly_dir)
    except AssemblyError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    print(f"==> {len(assembly.stacks)} stacks in {assembly.directory}:")
    for stack in assembly.deploy_order():
        environment = f"{stack.account}/{stack.region}"
        print(f"    {stack.name:<40} {environment:<28} {len(stack.resources)} resources")
    return 0


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:]))
