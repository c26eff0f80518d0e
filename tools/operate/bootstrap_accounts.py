"""`make bootstrap` for an app in several accounts: each account's CDK bootstrap, trusting the pipeline's.

The pipeline's account is bootstrapped as a one-account app is. Every other account is bootstrapped in each
of its regions with ``--trust <pipeline account>`` (its deploy, file- and image-publishing roles then trust
the pipeline's account, so ``cdk deploy`` runs from there) and ``--cloudformation-execution-policies`` naming
this app's own execution policies in that account (tools/plan/execution_policy.py), created or brought up
to date first, so the pipeline's account never gets ``AdministratorAccess`` there. Each account is reached
with its profile in ``ACCOUNT_PROFILES`` (tools/operate/accounts.py), also by the CDK CLI (``--profile``).
"""

from __future__ import annotations

import json
import shlex
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from botocore.exceptions import ClientError

from tools.cloud_assembly import CloudAssembly, StackArtifact
from tools.operate.aws_access import OperatorError

# IAM keeps at most five versions of a managed policy (IAM quotas).
POLICY_VERSIONS = 5
# The CDK bootstrap stack's default name, and the variable that lets make bootstrap replace what another
# app's bootstrap set there.
BOOTSTRAP_STACK = "CDKToolkit"
REPLACE_VARIABLE = "REPLACE_BOOTSTRAP"
ADMINISTRATOR = "arn:aws:iam::aws:policy/AdministratorAccess"


def bootstrap_parameters(cloudformation: Any) -> dict[str, list[str]] | None:
    """The trusted accounts and execution policies of the region's CDK bootstrap; None when there is none.

    The bootstrap template's ``TrustedAccounts`` and ``CloudFormationExecutionPolicies``, comma-separated.
    """
    try:
        (stack,) = cloudformation.describe_stacks(StackName=BOOTSTRAP_STACK)["Stacks"]
    except ClientError as error:
        if "does not exist" in str(error):
            return None
        raise
    values = {p["ParameterKey"]: p.get("ParameterValue", "") for p in stack.get("Parameters", [])}
    return {
        key: [v for v in values.get(key, "").split(",") if v]
        for key in ("TrustedAccounts", "CloudFormationExecutionPolicies")
    }


def replaced(parameters: dict[str, list[str]], trusted: str, policies: tuple[str, ...]) -> str | None:
    """What ``cdk bootstrap --trust trusted --cloudformation-execution-policies policies`` would take away
    (the CLI replaces both lists), or None."""
    others = [a for a in parameters["TrustedAccounts"] if a != trusted]
    # A bootstrap that names no execution policy runs CloudFormation with AdministratorAccess (the bootstrap
    # template's default, which the CDK CLI does not store in the parameter).
    strangers = [p for p in parameters["CloudFormationExecutionPolicies"] if p not in policies] or (
        [] if parameters["CloudFormationExecutionPolicies"] else [f"{ADMINISTRATOR} (CDK's default)"]
    )
    lost = [*(f"its trust in {a}" for a in others), *(f"the execution policy {p}" for p in strangers)]
    return ", ".join(lost) or None


@dataclass(frozen=True)
class AccountBootstrap:
    """One account's bootstrap: its environments, and what it trusts and may run."""

    account: str
    regions: tuple[str, ...]
    trusted: str | None  # the pipeline's account, for every other account
    policies: tuple[dict, ...] = ()  # its execution policy documents (none: CDK's default)

    def command(self, cdk: str, policy_arns: tuple[str, ...] = (), profile: str | None = None) -> list[str]:
        command = [cdk, "bootstrap", *(f"aws://{self.account}/{region}" for region in self.regions)]
        if self.trusted:
            command += ["--trust", self.trusted, "--cloudformation-execution-policies", ",".join(policy_arns)]
        if profile:
            command += ["--profile", profile]
        return command


def account_bootstraps(
    assembly: CloudAssembly, deployed: Callable[[StackArtifact], dict | None] = lambda stack: None
) -> list[AccountBootstrap]:
    """The pipeline's account first, then every other account, each with its regions in deploy order.

    ``deployed``: a stack's template as CloudFormation holds it now (None: not deployed); the execution
    policies also cover what the deployed stacks hold, which an update deletes and its rollback makes again.
    """
    pipeline_account = assembly.pipeline()[0].account
    regions: dict[str, list[str]] = {}
    for account, region in assembly.environments():
        regions.setdefault(account, []).append(region)

    # cfn-lint's CloudFormation schemas (requirements-dev.txt; make bootstrap installs them): only for a
    # bootstrap across accounts, so that make preflight needs none of it.
    from tools.plan.execution_policy import execution_policies  # noqa: PLC0415

    def held(account: str) -> list[tuple[str, dict]]:
        templates = ((s.region, deployed(s)) for s in assembly.stacks.values() if s.account == account)
        return [(region, template) for region, template in templates if template is not None]

    return [
        AccountBootstrap(
            account,
            tuple(regions[account]),
            None if account == pipeline_account else pipeline_account,
            ()
            if account == pipeline_account
            else tuple(execution_policies(assembly, account, held(account))),
        )
        for account in sorted(regions, key=lambda account: account != pipeline_account)
    ]


