"""`make acceptance` across accounts: the accounts besides your credentials', reached and bootstrapped.

The account of your credentials is the tools account (the pipeline's). ``PRODUCTION_ACCOUNT`` holds
integ_accounts' production regions and ``ZONE_ACCOUNT`` the hosted zone (of integ_accounts, and of the
domain checks when given). ``ACCOUNT_PROFILES`` names a profile of your AWS configuration for each
(tools/operate/accounts.py); each is checked to sign in to its account before anything is deployed.

Before the first deploy into one of them, the run bootstraps it as ``make bootstrap`` does: trusting the
tools account, with execution policies derived for what the test deploys there, and nothing more, so the test
proves those policies suffice. Their names are the same every run (``it-accounts-cdk-execution-<n>``), so a
run brings the previous run's up to date instead of adding its own.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from tools.cloud_assembly import CloudAssembly
from tools.operate.accounts import PROFILES_VARIABLE, AccountSessions, parse_profiles
from tools.operate.aws_access import OperatorError, aws_client
from tools.operate.patient_aws import Aws

_ACCOUNT = re.compile(r"^\d{12}$")
POLICY_PREFIX = "it-accounts"
VARIABLES = {"production": "PRODUCTION_ACCOUNT", "zone": "ZONE_ACCOUNT"}


@dataclass(frozen=True)
class OtherAccounts:
    """The accounts the run reaches besides the tools account (None: not given)."""

    production: str | None = None
    zone: str | None = None

    @classmethod
    def given(cls, *, production: str | None, zone: str | None) -> OtherAccounts:
        """Checked before anything is asked of AWS: 12 digits each, and not the same one twice."""
        values = {"production": production or None, "zone": zone or None}
        for field, value in values.items():
            if value is not None and not _ACCOUNT.fullmatch(value):
                raise OperatorError(
                    f"{VARIABLES[field]}: {value!r} is not allowed; expected a 12-digit account ID"
                )
        if values["production"] and values["production"] == values["zone"]:
            raise OperatorError(
                f"ZONE_ACCOUNT: {zone} is PRODUCTION_ACCOUNT too; integ_accounts needs the zone in a third "
                "account (the DNS account)"
            )
        return cls(**values)

    def check_against(self, tools: str) -> None:
        """Neither is the account of your credentials (the tools account); one line otherwise."""
        for field in ("production", "zone"):
            if getattr(self, field) == tools:
                raise OperatorError(
                    f"{VARIABLES[field]}: {tools} is the account of your credentials (the tools account); give "
                    "another account, or leave it out"
                )

    @property
    def complete(self) -> bool:
        """Both given: integ_accounts can run."""
        return bool(self.production and self.zone)

    def environment(self) -> dict[str, str]:
        """What the integration test apps read (tests/integ/support.py)."""
        found = {"ACCEPTANCE_PRODUCTION_ACCOUNT": self.production, "ACCEPTANCE_ZONE_ACCOUNT": self.zone}
        return {key: value for key, value in found.items() if value}


NO_OTHER_ACCOUNTS = OtherAccounts()


def calls_across(tools: str, others: OtherAccounts, environ: Mapping[str, str]) -> Aws:
    """The run's AWS calls: your credentials' for the tools account, a profile's for each other account
    (a profile for an account the run does not reach is not used)."""
    accounts = {tools, *(a for a in (others.production, others.zone) if a)}
    profiles = parse_profiles(environ.get(PROFILES_VARIABLE))
    if len(accounts) == 1:
        return Aws(aws_client)
    return Aws(aws_client, accounts=AccountSessions(profiles).client_for)


def profiles_for(assembly: CloudAssembly, environ: Mapping[str, str]) -> dict[str, str]:
    """The hooks' and make destroy's environment for ``assembly``: ``ACCOUNT_PROFILES`` restricted to its
    accounts (the operator commands refuse a profile for an account the app does not use)."""
    accounts = {stack.account for stack in assembly.stacks.values()}
    profiles = parse_profiles(environ.get(PROFILES_VARIABLE))
    return {
        **environ,
        PROFILES_VARIABLE: ",".join(f"{a}={p}" for a, p in profiles.items() if a in accounts),
    }


def reached(aws: Aws, accounts: list[str]) -> None:
    """Each account signs in (``sts get-caller-identity`` through its profile); one line otherwise."""
    for account in accounts:
        aws.of(account).client("sts", "us-east-1")


def bootstrap_plan(
    assembly: CloudAssembly,
    bootstraps: list,
    aws: Aws,
    *,
    replace: bool,
    cdk: str,
    profiles: Mapping[str, str],
    say: Callable[[str], None],
    write: bool,
) -> list[list[str]]:
    """The ``cdk bootstrap`` of each account besides the tools account (already bootstrapped, checked).

    ``bootstraps``: ``assembly``'s (bootstrap_accounts.account_bootstraps). Without ``write``, only refuses
    (one line) an account another app bootstrapped, unless ``replace``; with it, also creates or updates the
    execution policies, and returns the commands.
    """
    from tools.operate.bootstrap_accounts import bootstrap_commands, refuse_replacing  # noqa: PLC0415

    def cloudformation_for(account: str, region: str) -> Any:
        return aws.of(account).client("cloudformation", region)

    if not write:
        if not replace:
            refuse_replacing(bootstraps, POLICY_PREFIX, cloudformation_for)
        return []
    commands = bootstrap_commands(
        assembly,
        cdk,
        iam_for=lambda account: aws.of(account).client("iam", "us-east-1"),
        profiles=profiles,
        cloudformation_for=cloudformation_for,
        replace=replace,
        policy_prefix=POLICY_PREFIX,
        say=say,
        bootstraps=bootstraps,
    )
    return [command for bootstrap, command in zip(bootstraps, commands, strict=True) if bootstrap.trusted]
