"""`make deploy`: cdk deploy of every stack after tools/operate/cdk_commands.py's checks, keeping a halt.

    python tools/operate/deploy.py [cdk.out] [--require-approval never|any-change|broadening]

The checks and the deploy are cdk_commands.run's (what cannot change on a running region, the
service-linked roles, approval without a terminal); around the CDK CLI, tools/operate/halt.py's
``keep_halt`` disables again each stage transition the deploy enabled while the pipeline was halted.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

if __package__ in (None, ""):  # run as a script: make the repository root importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from tools.operate.cdk_commands import APPROVAL_LEVELS, one_line_errors, run
from tools.operate.halt import HALT_PERMISSIONS, keep_halt

# Every AWS call the command makes, as IAM actions (docs/operating.md lists them): the checks before the deploy
# (deployed templates, the live listener and rule, the service-linked roles), the halt kept around it, and the
# CDK CLI's assuming of the bootstrap roles it deploys through.
PERMISSIONS = tuple(
    sorted(
        {
            *HALT_PERMISSIONS,  # keep_halt reads the pipeline and disables again what a deploy enabled
            "cloudformation:DescribeStackResource",
            "cloudformation:GetTemplate",
            "elasticloadbalancing:DescribeListeners",
            "elasticloadbalancing:DescribeRules",
            "iam:GetRole",
            "sts:AssumeRole",
        }
    )
)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("assembly", nargs="?", default="cdk.out")
    parser.add_argument(
        "--require-approval",
        choices=APPROVAL_LEVELS,
        help="how cdk deploy approves security-related changes (default: cdk.json's, which asks a person)",
    )
    args = parser.parse_args(argv)
    return one_line_errors(
        lambda: run("deploy", args.assembly, approval=args.require_approval, around=keep_halt)
    )


if __name__ == "__main__":
    sys.exit(main())
