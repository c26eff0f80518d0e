"""The image of a region's last release, kept where CloudFormation reads it (the ECS engine)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from aws_cdk import Duration, Stack, Token
from aws_cdk import aws_ecs as ecs
from aws_cdk import aws_iam as iam
from aws_cdk import custom_resources as cr

from constructs import Construct
from constructs.ecs_hooks import describes
from constructs.lifecycle_hook import HookPoint, HookRunner, hook_function
from constructs.nag_acknowledgments import acknowledge, acknowledge_all
from constructs.retention import log_group

if TYPE_CHECKING:
    from constructs.regional_service import RegionalEcsService

# The id CDK gives the stack's one AwsCustomResource function (aws-cdk-lib's singleton).
AWS_CUSTOM_RESOURCE_ID = "AWS679f53fac002430cb0da5b7982bd2287"
# Once production traffic has moved to the new revision, before the bake time.
AFTER_PRODUCTION_TRAFFIC = HookPoint(
    codedeploy_event=None, ecs_stage=ecs.DeploymentLifecycleStage.POST_PRODUCTION_TRAFFIC_SHIFT
)


class ReleasedImage(Construct):
    """An SSM parameter holding the region's released image, which the task definition reads.

    The parameter (``/<stack name>/released-image``) starts as
    ``bootstrap_image`` and then holds what each release's
    :class:`ReleaseRecorder` writes. :attr:`image` is a dynamic reference to
    it, resolved whenever CloudFormation registers a task definition revision,
    so a ``cdk deploy`` runs the last release, not the bootstrap image.

    The parameter is created by an API call, not as an ``AWS::SSM::Parameter``:
    CloudFormation would write the template's value back (the bootstrap
    image) on any later change to the resource, such as a new
    ``bootstrap_image``. It is deleted with the stack.

    Args:
        bootstrap_image: the first value.
    """

    def __init__(self, scope: Construct, construct_id: str, *, bootstrap_image: str) -> None:
        super().__init__(scope, construct_id)
        stack = Stack.of(self)
        self.parameter_name = f"/{stack.stack_name}/released-image"
        self.parameter_arn = f"arn:aws:ssm:{stack.region}:{stack.account}:parameter{self.parameter_name}"
        self.record = cr.AwsCustomResource(
            self,
            "Parameter",
            on_create=cr.AwsSdkCall(
                service="SSM",
                action="putParameter",
                parameters={
                    "Name": self.parameter_name,
                    "Value": bootstrap_image,
                    "Type": "String",
                    "Overwrite": True,
                    "Description": "The image of this region's last release; the task definition reads it",
                },
                physical_resource_id=cr.PhysicalResourceId.of(self.parameter_name),
            ),
            on_delete=cr.AwsSdkCall(
                service="SSM",
                action="deleteParameter",
                parameters={"Name": self.parameter_name},
                ignore_error_codes_matching="ParameterNotFound",
            ),
            policy=cr.AwsCustomResourcePolicy.from_sdk_calls(resources=[self.parameter_arn]),
            log_group=log_group(self, "Logs"),
            install_latest_aws_sdk=False,
        )
        # Built from the resource's Ref (its physical ID, the parameter's name), as AWS's same-stack
        # secretsmanager example does: resolved once the parameter exists, on the first create too.
        name = Token.as_string(self.record.node.find_child("Resource").ref)
        self.image = ecs.ContainerImage.from_registry(f"{{{{resolve:ssm:{name}}}}}")
        acknowledge(
            stack.node.find_child(AWS_CUSTOM_RESOURCE_ID).node.find_child("ServiceRole"),
            "AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole]",
            "CDK's AwsCustomResource function (creates and deletes the released-image parameter): its own logs "
            "only, through the managed policy CDK attaches; its SSM calls are limited to that parameter.",
        )


class ReleaseRecorder(Construct):
    """The hook that writes each release's image to a :class:`ReleasedImage` (release/hooks/record_release.py).

    ECS runs it after production traffic has moved to the new revision. It
    never fails a deployment: a failed record is logged as an ERROR line.

    Args:
        service: the regional service whose releases are recorded (its
            :attr:`~RegionalEcsService.released_image`); the function logs to its log group.
        runner: the engine that runs the hook (the ECS service).
    """

    def __init__(
        self, scope: Construct, construct_id: str, *, service: RegionalEcsService, runner: HookRunner
    ) -> None:
        super().__init__(scope, construct_id)
        released_image = service.released_image
        revisions, findings = describes(service, "ecs:DescribeServiceRevisions")
        role = iam.Role(
            self,
            "Role",
            assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"),
            inline_policies={
                "RecordRelease": iam.PolicyDocument.from_json(
                    {
                        "Version": "2012-10-17",
                        "Statement": [
                            revisions,
                            # No resource type in the Service Authorization Reference: evaluated on "*".
                            {"Effect": "Allow", "Action": "ecs:DescribeTaskDefinition", "Resource": "*"},
                            {
                                "Effect": "Allow",
                                "Action": "ssm:PutParameter",
                                "Resource": released_image.parameter_arn,
                            },
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
        self.function = hook_function(
            self,
            module="record_release",
            point=AFTER_PRODUCTION_TRAFFIC,
            what="records the released image for later cdk deploys",
            runner=runner,
            role=role,
            log_group=service.log_group,
            timeout=Duration.minutes(1),
            environment={
                "RELEASED_IMAGE": released_image.parameter_name,
                "CONTAINER": service.settings.container_name,
            },
        )
        acknowledge_all(
            role,
            [
                *findings,
                (
                    "AwsSolutions-IAM5[Resource::*]",
                    "ecs:DescribeTaskDefinition supports no resource-level permissions; read only.",
                ),
            ],
        )
