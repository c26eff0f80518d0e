"""Deletion protection that a failed first create cannot trip over: turned on by the stack's last resource."""

from __future__ import annotations

from collections.abc import Sequence

from aws_cdk import ArnFormat, Aws, CfnResource, CustomResource, Duration, Stack
from aws_cdk import aws_elasticloadbalancingv2 as elbv2
from aws_cdk import aws_iam as iam
from aws_cdk import aws_rds as rds

from constructs import Construct
from constructs.engines.lifecycle_hook import release_function
from constructs.settings.retention import log_group

RESOURCE_TYPE = "Custom::DeletionProtection"


class ProtectionAfterCreate(Construct):
    """Turns on the deletion protection of a stack's load balancers and database clusters, after all else.

    A resource with deletion protection cannot be deleted, so if it were
    protected in the template, a first create of the stack that failed after
    it existed would end in ``ROLLBACK_FAILED`` and could not be retried. Here
    the template leaves the property out, and a custom resource
    (``release/hooks/protect_after_create.py``), which :meth:`come_last` makes
    depend on every other resource of the stack, turns it on through the API
    once everything else exists. While a failed create rolls back it turns
    it off; on the stack's deletion it leaves it on (``make destroy`` turns it
    off deliberately).

    CloudFormation never turns it off again on an update: the load balancer's
    attributes API changes only the attributes it is given ("existing
    attributes that you do not modify retain their current values",
    ModifyLoadBalancerAttributes), and the cluster's handler sends
    ``DeletionProtection`` only when the template has it
    (aws-cloudformation-resource-providers-rds, ``Translator.modifyDbClusterRequest``).

    Args:
        load_balancers: to protect.
        clusters: to protect. Default none.
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        load_balancers: Sequence[elbv2.ILoadBalancerV2],
        clusters: Sequence[rds.IDatabaseCluster] = (),
    ) -> None:
        super().__init__(scope, construct_id)
        stack = Stack.of(self)
        role = iam.Role(
            self,
            "Role",
            assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"),
            description="Turns deletion protection on after the stack's first create",
        )
        logs = log_group(self, "Logs")
        logs.grant_write(role)
        self.function = release_function(
            self,
            description="Deletion protection on, once everything else of the stack exists",
            handler="protect_after_create.on_event",
            timeout=Duration.minutes(2),
            role=role,
            log_group=logs,
        )
        # Is the stack's creation rolling back? (Delete requests only.)
        statements = [
            iam.PolicyStatement(actions=["cloudformation:DescribeStacks"], resources=[Aws.STACK_ID])
        ]
        if load_balancers:
            statements.append(
                iam.PolicyStatement(
                    actions=["elasticloadbalancing:ModifyLoadBalancerAttributes"],
                    resources=[balancer.load_balancer_arn for balancer in load_balancers],
                )
            )
        if clusters:
            statements.append(
                iam.PolicyStatement(
                    actions=["rds:ModifyDBCluster"],
                    resources=[
                        stack.format_arn(
                            service="rds",
                            resource="cluster",
                            resource_name=cluster.cluster_identifier,
                            arn_format=ArnFormat.COLON_RESOURCE_NAME,
                        )
                        for cluster in clusters
                    ],
                )
            )
        for statement in statements:
            role.add_to_policy(statement)
        self.resource = CustomResource(
            self,
            "Resource",
            service_token=self.function.function_arn,
            resource_type=RESOURCE_TYPE,
            properties={
                "LoadBalancerArns": [balancer.load_balancer_arn for balancer in load_balancers],
                "DatabaseClusters": [cluster.cluster_identifier for cluster in clusters],
            },
        )

    def come_last(self) -> None:
        """Make the custom resource depend on every other resource of the stack.

        A dependency on a construct is one on every resource below it, resolved when the app synthesizes: so
        the resource depends on each construct beside the path from the stack down to this one (a few calls
        into the CDK, not two per resource of the stack).
        """
        resource = self.resource.node.default_child
        ancestors = {scope.node.path for scope in self.node.scopes}
        parent = Stack.of(self)
        while parent is not self:
            inside = None
            for child in parent.node.children:
                path = child.node.path
                if path in ancestors:
                    inside = child
                elif isinstance(child, CfnResource) or child.node.children:
                    resource.node.add_dependency(child)
            parent = inside
