"""Bootstrap, diff and deploy every environment of the synthesized app with the project's CDK CLI.

    python tools/operate/cdk_commands.py bootstrap|diff|deploy [cdk.out] [--require-approval never|any-change|broadening]

Each command first prints the exact CDK command it runs. It refuses, with one
line saying what to do, when the account is still the placeholder or no AWS
credentials are configured. ``bootstrap`` first creates the service-linked
roles the app needs that the account lacks (tools/operate/service_linked_roles.py).
``diff`` and ``deploy`` first compare every deployed regional stack with the
synthesized one and name, one line each, the changes CloudFormation cannot
apply to a CodeDeploy-controlled service (see tools/guards/code_deploy_blockers.py),
those that would re-send an ECS-controlled service's routing while production
is on its alternate target group (tools/guards/ecs_traffic_blockers.py) and those that
would remove or replace a region's database (tools/guards/database_blockers.py);
``deploy`` then stops before deploying. ``deploy``
also stops while a service-linked role is missing, and, without a terminal,
unless ``--require-approval`` says how security-related changes are approved
(cdk.json asks a person: ``broadening``).
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import subprocess
import sys
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any

if __package__ in (None, ""):  # run as a script: make the repository root importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from botocore.exceptions import ClientError

from constructs.settings.config_checks import PLACEHOLDER_ACCOUNT
from tools.cloud_assembly import AssemblyError, CloudAssembly, StackArtifact
from tools.guards.code_deploy_blockers import ListenerUpdate, blocked_changes, listener_updates
from tools.guards.database_blockers import database_changes
from tools.guards.ecs_traffic_blockers import TrafficUpdate, traffic_updates
from tools.guards.routing_blockers import routing_changes
from tools.operate.aws_access import AWS_ERRORS, OperatorError, aws_client, error_line, has_credentials
from tools.operate.service_linked_roles import create_missing, missing, needed

ROOT = Path(__file__).resolve().parents[2]
CDK = ROOT / "node_modules" / ".bin" / "cdk"


# CDK's --require-approval levels (cdk.json's "requireApproval" is the default when none is given).
APPROVAL_LEVELS = ("never", "any-change", "broadening")


def cdk_command(action: str, assembly: CloudAssembly, approval: str | None = None) -> list[str]:
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
    approve = ["--require-approval", approval] if approval else []
    return [str(CDK), "deploy", *common, "--concurrency", str(max(len(regional), 1)), *approve]


def service_linked_roles(assembly: CloudAssembly, iam_for: Callable[[str], Any], *, create: bool) -> None:
    """Create the missing service-linked roles of each account (``create``), or refuse while one is missing.

    ``iam_for``: an IAM client of an account (its profile's, for an app in several accounts).
    """
    for account, roles in needed(assembly).items():
        iam = iam_for(account)
        if create:
            create_missing(iam, roles)
            continue
        absent = [role.role_name for role in missing(iam, roles)]
        if absent:
            raise OperatorError(
                f"account {account} has no {', '.join(absent)} yet; run make bootstrap first (it creates them, so "
                "that ECS, Elastic Load Balancing and RDS need not create and at once assume them during the first "
                "create, which fails on a fresh account)"
            )


def check_approval(approval: str | None, *, interactive: bool) -> None:
    """Without a terminal no one can answer cdk.json's prompt for security-related changes: say how to deploy."""
    if approval is None and not interactive:
        raise OperatorError(
            "no terminal to approve security-related changes (cdk.json: requireApproval broadening); review "
            "make diff, then run make deploy APPROVAL=never (CI), or run make deploy from a terminal"
        )


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


def ready_assembly(directory: str) -> CloudAssembly:
    """The synthesized app, once the account is real and credentials are found (else one line saying why)."""
    assembly = CloudAssembly.read(directory)
    check_ready(assembly, credentials=has_credentials())
    return assembly


def one_line_errors(command: Callable[[], int]) -> int:
    """Run an operator command: a refusal or an AWS error becomes one line on stderr and exit status 1."""
    try:
        return command()
    except (AssemblyError, OperatorError, *AWS_ERRORS) as error:
        print(f"error: {error_line(error)}", file=sys.stderr)
        return 1


def stack_missing(error: ClientError) -> bool:
    """Whether CloudFormation answered that the stack named in the request does not exist."""
    return error.response.get("Error", {}).get("Code") == "ValidationError" and "does not exist" in str(error)


def client_of(stack: StackArtifact, service: str, aws: Any = None):
    """A client of ``stack``'s account and region: ``aws`` (an app in several accounts) or the operator's."""
    return aws.of(stack.account).client(service, stack.region) if aws else aws_client(service, stack.region)


def deployed_template(stack: StackArtifact, aws: Any = None) -> dict | None:
    """The template CloudFormation holds for ``stack``, or None when the stack is not deployed."""
    try:
        body = client_of(stack, "cloudformation", aws).get_template(
            StackName=stack.name, TemplateStage="Original"
        )["TemplateBody"]
    except ClientError as error:
        if stack_missing(error):
            return None
        raise
    return body if isinstance(body, dict) else json.loads(body)


def physical_id(stack: StackArtifact, logical_id: str, aws: Any = None) -> str:
    described = client_of(stack, "cloudformation", aws).describe_stack_resource(
        StackName=stack.name, LogicalResourceId=logical_id
    )
    return described["StackResourceDetail"]["PhysicalResourceId"]


def forwards_as_templated(stack: StackArtifact, update: ListenerUpdate, aws: Any = None) -> bool:
    """Whether the live listener sends all its traffic to the target group its template names."""
    listener_arn, target_group_arn = (
        physical_id(stack, update.listener, aws),
        physical_id(stack, update.target_group, aws),
    )
    (listener,) = client_of(stack, "elbv2", aws).describe_listeners(ListenerArns=[listener_arn])["Listeners"]
    return serving(listener["DefaultActions"]) == {target_group_arn}


def serving(forward_actions: list[dict]) -> set[str]:
    """The target groups a listener's or rule's forward actions send traffic to (weight above 0)."""
    found = set()
    for action in forward_actions:
        if action["Type"] != "forward":
            continue
        groups = action.get("ForwardConfig", {}).get("TargetGroups") or [
            {"TargetGroupArn": action["TargetGroupArn"]}
        ]
        found |= {group["TargetGroupArn"] for group in groups if group.get("Weight", 1) > 0}
    return found


def rule_forwards_as_templated(stack: StackArtifact, update: TrafficUpdate, aws: Any = None) -> bool:
    """Whether the live production rule sends all production traffic to the service's template target group."""
    rule_arn, primary_arn = (
        physical_id(stack, update.production_rule, aws),
        physical_id(stack, update.primary, aws),
    )
    (rule,) = client_of(stack, "elbv2", aws).describe_rules(RuleArns=[rule_arn])["Rules"]
    return serving(rule["Actions"]) == {primary_arn}


def blocked(
    assembly: CloudAssembly,
    fetch: Callable[[StackArtifact], dict | None],
    live: Callable[[StackArtifact, ListenerUpdate], bool] = forwards_as_templated,
    live_rule: Callable[[StackArtifact, TrafficUpdate], bool] = rule_forwards_as_templated,
) -> list[str]:
    """Every change of the deployed regional stacks that CloudFormation cannot apply (one line each).

    ``live`` asks whether a listener CodeDeploy routes still forwards where its template says (only for
    listeners the update changes); ``live_rule`` the same of the production rule of an ECS-controlled
    service whose routing the update touches.
    """
    lines, deployed_templates, synthesized = [], {}, {}
    for stack in assembly.deploy_order():
        if stack.of_type("AWS::ECS::Service"):
            deployed = deployed_templates[stack.name] = fetch(stack)
            synthesized[stack.name] = stack.template
            if deployed is not None:
                lines += blocked_changes(stack.name, deployed, stack.template)
                lines += database_changes(stack.name, deployed, stack.template)
                lines += [
                    update.line(stack.name)
                    for update in listener_updates(deployed, stack.template)
                    if not live(stack, update)
                ]
                lines += [
                    update.line(stack.name)
                    for update in traffic_updates(deployed, stack.template)
                    if not live_rule(stack, update)
                ]
    return lines + routing_changes(deployed_templates, synthesized)


def run(
    action: str,
    directory: str,
    *,
    approval: str | None = None,
    credentials: bool | None = None,
    interactive: bool | None = None,
    iam=None,
    fetch: Callable[[StackArtifact], dict | None] = deployed_template,
    live: Callable[[StackArtifact, ListenerUpdate], bool] = forwards_as_templated,
    live_rule: Callable[[StackArtifact, TrafficUpdate], bool] = rule_forwards_as_templated,
    execute: Callable[..., subprocess.CompletedProcess] = subprocess.run,
    around: Callable[[CloudAssembly], Callable[[], None]] | None = None,
) -> int:
    """``around``: called with the assembly right before the CDK CLI runs (every check passed); what it
    returns is called once the CLI has ended, however it ended (make deploy keeps a halt: tools/operate/halt.py)."""
    assembly = CloudAssembly.read(directory)
    command = cdk_command(action, assembly, approval)
    shown = [Path(command[0]).name, *command[1:]]
    print(f"==> {action}: {len(assembly.environments())} account/region(s), {len(assembly.stacks)} stack(s)")
    several = len({s.account for s in assembly.stacks.values()}) > 1
    if action == "bootstrap" and several:
        from tools.operate.accounts import PROFILES_VARIABLE, parse_profiles  # noqa: PLC0415
        from tools.operate.bootstrap_accounts import preview  # noqa: PLC0415

        print("    one cdk bootstrap per account, the pipeline's first:")
        for line in preview(assembly, parse_profiles(os.environ.get(PROFILES_VARIABLE))):
            print(f"      {line}")
    else:
        print("    " + shlex.join(shown))
    check_ready(assembly, credentials=has_credentials() if credentials is None else credentials)
    if several and action in ("diff", "deploy"):
        command += _pipeline_credentials(assembly)
    if action == "deploy":
        check_approval(approval, interactive=sys.stdin.isatty() if interactive is None else interactive)
    if action in ("diff", "deploy"):
        if several and fetch is deployed_template:  # each stack read with its own account's credentials
            from tools.operate.accounts import operator_aws  # noqa: PLC0415

            aws = operator_aws(assembly, os.environ)
            fetch, live = partial(deployed_template, aws=aws), partial(forwards_as_templated, aws=aws)
            live_rule = partial(rule_forwards_as_templated, aws=aws)
        lines = blocked(assembly, fetch, live, live_rule)
        for line in lines:
            print(f"blocked: {line}", file=sys.stderr)
        if lines and action == "deploy":
            raise OperatorError(
                f"{len(lines)} change(s) above cannot be deployed to the running regions; nothing was deployed"
            )
    if action in ("bootstrap", "deploy"):
        iam_for = _iam_for(assembly, iam)
        service_linked_roles(assembly, iam_for, create=action == "bootstrap")
        if action == "bootstrap" and several:
            if fetch is deployed_template:  # each stack read with its own account's credentials
                from tools.operate.accounts import operator_aws  # noqa: PLC0415

                fetch = partial(deployed_template, aws=operator_aws(assembly, os.environ))
            return _bootstrap_accounts(assembly, iam_for, execute, fetch)
    after = around(assembly) if around else None
    try:
        return execute(command, cwd=ROOT, check=False).returncode
    finally:  # a failed deploy (or its rollback) may have updated the pipeline too
        if after:
            after()


def _pipeline_credentials(assembly: CloudAssembly) -> list[str]:
    """For an app in several accounts, the CDK CLI's credentials must be the pipeline's account's (the other
    accounts' bootstrap roles trust it): checked first, one line otherwise; its profile, if one is named."""
    from tools.operate.accounts import PROFILES_VARIABLE, operator_aws, parse_profiles  # noqa: PLC0415

    pipeline = assembly.pipeline()[0]
    operator_aws(assembly, os.environ).of(pipeline.account).client("sts", pipeline.region)
    profile = parse_profiles(os.environ.get(PROFILES_VARIABLE)).get(pipeline.account)
    return ["--profile", profile] if profile else []


def _iam_for(assembly: CloudAssembly, iam) -> Callable[[str], Any]:
    """IAM of each account: ``iam`` (tests), else the operator's clients, per account for several."""
    if iam is not None:
        return lambda account: iam
    from tools.operate.accounts import operator_aws  # noqa: PLC0415 (it imports this module's errors)

    aws, home = operator_aws(assembly, os.environ), assembly.environments()[0][1]
    return lambda account: aws.of(account).client("iam", home)


def _bootstrap_accounts(
    assembly: CloudAssembly,
    iam_for: Callable[[str], Any],
    execute: Callable[..., subprocess.CompletedProcess],
    deployed: Callable[[StackArtifact], dict | None],
) -> int:
    """One ``cdk bootstrap`` per account: the others trust the pipeline's, with this app's execution policies."""
    from tools.operate.accounts import PROFILES_VARIABLE, operator_aws, parse_profiles  # noqa: PLC0415
    from tools.operate.bootstrap_accounts import REPLACE_VARIABLE, bootstrap_commands  # noqa: PLC0415

    profiles = parse_profiles(os.environ.get(PROFILES_VARIABLE))
    aws = operator_aws(assembly, os.environ)
    for command in bootstrap_commands(
        assembly,
        str(CDK),
        iam_for=iam_for,
        profiles=profiles,
        deployed=deployed,
        cloudformation_for=lambda account, region: aws.of(account).client("cloudformation", region),
        replace=os.environ.get(REPLACE_VARIABLE) == "1",
    ):
        print(f"==> cdk bootstrap {' '.join(a for a in command if a.startswith('aws://'))}")
        returncode = execute(command, cwd=ROOT, check=False).returncode
        if returncode:
            return returncode
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    # make deploy runs tools/operate/deploy.py, which keeps a halt around this module's run("deploy").
    parser.add_argument("action", choices=("bootstrap", "diff"))
    parser.add_argument("assembly", nargs="?", default="cdk.out")
    args = parser.parse_args(argv)
    try:
        return run(args.action, args.assembly)
    except (AssemblyError, OperatorError, *AWS_ERRORS) as error:
        print(f"error: {error_line(error)}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
