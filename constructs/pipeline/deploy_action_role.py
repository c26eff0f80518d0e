"""The role of a pipeline deploy action: CDK's grants, but ``iam:PassRole`` of named roles only."""

from __future__ import annotations

from typing import TYPE_CHECKING

import jsii
from aws_cdk import IStableStringProducer, Lazy, PhysicalName, Stack
from aws_cdk import aws_iam as iam

from constructs import Construct
from constructs.pipeline.key_scoped_role import KeyScopedRole, artifact_key_arns

if TYPE_CHECKING:
    from constructs.pipeline.deploy_target import RegionDeployment

PASS_ROLE = "iam:PassRole"


class DeployActionRole(KeyScopedRole):
    """A role for one region's deploy actions that may pass only the roles given to :meth:`allow_passing`.

    CDK's ``CodeDeployEcsDeployAction`` and ``EcsDeployAction`` grant their role
    ``iam:PassRole`` on ``*`` (limited to ECS tasks by condition) when the
    pipeline binds them. This role takes that statement and names the task and
    execution roles of the services it deploys instead, keeping CDK's
    condition. Where its artifacts are encrypted with a key of another stack,
    its key grant names that account's keys in its region (:class:`KeyScopedRole`).
    Every other grant is CDK's own. (CDK's bind calls
    ``addToPrincipalPolicy`` on the role it is given; jsii routes that call to
    the override below.)

    Args:
        Those of :class:`~constructs.pipeline.key_scoped_role.KeyScopedRole`.
    """

    def __init__(self, scope: Construct, construct_id: str, **props) -> None:
        super().__init__(scope, construct_id, **props)
        self._passable: list[iam.IRole] = []
        self._completed = False
        self._pipeline_role_arn: _PipelineRoleArn | None = None

    @classmethod
    def trusting_pipeline(
        cls,
        scope: Construct,
        construct_id: str,
        *,
        pipeline_account: str,
        artifact_key_account: str | None = None,
    ) -> DeployActionRole:
        """A role, with a generated name, that the pipeline's role (:meth:`trust_pipeline_role`) only may assume.

        Its stack deploys before the pipeline's, and IAM refuses a trust policy
        that names a role that does not exist yet: it trusts the pipeline's
        account with the pipeline role's ARN in a condition.
        """
        pipeline_role_arn = _PipelineRoleArn(scope.node.path)
        role = cls(
            scope,
            construct_id,
            role_name=PhysicalName.GENERATE_IF_NEEDED,
            assumed_by=iam.AccountPrincipal(pipeline_account).with_conditions(
                {"ArnEquals": {"aws:PrincipalArn": Lazy.string(pipeline_role_arn)}}
            ),
            description="Assumed by the release pipeline to deploy in this region",
            artifact_keys=artifact_key_arns(scope, artifact_key_account, [Stack.of(scope).region])
            if artifact_key_account
            else (),
        )
        role._pipeline_role_arn = pipeline_role_arn
        return role

    def trust_pipeline_role(self, role: iam.IRole) -> None:
        """Let ``role``, the release pipeline's, and no other principal assume this role (see :meth:`trusting_pipeline`)."""
        self._pipeline_role_arn.role = role

    def complete(self, deployment: RegionDeployment, artifact_objects: str) -> None:
        """Add, once, what the deploy action needs beyond CDK's grants (``deployment.complete_action_role``)."""
        if not self._completed:
            self._completed = True
            deployment.complete_action_role(self, artifact_objects)

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


@jsii.implements(IStableStringProducer)
class _PipelineRoleArn:
    """The pipeline role's ARN, known once the pipeline stack exists (after the role's)."""

    def __init__(self, path: str) -> None:
        self.path = path
        self.role: iam.IRole | None = None

    def produce(self) -> str:
        if self.role is None:
            raise ValueError(f"{self.path}: trust_pipeline_role() was never called")
        return self.role.role_arn
