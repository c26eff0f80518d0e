"""What a destroyed app left behind that ``make destroy`` does not list as kept (the acceptance suite's check 7).

Three looks, in each account and region of the app's stacks: the stacks themselves (CloudFormation
``DescribeStacks``); every resource still tagged with one of their names (``aws:cloudformation:stack-name``,
which CloudFormation puts on each resource that takes tags; Resource Groups Tagging API ``GetResources``),
confirmed with its own service where the Tagging API is known to lag; and the log groups services create by
themselves for their resources (Lambda's per function, RDS's per exported log), which no template holds and
which are named from the resources' physical IDs read before the deletion. IAM roles and untaggable resources
are not seen by the second look; a deleted stack's IAM roles go with it.
The Tagging API lags behind deletions, so ``settled`` looks again until nothing unlisted is left or
SETTLE_SECONDS have passed.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Sequence

from botocore.exceptions import ClientError

from tools.cloud_assembly import CloudAssembly
from tools.operate import kept_resources
from tools.operate.patient_aws import Aws, error_code
from tools.operate.regional_state import StackResources, stack_state

STACK_TAG = "aws:cloudformation:stack-name"
SETTLE_SECONDS, POLL_SECONDS = 600, 30
MAX_TAG_VALUES = 20  # GetResources takes at most 20 values per tag filter


def listed(arn: str, names: set[str]) -> bool:
    """Whether the ARN's resource is one of ``names`` (a bucket, repository, log group, key, snapshot ...)."""
    resource = arn.split(":", 5)[5]
    return any(resource == n or resource.endswith(f"/{n}") or resource.endswith(f":{n}") for n in names)


# Where the Tagging API is known to answer for what is gone, the resource's own service decides: a load
# balancer's parts can stay in GetResources for hours (aws/aws-sdk#676), and ECS keeps every deregistered task
# definition revision, INACTIVE, with its tags (it cannot be deleted until it is).
_ELB_LOOKUPS = {
    "loadbalancer/": ("describe_load_balancers", "LoadBalancerArns"),
    "targetgroup/": ("describe_target_groups", "TargetGroupArns"),
    "listener/": ("describe_listeners", "ListenerArns"),
    "listener-rule/": ("describe_rules", "RuleArns"),
}


def still_there(aws: Aws, region: str, arn: str) -> bool:
    """Whether the resource the Tagging API names still exists (and, for a task definition, is ACTIVE)."""
    service, resource = arn.split(":")[2], arn.split(":", 5)[5]
    try:
        if service == "ecs" and resource.startswith("task-definition/"):
            described = aws.call("ecs", region, "describe_task_definition", taskDefinition=arn)
            return described["taskDefinition"]["status"] == "ACTIVE"
        if service == "elasticloadbalancing":
            for prefix, (operation, parameter) in _ELB_LOOKUPS.items():
                if resource.startswith(prefix):
                    try:
                        aws.call("elbv2", region, operation, **{parameter: [arn]})
                    except ClientError as error:
                        # Its own NotFound, or its parent's (a rule whose listener is gone).
                        if error_code(error).endswith("NotFound"):
                            return False
                        raise
    except ClientError as error:
        if error_code(error) == "ClientException":  # ECS: the task definition is not found
            return False
        raise
    return True


def service_log_groups(
    aws: Aws, assembly: CloudAssembly, stacks: Sequence[str]
) -> dict[tuple[str, str], list[str]]:
    """By (account, region), the log groups services would make for the deployed stacks' resources (read
    before they go: a deleted stack's resources cannot be listed by its name)."""
    found: dict[tuple[str, str], list[str]] = defaultdict(list)
    for name in stacks:
        stack = assembly.stacks[name]
        resources = StackResources.deployed(aws.of(stack.account), stack)
        if resources is not None:
            found[stack.account, stack.region] += kept_resources.service_log_groups(stack, resources.physical)
    return found


def left_behind(
    aws: Aws,
    assembly: CloudAssembly,
    stacks: Sequence[str],
    kept: Sequence[dict],
    log_groups: dict[tuple[str, str], list[str]],
) -> list[str]:
    """Everything of ``stacks`` still there and not in ``kept`` (make destroy's list: region, kind, name), of
    ``log_groups`` (by account and region: what services made for their resources) too. Each account is
    asked with its own credentials (``Aws.of``)."""
    # By (account, region); an item of a one-account app names no account, and counts in any.
    kept_names: dict[tuple[str, str], set[str]] = defaultdict(set)
    for item in kept:
        kept_names[item.get("account", ""), item["region"]].add(item["name"])
    found, by_place = [], defaultdict(list)
    for name in stacks:
        stack = assembly.stacks[name]
        by_place[stack.account, stack.region].append(stack)
        status, _ = stack_state(aws.of(stack.account), stack)
        if status != "DELETE_COMPLETE":
            found.append(f"stack {stack.name} ({stack.region}, {status})")
    for (account, region), regional in by_place.items():
        calls = aws.of(account)
        listed_here = kept_names[account, region] | kept_names["", region]
        names = [s.name for s in regional]
        for start in range(0, len(names), MAX_TAG_VALUES):
            tagged = calls.pages(
                "resourcegroupstaggingapi",
                region,
                "get_resources",
                "ResourceTagMappingList",
                "PaginationToken",
                TagFilters=[{"Key": STACK_TAG, "Values": names[start : start + MAX_TAG_VALUES]}],
            )
            found += [
                t["ResourceARN"]
                for t in tagged
                if not listed(t["ResourceARN"], listed_here) and still_there(calls, region, t["ResourceARN"])
            ]
    for (account, region), names in log_groups.items():
        found += [
            f"log group {name} ({region})"
            for name in kept_resources.existing_log_groups(aws.of(account), region, names)
            if name not in kept_names[account, region] | kept_names["", region]
        ]
    return found


def settled(
    aws: Aws,
    assembly: CloudAssembly,
    stacks: Sequence[str],
    kept: Sequence[dict],
    log_groups: dict[tuple[str, str], list[str]],
    *,
    sleep: Callable[[float], None],
) -> list[str]:
    """``left_behind``, asked again every POLL_SECONDS while it finds something, for up to SETTLE_SECONDS."""
    for _ in range(SETTLE_SECONDS // POLL_SECONDS):
        left = left_behind(aws, assembly, stacks, kept, log_groups)
        if not left:
            return []
        sleep(POLL_SECONDS)
    return left_behind(aws, assembly, stacks, kept, log_groups)
