"""What the pipeline's account may read of a region in another account while it releases."""

from __future__ import annotations

from aws_cdk import PhysicalName, Stack
from aws_cdk import aws_iam as iam

from constructs import Construct
from constructs.nag_acknowledgments import acknowledge_all
from constructs.role_arns import RoleArns

# What the build and the wait read (release/prepare_release.py; release/hooks/await_deployments.py).
DESCRIBES_SERVICE = ("ecs:DescribeServices", "ecs:DescribeServiceDeployments", "ecs:DescribeServiceRevisions")


class ReleaseReaderRole(iam.Role):
    """A read-only role in a region of another account than the pipeline's, for the pipeline's own roles.

    ECS has no resource policies, so the pipeline's account cannot be let to
    read a task definition or a service of another account: its build
    (``DescribeTaskDefinition`` of the service's family, to render the
    release's revision) and its wait for ECS deployments
    (``DescribeServices``, ``DescribeServiceDeployments``,
    ``DescribeServiceRevisions``) assume this role instead. It may make those
    calls only, on this region's cluster, and only the roles given to
    :meth:`trust` may assume it: this stack deploys before the pipeline's,
    so it trusts the pipeline's account with their ARNs in a condition (IAM
    refuses a trust policy naming a role that does not exist yet).

    Args:
        pipeline_account: the account of the release pipeline.
        cluster_arn: the ARN of the region's ECS cluster.
    """

    def __init__(
        self, scope: Construct, construct_id: str, *, pipeline_account: str, cluster_arn: str
    ) -> None:
        self._readers = RoleArns(scope.node.path)
        super().__init__(
            scope,
            construct_id,
            role_name=PhysicalName.GENERATE_IF_NEEDED,
            assumed_by=self._readers.principal(pipeline_account),
            description="Assumed by the release pipeline's build and wait to read this region's service",
        )
        stack = Stack.of(self)
        self.add_to_policy(iam.PolicyStatement(actions=["ecs:DescribeTaskDefinition"], resources=["*"]))
        scoped = [
            stack.format_arn(service="ecs", resource=kind, resource_name="*")
            for kind in ("service", "service-deployment", "service-revision")
        ]
        self.add_to_policy(
            iam.PolicyStatement(
                actions=list(DESCRIBES_SERVICE),
                resources=scoped,
                conditions={"ArnEquals": {"ecs:cluster": cluster_arn}},
            )
        )
        acknowledge_all(
            self,
            [
                (
                    "AwsSolutions-IAM5[Resource::*]",
                    "ecs:DescribeTaskDefinition supports no resource-level permissions (read only).",
                ),
                *(
                    (
                        f"AwsSolutions-IAM5[Resource::{stack.resolve(arn)}]",
                        "Read-only ECS calls on this region's cluster only (ecs:cluster condition), on the "
                        "service and the deployments and revisions ECS creates for it with generated IDs.",
                    )
                    for arn in scoped
                ),
            ],
        )

    def trust(self, *roles: iam.IRole) -> None:
        """Let ``roles`` (of the pipeline's account) assume this role; call before the app synthesizes."""
        self._readers.add(*roles)