def preview(assembly: CloudAssembly, profiles: Mapping[str, str]) -> list[str]:
    """Each account's ``cdk bootstrap``, as ``make bootstrap`` will run it (its policies by name pattern)."""
    pipeline_account = assembly.pipeline()[0].account
    app = assembly.pipeline()[0].name.removesuffix("-pipeline")
    regions: dict[str, list[str]] = {}
    for account, region in assembly.environments():
        regions.setdefault(account, []).append(region)
    lines = []
    for account in sorted(regions, key=lambda account: account != pipeline_account):
        plan = AccountBootstrap(
            account, tuple(regions[account]), None if account == pipeline_account else pipeline_account
        )
        names = (f"arn:aws:iam::{account}:policy/{app}-cdk-execution-<n>",) if plan.trusted else ()
        lines.append(shlex.join(plan.command("cdk", names, profiles.get(account))))
    return lines


def policy_name(app: str, index: int) -> str:
    return f"{app}-cdk-execution-{index + 1}"


def ensure_policies(
    iam: Any, account: str, app: str, documents: tuple[dict, ...], say: Callable[[str], None] = print
) -> tuple[str, ...]:
    """Create each execution policy, or make its document the default version; return their ARNs."""
    arns = []
    for index, document in enumerate(documents):
        name = policy_name(app, index)
        arn = f"arn:aws:iam::{account}:policy/{name}"
        text = json.dumps(document, separators=(",", ":"))
        try:
            policy = iam.get_policy(PolicyArn=arn)["Policy"]
        except ClientError as error:
            if error.response.get("Error", {}).get("Code") != "NoSuchEntity":
                raise
            iam.create_policy(
                PolicyName=name,
                PolicyDocument=text,
                Description=f"What CloudFormation needs to deploy {app}'s stacks in this account",
            )
            say(f"    {account}: created the execution policy {name}")
            arns.append(arn)
            continue
        current = iam.get_policy_version(PolicyArn=arn, VersionId=policy["DefaultVersionId"])["PolicyVersion"]
        if _document_of(current["Document"]) != document:
            versions = iam.list_policy_versions(PolicyArn=arn)["Versions"]
            if len(versions) >= POLICY_VERSIONS:
                oldest = min(
                    (v for v in versions if not v["IsDefaultVersion"]), key=lambda v: v["CreateDate"]
                )
                iam.delete_policy_version(PolicyArn=arn, VersionId=oldest["VersionId"])
            iam.create_policy_version(PolicyArn=arn, PolicyDocument=text, SetAsDefault=True)
            say(f"    {account}: updated the execution policy {name}")
        arns.append(arn)
    return tuple(arns)


def _document_of(value: str | dict) -> dict:
    """IAM returns a version's document URL-encoded through botocore as a string, or already parsed."""
    if isinstance(value, dict):
        return value
    from urllib.parse import unquote  # noqa: PLC0415

    return json.loads(unquote(value))


def refuse_replacing(
    bootstraps: list[AccountBootstrap],
    app: str,
    cloudformation_for: Callable[[str, str], Any],
) -> None:
    """One line for an account another app bootstrapped (other trusted accounts, other execution policies):
    cdk bootstrap would take those away. ``app``: the prefix of this app's execution policies."""
    for bootstrap in bootstraps:
        if not bootstrap.trusted:
            continue
        arns = tuple(
            f"arn:aws:iam::{bootstrap.account}:policy/{policy_name(app, i)}"
            for i in range(len(bootstrap.policies))
        )
        for region in bootstrap.regions:
            current = bootstrap_parameters(cloudformation_for(bootstrap.account, region))
            lost = current and replaced(current, bootstrap.trusted, arns)
            if lost:
                raise OperatorError(
                    f"account {bootstrap.account} ({region}) is bootstrapped for something else: make bootstrap "
                    f"would replace {lost} (cdk bootstrap replaces both lists, and every CDK app of that "
                    f"account then deploys with this app's policies); run it again with {REPLACE_VARIABLE}=1 "
                    "to replace them"
                )


def bootstrap_commands(
    assembly: CloudAssembly,
    cdk: str,
    *,
    iam_for: Callable[[str], Any],
    profiles: Mapping[str, str],
    deployed: Callable[[StackArtifact], dict | None] = lambda stack: None,
    cloudformation_for: Callable[[str, str], Any] = lambda account, region: None,
    replace: bool = False,
    policy_prefix: str | None = None,
    say: Callable[[str], None] = print,
    bootstraps: list[AccountBootstrap] | None = None,
) -> list[list[str]]:
    """The ``cdk bootstrap`` command of every account, with each other account's execution policies in place.

    An account another app bootstrapped is refused with one line before anything is written, unless
    ``replace``. ``policy_prefix``: the execution policies' name prefix (default: the app's name).
    ``bootstraps``: ``account_bootstraps(assembly, deployed)`` when the caller has it already. The commands
    are in ``bootstraps``' order.
    """
    app = policy_prefix or assembly.pipeline()[0].name.removesuffix("-pipeline")
    bootstraps = bootstraps if bootstraps is not None else account_bootstraps(assembly, deployed)
    if not replace:
        refuse_replacing(bootstraps, app, cloudformation_for)
    commands = []
    for bootstrap in bootstraps:
        arns = ensure_policies(iam_for(bootstrap.account), bootstrap.account, app, bootstrap.policies, say)
        commands.append(bootstrap.command(cdk, arns, profiles.get(bootstrap.account)))
    return commands
