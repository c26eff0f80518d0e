"""The IAM policies of the synthesized app as AWS would hold them: intrinsics resolved, by role.

Identity policies of a role are its inline ``Policies``, every ``AWS::IAM::Policy``
attached to it, and its managed policies (AWS managed ones from the copies in
``tests/iam/managed_policies``, each with the address it was taken from).
"""

from __future__ import annotations

import json
from pathlib import Path

from cfn_resolver import Resolver
from fakes.iam_client import Caller
from template_queries import resources

MANAGED_POLICIES = Path(__file__).resolve().parent / "iam" / "managed_policies"
AWS_MANAGED_PREFIX = "arn:aws:iam::aws:policy/"


def aws_managed_policy(arn: str) -> dict:
    """The document of an AWS managed policy, from its stored copy (the file names its source)."""
    name = arn.removeprefix(AWS_MANAGED_PREFIX).rsplit("/", 1)[-1]
    path = MANAGED_POLICIES / f"{name}.json"
    if not arn.startswith(AWS_MANAGED_PREFIX) or not path.is_file():
        raise KeyError(f"no stored copy of managed policy {arn}; add {path.name} with its source")
    return json.loads(path.read_text())["document"]


def identity_policies(resolver: Resolver, stack_name: str, role_id: str) -> tuple[dict, ...]:
    """Every identity policy of the role ``role_id`` in ``stack_name``, resolved."""
    template = resolver.stacks[stack_name].template
    role = template["Resources"][role_id]["Properties"]
    documents = [p["PolicyDocument"] for p in role.get("Policies", [])]
    for policy_type in ("AWS::IAM::Policy", "AWS::IAM::ManagedPolicy"):
        for resource in resources(template, policy_type).values():
            if {"Ref": role_id} in resource["Properties"].get("Roles", []):
                documents.append(resource["Properties"]["PolicyDocument"])
    resolved = [resolver.resolve(stack_name, document) for document in documents]
    for arn in role.get("ManagedPolicyArns", []):
        resolved.append(aws_managed_policy(resolver.resolve(stack_name, arn)))
    return tuple(resolved)


def caller(resolver: Resolver, stack_name: str, role_id: str, session_name: str = "session") -> Caller:
    """A session of the role ``role_id``, as the simulator sees it."""
    return Caller(
        role_arn=resolver.arn(resolver.stacks[stack_name], role_id),
        policies=identity_policies(resolver, stack_name, role_id),
        session_name=session_name,
    )


def trust_policy(resolver: Resolver, stack_name: str, role_id: str) -> dict:
    template = resolver.stacks[stack_name].template
    return resolver.resolve(
        stack_name, template["Resources"][role_id]["Properties"]["AssumeRolePolicyDocument"]
    )


def bucket_policy(resolver: Resolver, stack_name: str, bucket_id: str) -> dict | None:
    """The bucket policy of ``bucket_id``, if it has one."""
    template = resolver.stacks[stack_name].template
    for resource in resources(template, "AWS::S3::BucketPolicy").values():
        if resource["Properties"]["Bucket"] == {"Ref": bucket_id}:
            return resolver.resolve(stack_name, resource["Properties"]["PolicyDocument"])
    return None
