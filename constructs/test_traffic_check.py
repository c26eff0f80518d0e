"""The optional AfterAllowTestTraffic hook that gates the production traffic shift."""

from __future__ import annotations

from aws_cdk import Duration
from aws_cdk import aws_codedeploy as codedeploy
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_iam as iam

from constructs import Construct
from constructs.lifecycle_hook import hook_function
from constructs.nag_acknowledgments import acknowledge
from constructs.regional_service import RegionalEcsService
from constructs.retention import log_group

LIFECYCLE_EVENT = "AfterAllowTestTraffic"


class TestTrafficCheck(Construct):
    """A Lambda function CodeDeploy runs after test traffic reaches the green task set.

    It requests ``path`` on the test listener, from the service's private
    subnets, and reports the result to CodeDeploy: a failure stops the
    deployment before production traffic moves, and the deployment rolls back.
    The release's appspec names the function under ``AfterAllowTestTraffic``.

    Args:
        service: the regional service whose test listener is checked.
        deployment_group: the deployment group that runs the hook.
        path: the URL path to request.
    """

    __test__ = False  # not a pytest test class, despite the name

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        service: RegionalEcsService,
        deployment_group: codedeploy.IEcsDeploymentGroup,
        path: str,
    ) -> None:
        super().__init__(scope, construct_id)
        test_port = service.settings.test_listener_port
        logs = log_group(self, "Logs")
        # An inline least-privilege role instead of the AWS-managed Lambda execution policies.
        role = iam.Role(self, "Role", assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"))
        logs.grant(role, "logs:CreateLogStream", "logs:PutLogEvents")
        role.add_to_policy(
            iam.PolicyStatement(
                actions=[
                    "ec2:CreateNetworkInterface",
                    "ec2:DescribeNetworkInterfaces",
                    "ec2:DeleteNetworkInterface",
                    "ec2:AssignPrivateIpAddresses",
                    "ec2:UnassignPrivateIpAddresses",
                ],
                resources=["*"],
            )
        )
        acknowledge(
            role,
            "AwsSolutions-IAM5[Resource::*]",
            "The network-interface actions Lambda needs to run in the VPC (the same statement as "
            "AWSLambdaVPCAccessExecutionRole), and codedeploy:PutLifecycleEventHookExecutionStatus: neither "
            "DescribeNetworkInterfaces nor the hook status call supports resource-level permissions.",
        )
        self.function = hook_function(
            self,
            source="after_allow_test_traffic.py",
            lifecycle_event=LIFECYCLE_EVENT,
            what=f"GET {path} on the test listener",
            deployment_group=deployment_group,
            role=role,
            log_group=logs,
            timeout=Duration.minutes(2),
            vpc=service.vpc,
            vpc_subnets=ec2.SubnetSelection(subnet_type=ec2.SubnetType.PRIVATE_WITH_EGRESS),
            environment={
                "TEST_URL": f"http://{service.load_balancer.load_balancer_dns_name}:{test_port}{path}"
            },
        )
        # The Service Authorization Reference lists no resource type for this
        # action: IAM evaluates it on "*", so a deployment-group ARN would deny it.
        self.function.add_to_role_policy(
            iam.PolicyStatement(actions=["codedeploy:PutLifecycleEventHookExecutionStatus"], resources=["*"])
        )
