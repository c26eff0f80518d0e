"""The image a region's service serves, read when CloudFormation registers a task definition (the ECS engine)."""

from __future__ import annotations

import hashlib
import json

import jsii
from aws_cdk import CustomResource, Duration, IStableStringProducer, Lazy, Stack, Token
from aws_cdk import aws_ecs as ecs
from aws_cdk import aws_iam as iam

from constructs import Construct
from constructs.engines.ecs_hooks import describes
from constructs.engines.ecs_service_parts import EcsServiceParts
from constructs.engines.lifecycle_hook import release_function
from constructs.nag_acknowledgments import acknowledge_all

RESOURCE_TYPE = "Custom::ReleasedImage"


class ReleasedImage(Construct):
    """The image the region's service serves now, as CloudFormation reads it while the stack deploys.

    CloudFormation owns the service's task definition (the ECS engine), so a
    ``cdk deploy`` that registers a revision must give it the image the
    region serves: never the bootstrap image again, never an older release.
    :attr:`image` is the ``Image`` attribute of a custom resource
    (``release/hooks/released_image.py``) that asks ECS, when it is created
    and whenever the task definition's template changes (its
    ``TaskDefinition`` property is a fingerprint of that template, set by
    :meth:`follow`), which task definition the cluster's service serves:
    that one's image, or ``bootstrap_image`` before the service exists; it
    fails, rolling the update back, while a deployment of the service is
    still running. Every step is a documented ECS API answer; nothing reads a
    value that the same deploy writes.

    Args:
        service: the regional service (its cluster holds only this service; its log group takes the logs).
        bootstrap_image: the image before the service exists.
    """

    def __init__(
        self, scope: Construct, construct_id: str, *, service: EcsServiceParts, bootstrap_image: str
    ) -> None:
        super().__init__(scope, construct_id)
        stack = Stack.of(self)
        cluster = service.cluster
        deployments, findings = describes(
            service, "ecs:DescribeServiceDeployments", "ecs:DescribeServiceRevisions"
        )
        prefix = f"arn:aws:ecs:{stack.region}:{stack.account}"
        role = iam.Role(
            self,
            "Role",
            assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"),
            inline_policies={
                "ReadServedImage": iam.PolicyDocument.from_json(
                    {
                        "Version": "2012-10-17",
                        "Statement": [
                            {
                                # No resource type in the Service Authorization Reference: "*", by cluster.
                                "Effect": "Allow",
                                "Action": "ecs:ListServices",
                                "Resource": "*",
                                "Condition": {"ArnEquals": {"ecs:cluster": cluster.cluster_arn}},
                            },
                            {
                                "Effect": "Allow",
                                "Action": "ecs:DescribeServices",
                                "Resource": f"{prefix}:service/{cluster.cluster_name}/*",
                            },
                            deployments,
                            # No resource type in the Service Authorization Reference: evaluated on "*".
                            {"Effect": "Allow", "Action": "ecs:DescribeTaskDefinition", "Resource": "*"},
                            {
                                "Effect": "Allow",
                                "Action": ["logs:CreateLogStream", "logs:PutLogEvents"],
                                "Resource": service.log_group.log_group_arn,
                            },
                        ],
                    }
                )
            },
        )
        function = release_function(
            self,
            description="The image the region's service serves now, for the task definition CloudFormation registers",
            handler="released_image.on_event",
            timeout=Duration.minutes(1),
            role=role,
            log_group=service.log_group,
        )
        self._fingerprint = _Fingerprint()
        self.resource = CustomResource(
            self,
            "Resource",
            service_token=function.function_arn,
            resource_type=RESOURCE_TYPE,
            properties={
                "Cluster": cluster.cluster_name,
                "Container": service.settings.container_name,
                "BootstrapImage": bootstrap_image,
                "TaskDefinition": Lazy.string(self._fingerprint),
            },
        )
        self.image = ecs.ContainerImage.from_registry(Token.as_string(self.resource.get_att("Image")))
        acknowledge_all(
            role,
            [
                *findings,
                (
                    "AwsSolutions-IAM5[Resource::*]",
                    "ecs:ListServices (limited to this service's cluster by condition) and ecs:DescribeTaskDefinition "
                    "support no resource-level permissions; read only.",
                ),
            ],
        )

    def follow(self, task_definition: ecs.TaskDefinition) -> None:
        """Be read again whenever ``task_definition``'s template changes (the image is read then, and only then)."""
        self._fingerprint.of = task_definition.node.default_child


@jsii.implements(IStableStringProducer)
class _Fingerprint:
    """A hash of a task definition's CloudFormation properties, as synthesized (its image reference included)."""

    def __init__(self) -> None:
        self.of = None

    def produce(self) -> str:
        if self.of is None:
            raise ValueError("ReleasedImage.follow() was never called")
        # _cfn_properties is CfnResource's (protected) view of the properties; property overrides are
        # added at rendering and are not in it (the task definition has none).
        properties = Stack.of(self.of).resolve(self.of._cfn_properties)
        return hashlib.sha256(json.dumps(properties, sort_keys=True).encode()).hexdigest()
