"""The role of a pipeline deploy action: CDK's grants, but ``iam:PassRole`` of named roles only."""

from __future__ import annotations

from aws_cdk import aws_iam as iam

from constructs import Construct

PASS_ROLE = "iam:PassRole"


class DeployActionRole(iam.Role):
    """A role for one region's deploy actions that may pass only the roles given to :meth:`allow_passing`.

    CDK's ``CodeDeployEcsDeployAction`` and ``EcsDeployAction`` grant their role
    ``iam:PassRole`` on ``*`` (limited to ECS tasks by condition) when the
    pipeline binds them. This role takes that statement and names the task and
    execution roles of the services it deploys instead, keeping CDK's
    condition; every other grant is CDK's own. (CDK's bind calls
    ``addToPrincipalPolicy`` on the role it is given; jsii routes that call to
    the override below.)

    Args:
        Those of :class:`aws_cdk.aws_iam.Role`.
    """

    def __init__(self, scope: Construct, construct_id: str, **props) -> None:
        super().__init__(scope, construct_id, **props)
        self._passable: list[iam.IRole] = []

    def allow_passing(self, *roles: iam.IRole) -> None:
        """Let the deploy actions pass ``roles`` (a service's task and execution roles) to ECS."""
        self._passable.extend(role for role in roles if role not in self._passable)

    def add_to_principal_policy(self, statement: iam.PolicyStatement) -> iam.AddToPrincipalPolicyResult:
        if PASS_ROLE in statement.actions and statement.resources == ["*"]:
            if statement.actions != [PASS_ROLE]:
                raise ValueError(f"{self.node.path}: a statement passes roles along with other actions")
            if not self._passable:
                raise ValueError(f"{self.node.path}: allow_passing() names no role for the deploy action")
            statement = iam.PolicyStatement(
                actions=[PASS_ROLE],
                resources=[role.role_arn for role in self._passable],
                conditions=statement.conditions,
            )
        return super().add_to_principal_policy(statement)
