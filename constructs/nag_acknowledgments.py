"""Narrow cdk-nag acknowledgments: one rule (or one granular finding) on one construct, with its reason."""

from __future__ import annotations

import json
from collections.abc import Iterable

from aws_cdk import Acknowledgment, CfnElement, Stack, Validations

from constructs import IConstruct


def acknowledge(construct: IConstruct, rule: str, reason: str) -> None:
    """Acknowledge ``rule`` (``AwsSolutions-S1`` or ``AwsSolutions-IAM5[Action::s3:List*]``) on ``construct``."""
    acknowledge_all(construct, [(rule, reason)])


def acknowledge_all(construct: IConstruct, findings: Iterable[tuple[str, str]]) -> None:
    """Acknowledge several (rule, reason) findings on ``construct`` at once (one call into the CDK); none: nothing.

    Two reasons for the same finding (a wildcard two grants share) become one, in order.
    """
    reasons: dict[str, str] = {}
    for rule, reason in findings:
        reasons[rule] = f"{reasons[rule]} {reason}" if rule in reasons else reason
    acknowledgments = [Acknowledgment(id=rule, reason=reason) for rule, reason in reasons.items()]
    if acknowledgments:
        Validations.of(construct).acknowledge(*acknowledgments)


def _logical_id(element: IConstruct) -> str:
    cfn = element if isinstance(element, CfnElement) else element.node.default_child
    stack = Stack.of(cfn)
    return stack.resolve(stack.get_logical_id(cfn))


def arn_of(element: IConstruct, attribute: str = "Arn") -> str:
    """How cdk-nag writes ``Fn::GetAtt`` of ``element`` in a granular finding: ``<LogicalId.Arn>``."""
    return f"<{_logical_id(element)}.{attribute}>"


def ref_of(element: IConstruct) -> str:
    """How cdk-nag writes ``Ref`` of ``element`` in a granular finding: ``<LogicalId>``."""
    return f"<{_logical_id(element)}>"


def as_written(scope: IConstruct, value: str) -> str:
    """How cdk-nag writes the string ``value`` (tokens included) of ``scope``'s stack in a granular finding.

    ``Ref`` and ``Fn::GetAtt`` as ``<LogicalId>`` and ``<LogicalId.Attribute>``, ``Fn::Join`` as its parts
    joined, any other function (``Fn::GetStackOutput``) as compact JSON.
    """

    def written(part: object) -> str:
        if isinstance(part, str):
            return part
        if isinstance(part, dict) and len(part) == 1:
            ((function, argument),) = part.items()
            if function == "Ref":
                return f"<{argument}>"
            if function == "Fn::GetAtt":
                return f"<{argument[0]}.{argument[1]}>"
            if function == "Fn::Join":
                separator, items = argument
                return separator.join(written(item) for item in items)
        return json.dumps(part, separators=(",", ":"))

    return written(Stack.of(scope).resolve(value))


S3_READ_ACTIONS = ("s3:GetBucket*", "s3:GetObject*", "s3:List*")
S3_WRITE_ACTIONS = (*S3_READ_ACTIONS, "s3:DeleteObject*", "s3:Abort*")
KMS_DATA_KEY_ACTIONS = ("kms:GenerateDataKey*", "kms:ReEncrypt*")


def acknowledge_artifact_grants(
    role: IConstruct,
    *,
    s3_actions: tuple[str, ...] = (),
    kms_actions: tuple[str, ...] = (),
    object_arns: tuple[str, ...] = (),
) -> None:
    """The wildcard findings of CDK's S3/KMS grants on pipeline artifact and source buckets.

    ``object_arns`` are the ``<bucket ARN>/*`` resources as cdk-nag writes them.
    """
    acknowledge_all(role, artifact_grant_findings(s3_actions, kms_actions, object_arns))


def artifact_grant_findings(
    s3_actions: tuple[str, ...], kms_actions: tuple[str, ...], object_arns: tuple[str, ...]
) -> list[tuple[str, str]]:
    return [
        *(
            (
                f"AwsSolutions-IAM5[Action::{action}]",
                f"CDK's bucket grant: {action} covers object versions, tags and multipart parts of the "
                "pipeline's own buckets, which the statement names.",
            )
            for action in s3_actions
        ),
        *(
            (
                f"AwsSolutions-IAM5[Action::{action}]",
                f"CDK's key grant: {action} for the pipeline's artifact key only, which the statement names.",
            )
            for action in kms_actions
        ),
        *(
            (
                f"AwsSolutions-IAM5[Resource::{arn}]",
                "CodePipeline writes artifacts under keys it generates per execution; only objects of this "
                "pipeline artifact bucket.",
            )
            for arn in object_arns
        ),
    ]


def acknowledge_deploy_action_role(role: IConstruct, artifact_objects: str) -> None:
    """A CodeDeployToECS action's role: reads the region's artifacts and deployment configurations."""
    stack = Stack.of(role)
    acknowledge_all(
        role,
        [
            *artifact_grant_findings(S3_READ_ACTIONS, (), (artifact_objects,)),
            (
                f"AwsSolutions-IAM5[Resource::arn:aws:codedeploy:{stack.region}:{stack.account}:deploymentconfig:*]",
                "codedeploy:GetDeploymentConfig (read only) on the region's deployment configurations, as AWS "
                "documents for the CodeDeployToECS action: a replaced custom configuration gets a new name.",
            ),
            (
                "AwsSolutions-IAM5[Resource::*]",
                "ecs:RegisterTaskDefinition on '*' is CDK's grant (CodeDeployEcsDeployAction), though the Service "
                "Authorization Reference now lists a task-definition resource for it; "
                "iam:PassRole names the task and execution roles of the services it deploys.",
            ),
        ],
    )
