"""Break glass: release one region with its deployment group's alarm check off, then turn it back on.

    python tools/operate/break_glass.py REGION [cdk.out] [--stack NAME] [--deployment-id ID] [--yes]

An alarm that is already firing stops every CodeDeploy deployment of its
group, including the hotfix that would end it. This command redeploys, in one
region, the revision of the group's last attempted deployment (or of
``--deployment-id``), with the group's alarm configuration switched off, waits
for the deployment to end, and restores the alarm configuration exactly as it
was, also when the deployment fails or the command is interrupted. The other
regions and the pipeline are not touched; the next release goes through the
pipeline as usual.

It refuses, with one line, without AWS credentials or with the placeholder
account, and asks for confirmation unless ``--yes`` is given.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections.abc import Callable
from pathlib import Path

if __package__ in (None, ""):  # run as a script: make the repository root importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from tools.cloud_assembly import AssemblyError, CloudAssembly, StackArtifact
from tools.operate.accounts import operator_aws
from tools.operate.cdk_commands import AWS_ERRORS, OperatorError, check_ready, has_credentials

FINISHED = ("Succeeded", "Failed", "Stopped")
POLL_SECONDS = 15


def regional_stack(assembly: CloudAssembly, region: str, stack_name: str | None) -> StackArtifact:
    """The stack whose deployment group serves ``region`` (production unless ``stack_name`` says otherwise)."""
    if not any(s.of_type("AWS::CodeDeploy::DeploymentGroup") for s in assembly.stacks.values()):
        raise OperatorError(
            "break glass releases through a CodeDeploy deployment group; this app uses deployment_engine ecs, "
            "where the service's own deployment alarms decide (docs/deployment-engines.md)"
        )
    candidates = [
        s
        for s in assembly.stacks.values()
        if s.region == region and s.of_type("AWS::CodeDeploy::DeploymentGroup")
    ]
    if stack_name:
        candidates = [s for s in candidates if s.name == stack_name]
    elif len(candidates) > 1:
        candidates = [s for s in candidates if "-staging-" not in s.name]
    if len(candidates) != 1:
        regions = sorted(
            {s.region for s in assembly.stacks.values() if s.of_type("AWS::CodeDeploy::DeploymentGroup")}
        )
        raise OperatorError(
            f"region {region!r}{f' / stack {stack_name!r}' if stack_name else ''} has no deployment group of this "
            f"app; the app deploys to {', '.join(regions)}"
        )
    return candidates[0]


def full_revision(codedeploy, application: str, deployment_id: str) -> dict:
    """The full revision of a CodeDeploy deployment (GetDeployment leaves the AppSpec's content out)."""
    revision = codedeploy.get_deployment(deploymentId=deployment_id)["deploymentInfo"]["revision"]
    if revision.get("revisionType") != "AppSpecContent":
        return revision
    return codedeploy.get_application_revision(applicationName=application, revision=revision)["revision"]


def wait_for_deployment(
    codedeploy, deployment_id: str, say: Callable[[str], None], sleep: Callable[[float], None]
) -> str:
    """Wait for a CodeDeploy deployment to end; its final status (Succeeded, Failed, Stopped)."""
    say(f"==> {deployment_id} started; waiting for it to end")
    while True:
        info = codedeploy.get_deployment(deploymentId=deployment_id)["deploymentInfo"]
        if info["status"] in FINISHED:
            error = info.get("errorInformation", {}).get("message")
            say(f"==> {deployment_id}: {info['status']}{f' ({error})' if error else ''}")
            return info["status"]
        sleep(POLL_SECONDS)


class BreakGlass:
    """One region's break-glass release, against injected botocore clients (so it can be tested offline)."""

    def __init__(
        self,
        stack: StackArtifact,
        *,
        codedeploy,
        cloudformation,
        say: Callable[[str], None] = print,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.stack = stack
        self.codedeploy = codedeploy
        self.cloudformation = cloudformation
        self.say = say
        self.sleep = sleep

    def physical_id(self, resource_type: str) -> str:
        (logical_id,) = self.stack.of_type(resource_type)
        found = self.cloudformation.describe_stack_resource(
            StackName=self.stack.name, LogicalResourceId=logical_id
        )
        return found["StackResourceDetail"]["PhysicalResourceId"]

    def run(
        self, *, deployment_id: str | None = None, confirm: Callable[[str], bool] = lambda _: True
    ) -> int:
        application = self.physical_id("AWS::CodeDeploy::Application")
        group = self.physical_id("AWS::CodeDeploy::DeploymentGroup")
        info = self.codedeploy.get_deployment_group(applicationName=application, deploymentGroupName=group)
        info = info["deploymentGroupInfo"]
        alarms = info.get("alarmConfiguration", {"enabled": False, "alarms": []})
        source = deployment_id or info.get("lastAttemptedDeployment", {}).get("deploymentId")
        if not source:
            raise OperatorError(f"{group} has no deployment to repeat; pass --deployment-id")
        revision = full_revision(self.codedeploy, application, source)
        names = ", ".join(a["name"] for a in alarms.get("alarms", [])) or "none"
        self.say(f"==> {self.stack.name} ({self.stack.region}): redeploy the revision of {source} to {group}")
        self.say(f"    alarm check off during the deployment (alarms: {names}), restored afterwards")
        if not confirm(self.stack.region):
            raise OperatorError("not confirmed; nothing was changed")
        self.codedeploy.update_deployment_group(
            applicationName=application,
            currentDeploymentGroupName=group,
            alarmConfiguration={**alarms, "enabled": False},
        )
        try:
            created = self.codedeploy.create_deployment(
                applicationName=application,
                deploymentGroupName=group,
                revision=revision,
                description=f"break glass: revision of {source}, alarm check off",
            )
            status = wait_for_deployment(self.codedeploy, created["deploymentId"], self.say, self.sleep)
        finally:
            self.restore(application, group, alarms)
        return 0 if status == "Succeeded" else 1

    def restore(self, application: str, group: str, alarms: dict) -> None:
        try:
            self.codedeploy.update_deployment_group(
                applicationName=application, currentDeploymentGroupName=group, alarmConfiguration=alarms
            )
        except Exception:
            self.say(
                f"!!! the alarm check of {group} is still OFF; turn it back on with: aws deploy "
                f"update-deployment-group --region {self.stack.region} --application-name {application} "
                f"--current-deployment-group-name {group} --alarm-configuration enabled=true"
            )
            raise
        self.say(
            f"==> alarm check of {group} restored (enabled: {str(alarms.get('enabled', False)).lower()})"
        )


def typed(answer: str, prompt: str) -> bool:
    """Whether the operator, at a terminal, typed ``answer`` at ``prompt`` (else one line: --yes is needed)."""
    if not sys.stdin.isatty():
        raise OperatorError("confirm with --yes (or YES=1 for make) when not run from a terminal")
    return input(prompt).strip() == answer


def ask(region: str) -> bool:
    return typed(region, f"Type the region ({region}) to release it with its alarm check off: ")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("region")
    parser.add_argument("assembly", nargs="?", default="cdk.out")
    parser.add_argument("--stack", help="the regional stack, when a region holds staging and production")
    parser.add_argument(
        "--deployment-id", help="repeat this deployment's revision (default: the last attempted)"
    )
    parser.add_argument("--yes", action="store_true", help="do not ask for confirmation")
    args = parser.parse_args(argv)
    try:
        assembly = CloudAssembly.read(args.assembly)
        stack = regional_stack(assembly, args.region, args.stack)
        check_ready(assembly, credentials=has_credentials())
        # The region's own account: its profile in ACCOUNT_PROFILES when not the operator's.
        aws = operator_aws(assembly, os.environ).of(stack.account)
        glass = BreakGlass(
            stack,
            codedeploy=aws.client("codedeploy", stack.region),
            cloudformation=aws.client("cloudformation", stack.region),
        )
        return glass.run(deployment_id=args.deployment_id, confirm=(lambda _: True) if args.yes else ask)
    except (AssemblyError, OperatorError, *AWS_ERRORS) as error:
        print(f"error: {error}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
