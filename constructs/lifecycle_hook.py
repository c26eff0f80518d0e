"""A CodeDeploy lifecycle-hook function: inline code from release/, invocable by one deployment group."""

from __future__ import annotations

from pathlib import Path

from aws_cdk import Duration, PhysicalName
from aws_cdk import aws_codedeploy as codedeploy
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs

from constructs import Construct

RELEASE_CODE = Path(__file__).resolve().parent.parent / "release"
INLINE_CODE_LIMIT = 4096  # CloudFormation's limit for inline Lambda code


def hook_function(
    scope: Construct,
    *,
    source: str,
    lifecycle_event: str,
    what: str,
    deployment_group: codedeploy.IEcsDeploymentGroup,
    role: iam.IRole,
    log_group: logs.ILogGroup,
    timeout: Duration,
    **options: object,
) -> lambda_.Function:
    """The function ``Function`` in ``scope``, running ``release/<source>`` inline on Python 3.14.

    Its description reads ``CodeDeploy <lifecycle_event>: <what>`` (the tests find hooks by it), and
    ``deployment_group``'s role may invoke the unqualified function, which is what the appspec names.
    ``options`` go to ``lambda_.Function`` (environment, VPC, retries, ...).
    """
    path = RELEASE_CODE / source
    code = path.read_text()
    if len(code) > INLINE_CODE_LIMIT:
        raise ValueError(f"{path} exceeds {INLINE_CODE_LIMIT} characters of inline code")
    function = lambda_.Function(
        scope,
        "Function",
        function_name=PhysicalName.GENERATE_IF_NEEDED,
        description=f"CodeDeploy {lifecycle_event}: {what}",
        runtime=lambda_.Runtime.PYTHON_3_14,
        handler="index.handler",
        code=lambda_.Code.from_inline(code),
        timeout=timeout,
        log_group=log_group,
        role=role,
        **options,
    )
    deployment_group.role.add_to_principal_policy(
        iam.PolicyStatement(actions=["lambda:InvokeFunction"], resources=[function.function_arn])
    )
    return function
