"""The optional test-traffic hook that gates the production traffic shift."""

from __future__ import annotations

from aws_cdk import Duration
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_iam as iam

from constructs import Construct
from constructs.engines.lifecycle_hook import AFTER_TEST_TRAFFIC, HookRunner, hook_function
from constructs.nag_acknowledgments import acknowledge, acknowledge_all
from constructs.region.regional_service import RegionalEcsService
from constructs.settings.retention import log_group


class TestTrafficCheck(Construct):
    """A Lambda function the deployment engine runs after test traffic reaches the green tasks.

    It requests ``path`` on the test listener, from the service's private
    subnets, and answers the engine (CodeDeploy's ``AfterAllowTestTraffic``,
    ECS's ``POST_TEST_TRAFFIC_SHIFT``): a failure stops the deployment before
    production traffic moves, and the deployment rolls back.

    Args:
        service: the regional service whose test listener is checked.
        runner: the engine that runs the hook.
        path: the URL path to request.
    """

    __test__ = False  # not a pytest test class, despite the name

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        service: RegionalEcsService,
        runner: HookRunner,
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
        reports = " and ".join(runner.report_actions)
        acknowledge(
            role,
            "AwsSolutions-IAM5[Resource::*]",
            "The network-interface actions Lambda needs to run in the VPC (the same statement as "
            "AWSLambdaVPCAccessExecutionRole)"
            + (f", and {reports}: neither " if reports else ": ")
            + "DescribeNetworkInterfaces"
            + (" nor the hook status call supports" if reports else " does not support")
            + " resource-level permissions.",
        )
        self.function = hook_function(
            self,
            module="test_traffic",
            point=AFTER_TEST_TRAFFIC,
            what=f"GET {path} on the test listener",
            runner=runner,
            role=role,
            log_group=logs,
            timeout=Duration.minutes(2),
            vpc=service.vpc,
            vpc_subnets=ec2.SubnetSelection(subnet_type=ec2.SubnetType.PRIVATE_WITH_EGRESS),
            environment={
                "TEST_URL": f"http://{service.load_balancer.load_balancer_dns_name}:{test_port}{path}"
            },
        )
        if runner.report_actions:
            self.function.add_to_role_policy(
                iam.PolicyStatement(actions=list(runner.report_actions), resources=["*"])
            )
        for statement in runner.deployment_statements(service):
            self.function.add_to_role_policy(iam.PolicyStatement.from_json(statement))
        acknowledge_all(role, runner.deployment_findings(service))
