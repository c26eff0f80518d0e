"""The ARNs of roles a trust policy names in a condition, known once every role exists in the app."""

from __future__ import annotations

import jsii
from aws_cdk import IStableListProducer, Lazy
from aws_cdk import aws_iam as iam


@jsii.implements(IStableListProducer)
class RoleArns:
    """The ARNs of the roles added with :meth:`add` (in the order added), produced when the app synthesizes.

    A role that trusts roles of another stack deployed after its own cannot name them as principals (IAM
    refuses a principal that does not exist yet); it trusts their account with ``aws:PrincipalArn`` in this
    list instead. Each role must have a physical name (``PhysicalName.GENERATE_IF_NEEDED``).
    """

    def __init__(self, path: str) -> None:
        self.path = path
        self.roles: list[iam.IRole] = []

    def add(self, *roles: iam.IRole) -> None:
        self.roles.extend(role for role in roles if role not in self.roles)

    def produce(self) -> list[str]:
        if not self.roles:
            raise ValueError(f"{self.path}: no role was let assume it (trust() was never called)")
        return [role.role_arn for role in self.roles]

    def principal(self, account: str) -> iam.IPrincipal:
        """The roles added with :meth:`add`, as a trust policy names them: ``account`` with their ARNs in an
        ``aws:PrincipalArn`` condition."""
        return iam.AccountPrincipal(account).with_conditions(
            {"ArnEquals": {"aws:PrincipalArn": Lazy.list(self)}}
        )
