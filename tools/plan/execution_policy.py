"""The CloudFormation execution policy of an account: what deploying this app's stacks there takes, no more.

``cdk bootstrap --trust`` requires ``--cloudformation-execution-policies``; AWS's default,
``AdministratorAccess``, would give the pipeline's account full control of each jurisdiction's account.
The actions come from CloudFormation's own resource schemas (the registry's ``handlers``: the permissions
each resource type's create, read, update and delete need), as cfn-lint ships them for each region, for
every resource type the account's stacks hold; plus what CloudFormation itself does for a CDK stack:
invoke the custom resources' functions, and read the bootstrap version parameter. IAM caps a managed
policy at 6,144 characters (whitespace not counted), so the actions are split across as many policies as
that takes.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from functools import cache
from pathlib import Path

import cfnlint

from tools.cloud_assembly import AssemblyError, CloudAssembly

SCHEMAS = Path(cfnlint.__file__).parent / "data" / "schemas"
HANDLERS = ("create", "read", "update", "delete")
# Resource types CloudFormation handles without calling any service.
NO_PERMISSIONS = frozenset({"AWS::CDK::Metadata"})
# IAM's limit for a managed policy document, whitespace not counted (IAM quotas).
MANAGED_POLICY_CHARACTERS = 6144
# What IAM accepts as an action ("Action can only contain letters, numbers, ..."). Some schemas list other
# things among their permissions (AWS::Logs::LogGroup: "s3:REST.PUT.OBJECT", an S3 access log operation);
# IAM would refuse the whole policy for one of them, and no request is authorized by such a name.
IAM_ACTION = re.compile(r"^[A-Za-z0-9-]+:[A-Za-z0-9*?]+$")


@cache
def _index(region: str) -> dict[str, str]:
    return json.loads((SCHEMAS / "providers" / f"{region}.json").read_text())


@cache
def handler_permissions(region: str, resource_type: str) -> frozenset[str]:
    """The permissions CloudFormation's schema of ``resource_type`` in ``region`` lists for its handlers."""
    if resource_type in NO_PERMISSIONS:
        return frozenset()
    digest = _index(region).get(resource_type)
    if digest is None:
        raise AssemblyError(
            f"{resource_type} has no CloudFormation schema in {region}; it cannot be deployed there"
        )
    schema = json.loads((SCHEMAS / "resources" / f"{digest}.json").read_text())
    handlers = schema.get("handlers")
    if not handlers:
        raise AssemblyError(
            f"{resource_type}: CloudFormation's schema lists no handler permissions; the execution policy "
            "cannot be derived for it"
        )
    listed = {p for name in HANDLERS for p in handlers.get(name, {}).get("permissions", [])}
    return frozenset(p for p in listed if IAM_ACTION.fullmatch(p))


def account_actions(assembly: CloudAssembly, account: str) -> tuple[str, ...]:
    """Every action deploying, updating and deleting ``account``'s stacks takes, sorted."""
    actions: set[str] = set()
    for stack in assembly.stacks.values():
        if stack.account != account:
            continue
        for resource in stack.resources.values():
            kind = resource["Type"]
            if kind.startswith("Custom::") or kind == "AWS::CloudFormation::CustomResource":
                continue  # CloudFormation invokes their functions: see execution_policies
            actions |= handler_permissions(stack.region, kind)
    return tuple(sorted(actions))


def _document(statements: list[dict]) -> dict:
    return {"Version": "2012-10-17", "Statement": statements}


def _characters(document: dict) -> int:
    return len(json.dumps(document, separators=(",", ":")))


def execution_policies(assembly: CloudAssembly, account: str) -> list[dict]:
    """The policy documents of ``account``'s CloudFormation execution role, each within IAM's size limit."""
    own = [
        {
            # Custom resources: CloudFormation invokes their functions with the execution role.
            "Sid": "InvokeCustomResources",
            "Effect": "Allow",
            "Action": "lambda:InvokeFunction",
            "Resource": f"arn:aws:lambda:*:{account}:function:*",
        },
        {
            # Every CDK stack's CheckBootstrapVersion rule reads the bootstrap version parameter.
            "Sid": "ReadBootstrapVersion",
            "Effect": "Allow",
            "Action": "ssm:GetParameters",
            "Resource": f"arn:aws:ssm:*:{account}:parameter/cdk-bootstrap/*",
        },
    ]
    documents: list[dict] = []
    chunk: list[str] = []
    for action in account_actions(assembly, account):
        candidate = [*chunk, action]
        statements = [*(own if not documents else []), _allow(candidate, len(documents))]
        if chunk and _characters(_document(statements)) > MANAGED_POLICY_CHARACTERS:
            documents.append(_document([*(own if not documents else []), _allow(chunk, len(documents))]))
            chunk = [action]
        else:
            chunk = candidate
    documents.append(_document([*(own if not documents else []), _allow(chunk, len(documents))]))
    return documents


def _allow(actions: Iterable[str], index: int) -> dict:
    return {
        "Sid": f"DeployTheAppsResources{index + 1}",
        "Effect": "Allow",
        "Action": list(actions),
        "Resource": "*",
    }
