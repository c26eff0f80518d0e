"""Bootstrap, diff and deploy every environment of the synthesized app with the project's CDK CLI.

    python tools/operate.py bootstrap|diff|deploy [cdk.out]

Each command first prints the exact CDK command it runs. It refuses, with one
line saying what to do, when the account is still the placeholder or no AWS
credentials are configured.
"""

from __future__ import annotations

import argparse
import shlex
import subprocess
import sys
from pathlib import Path

if __package__ in (None, ""):  # run as a script: make the repository root importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from constructs.release_config import PLACEHOLDER_ACCOUNT
from tools.cloud_assembly import AssemblyError, CloudAssembly

ROOT = Path(__file__).resolve().parent.parent
CDK = ROOT / "node_modules" / ".bin" / "cdk"


class OperatorError(RuntimeError):
    """The command cannot run; the message is one line saying what to do next."""


def has_credentials() -> bool:
    """Whether botocore finds credentials (environment, profile, SSO, instance role)."""
    import botocore.session  # noqa: PLC0415 (only the operator commands need it)

    return botocore.session.get_session().get_credentials() is not None


def cdk_command(action: str, assembly: CloudAssembly) -> list[str]:
    if action == "bootstrap":
        return [
            str(CDK),
            "bootstrap",
            *(f"aws://{account}/{region}" for account, region in assembly.environments()),
        ]
    regional = [s for s in assembly.stacks.values() if not s.of_type("AWS::CodePipeline::Pipeline")]
    common = ["--all", "--app", str(assembly.directory)]
    if action == "diff":
        return [str(CDK), "diff", *common]
    # Regional stacks deploy in parallel, then the pipeline (it depends on all of them).
    return [str(CDK), "deploy", *common, "--concurrency", str(max(len(regional), 1))]


def check_ready(assembly: CloudAssembly, *, credentials: bool) -> None:
    accounts = {account for account, _ in assembly.environments()}
    if PLACEHOLDER_ACCOUNT in accounts:
        raise OperatorError(
            f"the account is the placeholder {PLACEHOLDER_ACCOUNT}; export CDK_DEFAULT_ACCOUNT=<your 12-digit "
            'account> (or set "account" in cdk.json) and run the command again'
        )
    if not credentials:
        raise OperatorError(
            "no AWS credentials found; configure them (aws configure, AWS_PROFILE or AWS_ACCESS_KEY_ID/"
            "AWS_SECRET_ACCESS_KEY) and run the command again"
        )


def run(action: str, directory: str, *, credentials: bool | None = None) -> int:
    assembly = CloudAssembly.read(directory)
    command = cdk_command(action, assembly)
    shown = [Path(command[0]).name, *command[1:]]
    print(f"==> {action}: {len(assembly.environments())} account/region(s), {len(assembly.stacks)} stack(s)")
    print("    " + shlex.join(shown))
    check_ready(assembly, credentials=has_credentials() if credentials is None else credentials)
    return subprocess.run(command, cwd=ROOT, check=False).returncode


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("action", choices=("bootstrap", "diff", "deploy"))
    parser.add_argument("assembly", nargs="?", default="cdk.out")
    args = parser.parse_args(argv)
    try:
        return run(args.action, args.assembly)
    except (AssemblyError, OperatorError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
