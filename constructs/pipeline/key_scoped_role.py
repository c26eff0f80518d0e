"""A role whose key grants across stacks name the keys' account and region instead of every key."""

from __future__ import annotations

from collections.abc import Sequence

from aws_cdk import Stack
from aws_cdk import aws_iam as iam

from constructs import Construct
from constructs.nag_acknowledgments import acknowledge_all


class KeyScopedRole(iam.Role):
    """An IAM role that never holds a ``kms`` statement on ``*``.

    CDK grants a role ``kms:Decrypt`` (and the like) on ``*`` when the key is
    in another stack of another region or account, whose ARN it cannot name
    (the artifact stores' keys). This role narrows such a statement to the
    keys of the account and regions it is given, ``artifact_key_arns(...)``;
    the key's own policy names the role (or its account) as well.

    Args:
        artifact_keys: the key ARN patterns such statements are narrowed to. Default none: kept as CDK writes them.
        Those of :class:`aws_cdk.aws_iam.Role`.
    """

    def __init__(
        self, scope: Construct, construct_id: str, *, artifact_keys: Sequence[str] = (), **props
    ) -> None:
        super().__init__(scope, construct_id, **props)
        self._artifact_keys = tuple(artifact_keys)
        self._acknowledged = False

    def add_to_principal_policy(self, statement: iam.PolicyStatement) -> iam.AddToPrincipalPolicyResult:
        if self._artifact_keys and statement.resources == ["*"] and _all_kms(statement.actions):
            statement = iam.PolicyStatement(
                actions=statement.actions,
                resources=list(self._artifact_keys),
                conditions=statement.conditions,
            )
            if not self._acknowledged:  # once for every key pattern: each grant narrows to the same
                self._acknowledged = True
                stack = Stack.of(self)
                acknowledge_all(
                    self,
                    [
                        (
                            f"AwsSolutions-IAM5[Resource::{stack.resolve(keys)}]",
                            "CDK's grant on an artifact store's key, in a stack of another region or account "
                            "whose key ARN it cannot name: keys of that account and region only, and the key "
                            "policy names this role.",
                        )
                        for keys in self._artifact_keys
                    ],
                )
        return super().add_to_principal_policy(statement)


def artifact_key_arns(scope: Construct, account: str, regions: Sequence[str]) -> list[str]:
    """The ARN patterns of every key of ``account`` in ``regions``."""
    stack = Stack.of(scope)
    return [
        stack.format_arn(service="kms", region=region, account=account, resource="key", resource_name="*")
        for region in regions
    ]


def _all_kms(actions: list[str]) -> bool:
    return bool(actions) and all(action.startswith("kms:") for action in actions)
