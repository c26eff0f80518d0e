"""The service-linked roles the app's resources need, and making sure they exist before the first create.

ECS, Elastic Load Balancing and RDS each create their service-linked role on first use, and on an account
that has never used ECS the first CreateCluster often cannot assume the role it has just created ("Unable
to assume the service linked role": aws-cloudformation/cloudformation-coverage-roadmap#818; ECS CreateCluster
reference). With every region created in parallel, every region would fail. ``make bootstrap`` creates the
missing ones (IAM ``CreateServiceLinkedRole``, which each service documents for creating its role
yourself) before ``cdk bootstrap`` runs, so they exist minutes before any stack; ``make preflight`` checks
each, and ``make deploy`` refuses while one is missing. IAM is global: one check per account.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from botocore.exceptions import ClientError

from tools.cloud_assembly import CloudAssembly

PERMISSIONS = ("iam:CreateServiceLinkedRole", "iam:GetRole")


@dataclass(frozen=True)
class ServiceLinkedRole:
    """A role a service creates for itself, the name IAM gives it and the service to create it for."""

    role_name: str
    service: str
    source: str


DOCS = "https://docs.aws.amazon.com"
ECS = ServiceLinkedRole(
    "AWSServiceRoleForECS",
    "ecs.amazonaws.com",
    f"{DOCS}/AmazonECS/latest/developerguide/using-service-linked-roles.html",
)
LOAD_BALANCING = ServiceLinkedRole(
    "AWSServiceRoleForElasticLoadBalancing",
    "elasticloadbalancing.amazonaws.com",
    f"{DOCS}/elasticloadbalancing/latest/userguide/elb-service-linked-roles.html",
)
RDS = ServiceLinkedRole(
    "AWSServiceRoleForRDS",
    "rds.amazonaws.com",
    f"{DOCS}/AmazonRDS/latest/AuroraUserGuide/UsingWithRDS.IAM.ServiceLinkedRoles.html",
)
# The resource types whose first create makes the service create its role. The app's other services
# use none (CodePipeline, CodeBuild, CodeDeploy, Lambda, public ACM certificates, Route 53 health checks,
# WAF logging to CloudWatch Logs, zonal NAT gateways) or roles the stacks create themselves.
NEEDED_BY = {
    "AWS::ECS::Cluster": ECS,
    "AWS::ECS::Service": ECS,
    "AWS::ElasticLoadBalancingV2::LoadBalancer": LOAD_BALANCING,
    "AWS::RDS::DBCluster": RDS,
}


def needed(assembly: CloudAssembly) -> dict[str, tuple[ServiceLinkedRole, ...]]:
    """Account -> the service-linked roles its stacks need, in a fixed order."""
    found: dict[str, dict[str, ServiceLinkedRole]] = {}
    for stack in assembly.stacks.values():
        for resource_type, role in NEEDED_BY.items():
            if stack.of_type(resource_type):
                found.setdefault(stack.account, {})[role.role_name] = role
    return {
        account: tuple(sorted(roles.values(), key=lambda r: r.role_name)) for account, roles in found.items()
    }


def exists(iam: Any, role: ServiceLinkedRole) -> bool:
    try:
        iam.get_role(RoleName=role.role_name)
    except ClientError as error:
        if error.response.get("Error", {}).get("Code") == "NoSuchEntity":
            return False
        raise
    return True


def missing(iam: Any, roles: tuple[ServiceLinkedRole, ...]) -> list[ServiceLinkedRole]:
    return [role for role in roles if not exists(iam, role)]


def create_missing(
    iam: Any, roles: tuple[ServiceLinkedRole, ...], say: Callable[[str], None] = print
) -> None:
    """Create each role of ``roles`` that does not exist yet (one created meanwhile counts as existing)."""
    for role in missing(iam, roles):
        try:
            iam.create_service_linked_role(AWSServiceName=role.service)
        except ClientError as error:
            # IAM's answer when the role exists already: InvalidInput "Service role name ... has been taken".
            if "has been taken" not in str(error):
                raise
        say(f"    created the service-linked role {role.role_name} ({role.service})")
