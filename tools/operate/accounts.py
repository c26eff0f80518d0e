"""Which credentials reach each account of the app: the operator's own, or a named profile per account.

With one account per jurisdiction, the operator commands read and write in several accounts. The CDK
bootstrap roles cover ``cdk deploy`` and ``cdk diff`` from the pipeline's account (``cdk bootstrap
--trust``), but not what ``make status``, ``release``, ``destroy`` and ``break-glass`` call (ECS, ELB,
CodeDeploy, CloudFormation reads; the break-glass writes). Each jurisdiction decides who operates in its
account, so these commands sign in to an account with a named profile of the operator's own AWS
configuration (IAM Identity Center permission sets, or a role the account grants), given in
``ACCOUNT_PROFILES``::

    ACCOUNT_PROFILES="222222222222=eu-prod,333333333333=apac-prod" make status

An account without a profile is reached with the operator's own credentials. Each session is checked
(``sts get-caller-identity``) before its first call: an account that cannot be reached stops the command
with one line naming the account, its stacks and the setting.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
from typing import Any

import botocore.session
from botocore.exceptions import BotoCoreError, ClientError

from tools.cloud_assembly import CloudAssembly
from tools.operate.aws_access import CLIENT_CONFIG, UNREACHABLE, OperatorError, aws_client, error_line
from tools.operate.patient_aws import Aws

PROFILES_VARIABLE = "ACCOUNT_PROFILES"
_ENTRY = re.compile(r"^(?P<account>\d{12})=(?P<profile>[A-Za-z0-9_.@+-]+)$")


def parse_profiles(text: str | None) -> dict[str, str]:
    """``<account>=<profile>`` pairs, comma-separated, as a map; one line naming the bad entry otherwise."""
    profiles: dict[str, str] = {}
    for entry in (e.strip() for e in (text or "").split(",")):
        if not entry:
            continue
        match = _ENTRY.fullmatch(entry)
        if not match:
            raise OperatorError(
                f"{PROFILES_VARIABLE}: {entry!r} is not allowed; expected <12-digit account>=<profile name>, "
                "comma-separated, such as 222222222222=eu-prod"
            )
        if match["account"] in profiles:
            raise OperatorError(
                f"{PROFILES_VARIABLE}: account {match['account']} is named twice; give each account one profile"
            )
        profiles[match["account"]] = match["profile"]
    return profiles


class AccountSessions:
    """One botocore session per account, checked to be in that account before it is used.

    Args:
        profiles: account -> profile name (``ACCOUNT_PROFILES``).
        stacks_of: account -> the stacks it holds (to name them when it cannot be reached).
        session_for: makes a session for a profile, or the operator's own for None (tests pass stubbed ones).
    """

    def __init__(
        self,
        profiles: Mapping[str, str],
        *,
        stacks_of: Mapping[str, Iterable[str]] = (),
        session_for: Callable[[str | None], Any] | None = None,
    ) -> None:
        self.profiles = dict(profiles)
        self.stacks_of = {account: tuple(stacks) for account, stacks in dict(stacks_of).items()}
        self._session_for = session_for or _botocore_session
        self._sessions: dict[str, Any] = {}

    def session(self, account: str):
        """The session that reaches ``account``; one line saying what to set when none does."""
        if account not in self._sessions:
            profile = self.profiles.get(account)
            try:
                session = self._session_for(profile)
                # STS is global; any region answers for the caller's identity.
                sts = session.create_client("sts", region_name="us-east-1", config=CLIENT_CONFIG)
                reached = sts.get_caller_identity()["Account"]
            except UNREACHABLE as error:
                raise OperatorError(error_line(error)) from error
            except (BotoCoreError, ClientError) as error:
                raise self._unreachable(
                    account, f"signing in with {_signed_in(profile)} failed: {error}"
                ) from error
            if reached != account:
                raise self._unreachable(
                    account, f"signing in with {_signed_in(profile)} reaches account {reached}"
                )
            self._sessions[account] = session
        return self._sessions[account]

    def client_for(self, account: str) -> Callable[[str, str], Any]:
        """A ``(service, region) -> client`` factory for ``account``."""
        return lambda service, region: self.session(account).create_client(
            service, region_name=region, config=CLIENT_CONFIG
        )

    def _unreachable(self, account: str, why: str) -> OperatorError:
        stacks = ", ".join(self.stacks_of.get(account, ())) or "no stack of the app"
        return OperatorError(
            f"account {account} ({stacks}) cannot be reached: {why}; set {PROFILES_VARIABLE}="
            f"{account}=<profile> (a profile of your AWS configuration that signs in to that account), "
            "see docs/accounts.md"
        )


def _signed_in(profile: str | None) -> str:
    return f"profile {profile}" if profile else "your own credentials (no profile in ACCOUNT_PROFILES)"


def _botocore_session(profile: str | None):
    return botocore.session.Session(profile=profile) if profile else botocore.session.get_session()


def operator_aws(assembly: CloudAssembly, environ: Mapping[str, str]) -> Aws:
    """The operator's AWS calls for ``assembly``: per account (``Aws.of``) when its stacks are in several."""
    accounts = {stack.account for stack in assembly.stacks.values()}
    profiles = parse_profiles(environ.get(PROFILES_VARIABLE))
    if len(accounts) == 1 and not profiles:
        return Aws(aws_client)
    stacks_of: dict[str, list[str]] = {}
    for stack in assembly.deploy_order():
        stacks_of.setdefault(stack.account, []).append(stack.name)
    strangers = sorted(set(profiles) - accounts)
    if strangers:
        raise OperatorError(
            f"{PROFILES_VARIABLE}: account {strangers[0]} is not allowed; the app's accounts are "
            f"{', '.join(sorted(accounts))}"
        )
    sessions = AccountSessions(profiles, stacks_of=stacks_of)
    return Aws(aws_client, accounts=sessions.client_for)
