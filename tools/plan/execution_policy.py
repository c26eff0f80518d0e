"""The CloudFormation execution policy of an account: what deploying this app's stacks there takes, no more.

``cdk bootstrap --trust`` requires ``--cloudformation-execution-policies``; AWS's default,
``AdministratorAccess``, would give the pipeline's account full control of each jurisdiction's account.
The actions come from CloudFormation's own resource schemas (the registry's ``handlers``: the permissions
each resource type's create, read, update and delete need), as cfn-lint ships them for each region, for
every resource type the account's stacks hold (and still hold, deployed); plus what CloudFormation itself
does for a CDK stack: resolve ``Fn::GetAZs``, invoke the custom resources' functions, set up a state
machine's log delivery, read the outputs ``Fn::GetStackOutput`` names, and read the bootstrap version
parameter. IAM caps a managed
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


def resource_types(assembly: CloudAssembly, account: str, deployed: Iterable[tuple[str, dict]] = ()) -> set:
    """(region, resource type) of every resource of ``account``'s stacks, synthesized or still deployed.

    ``deployed``: (region, template) of the account's stacks as CloudFormation holds them now. An update
    deletes the resources it drops, and a rollback makes them again: both need their permissions.
    """
    templates = [(s.region, s.template) for s in assembly.stacks.values() if s.account == account]
    return {
        (region, resource["Type"])
        for region, template in (*templates, *deployed)
        for resource in template.get("Resources", {}).values()
    }


def stack_output_grants(
    assembly: CloudAssembly, account: str, deployed: Iterable[tuple[str, dict]] = ()
) -> tuple[list[str], list[str]]:
    """The stacks ``account``'s stacks read outputs of with ``Fn::GetStackOutput`` (CloudFormation reads them
    as the reading stack's execution role, unless the reference names a ``RoleArn``), and those roles (which
    the execution role must be able to assume): "RoleArn ... defaults to the current stack's execution role"
    (the function's reference). Sorted ARNs, each list."""
    templates = [(s.region, s.template) for s in assembly.stacks.values() if s.account == account]
    stacks, roles = set(), set()
    for region, template in (*templates, *deployed):
        for read in stack_output_reads(template):
            name, role = read.get("StackName"), read.get("RoleArn")
            if not isinstance(name, str) or not isinstance(read.get("Region", region), str):
                raise AssemblyError(
                    f"Fn::GetStackOutput of {json.dumps(read)}: the stack it reads is not named in the template; "
                    "the execution policy cannot be derived for it"
                )
            if role is None:
                stacks.add(f"arn:aws:cloudformation:{read.get('Region', region)}:{account}:stack/{name}/*")
            elif isinstance(role, str):
                roles.add(role)
            else:
                raise AssemblyError(
                    f"Fn::GetStackOutput of {name}: its RoleArn is not named in the template; the execution "
                    "policy cannot be derived for it"
                )
    return sorted(stacks), sorted(roles)


def stack_output_reads(value: object) -> list[dict]:
    """The arguments of every ``Fn::GetStackOutput`` in ``value`` (a template or a part of one)."""
    if isinstance(value, dict):
        if "Fn::GetStackOutput" in value:
            return [value["Fn::GetStackOutput"]]
        return [read for item in value.values() for read in stack_output_reads(item)]
    if isinstance(value, list):
        return [read for item in value for read in stack_output_reads(item)]
    return []


def account_actions(
    assembly: CloudAssembly, account: str, deployed: Iterable[tuple[str, dict]] = ()
) -> tuple[str, ...]:
    """Every action deploying, updating and deleting ``account``'s stacks takes, sorted."""
    actions: set[str] = set()
    for region, kind in resource_types(assembly, account, deployed):
        if kind.startswith("Custom::") or kind == "AWS::CloudFormation::CustomResource":
            continue  # CloudFormation invokes their functions: see execution_policies
        actions |= handler_permissions(region, kind)
    return tuple(sorted(actions))


def _document(statements: list[dict]) -> dict:
    return {"Version": "2012-10-17", "Statement": statements}


def _characters(document: dict) -> int:
    return len(json.dumps(document, separators=(",", ":")))


def execution_policies(
    assembly: CloudAssembly, account: str, deployed: Iterable[tuple[str, dict]] = ()
) -> list[dict]:
    """The policy documents of ``account``'s CloudFormation execution role, each within IAM's size limit.

    ``deployed``: the account's stacks as deployed now (see :func:`resource_types`).
    """
    deployed = tuple(deployed)
    own = [
        {
            # Custom resources: CloudFormation invokes their functions with the execution role.
            "Sid": "InvokeCustomResources",
            "Effect": "Allow",
            "Action": "lambda:InvokeFunction",
            "Resource": f"arn:aws:lambda:*:{account}:function:*",
        },
        {
            # Fn::GetAZs (the regional stacks' subnets without availability_zones): "you need permissions to
            # the Amazon EC2 DescribeAvailabilityZones and DescribeAccountAttributes actions" (its reference).
            "Sid": "ResolveAvailabilityZones",
            "Effect": "Allow",
            "Action": [
                "ec2:DescribeAccountAttributes",
                "ec2:DescribeAvailabilityZones",
                "ec2:DescribeSubnets",
            ],
            "Resource": "*",
        },
        {
            # Every CDK stack's CheckBootstrapVersion rule reads the bootstrap version parameter.
            "Sid": "ReadBootstrapVersion",
            "Effect": "Allow",
            "Action": "ssm:GetParameters",
            "Resource": f"arn:aws:ssm:*:{account}:parameter/cdk-bootstrap/*",
        },
    ]
    if any(
        kind == "AWS::StepFunctions::StateMachine" for _, kind in resource_types(assembly, account, deployed)
    ):
        own.append(
            {
                # A state machine that logs to CloudWatch Logs (the certificate provider's waiter): Step
                # Functions sets up the log delivery with its creator's permissions, which its schema does
                # not list (Step Functions developer guide, "IAM policies for logging to CloudWatch Logs").
                "Sid": "DeliverStateMachineLogs",
                "Effect": "Allow",
                "Action": [
                    "logs:CreateLogDelivery",
                    "logs:DeleteLogDelivery",
                    "logs:DescribeLogGroups",
                    "logs:DescribeResourcePolicies",
                    "logs:GetLogDelivery",
                    "logs:ListLogDeliveries",
                    "logs:PutResourcePolicy",
                    "logs:UpdateLogDelivery",
                ],
                "Resource": "*",
            }
        )
    stacks, roles = stack_output_grants(assembly, account, deployed)
    if stacks:
        own.append(
            {
                "Sid": "ReadReferencedStackOutputs",
                "Effect": "Allow",
                "Action": "cloudformation:DescribeStacks",
                "Resource": stacks,
            }
        )
    if roles:
        own.append(
            {
                "Sid": "AssumeStackOutputReaders",
                "Effect": "Allow",
                "Action": "sts:AssumeRole",
                "Resource": roles,
            }
        )
    documents: list[dict] = []
    chunk: list[str] = []
    for action in account_actions(assembly, account, deployed):
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
