"""What a synthesized app adds to an account, region by region, read from its cloud assembly alone.

Used by tools/operate/preflight.py to compare with what the account has.
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from tools.cloud_assembly import AssemblyError, CloudAssembly, StackArtifact, stack_name
from tools.operate.service_linked_roles import ServiceLinkedRole, needed

# How Service Quotas names a CodeBuild build environment ("Linux/Small").
CODEBUILD_ENVIRONMENT_TYPES = {"LINUX_CONTAINER": "Linux"}
CODEBUILD_COMPUTE_SIZES = {
    "BUILD_GENERAL1_SMALL": "Small",
    "BUILD_GENERAL1_MEDIUM": "Medium",
    "BUILD_GENERAL1_LARGE": "Large",
    "BUILD_GENERAL1_XLARGE": "XLarge",
    "BUILD_GENERAL1_2XLARGE": "2XLarge",
}


@dataclass(frozen=True)
class RegionNeeds:
    """What the stacks of one region add to the account there."""

    region: str
    bootstrap: dict[str, int]  # SSM parameter -> highest bootstrap version a stack requires
    vpcs: int
    elastic_ips: int
    nat_gateways: int
    load_balancers: int
    fargate_vcpus: float
    database_engines: tuple[tuple[str, str], ...] = ()  # (engine, version) of the region's database clusters
    account: str = ""  # the account of the region's stacks (an app in several accounts has one per pair)


@dataclass(frozen=True)
class AppNeeds:
    """What the whole synthesized app needs, per region, plus the home region's pipeline."""

    accounts: tuple[str, ...]
    home_region: str
    regions: tuple[RegionNeeds, ...]  # in deploy order
    builds: dict[str, int] = field(default_factory=dict)  # CodeBuild environment ("Linux/Small") -> projects
    connection_arn: str | None = None
    # Account -> the service-linked roles its resources need (IAM is global: checked once per account).
    service_linked_roles: dict[str, tuple[ServiceLinkedRole, ...]] = field(default_factory=dict)

    def for_account(self, account: str) -> AppNeeds:
        """What ``account`` must take: its own regions (its first one for the global calls, unless it is the
        pipeline's), and the pipeline's build and connection only in the pipeline's account."""
        regions = tuple(r for r in self.regions if r.account == account)
        pipeline = account == self.accounts[0]
        return AppNeeds(
            accounts=(account,),
            home_region=self.home_region if pipeline else regions[0].region,
            regions=regions,
            builds=self.builds if pipeline else {},
            connection_arn=self.connection_arn if pipeline else None,
            service_linked_roles={account: self.service_linked_roles.get(account, ())},
        )


def _literal_int(value: object, what: str) -> int:
    if isinstance(value, int | str) and str(value).isdigit():
        return int(value)
    raise AssemblyError(f"{what} is {value!r}, not a number; preflight counts only literal values")


def _task_definition(stack: StackArtifact, service: dict) -> dict:
    reference = service["Properties"]["TaskDefinition"]
    if isinstance(reference, dict) and "Ref" in reference:
        return stack.resources[reference["Ref"]]
    # A CODE_DEPLOY service names its task definition's family (CodeDeploy registers the revisions).
    for definition in stack.of_type("AWS::ECS::TaskDefinition").values():
        if definition["Properties"].get("Family") == reference:
            return definition
    raise AssemblyError(f"{stack.name}: no task definition {reference!r} for the ECS service")


def fargate_vcpus(stack: StackArtifact) -> float:
    """Fargate vCPUs the stack's services run during a blue/green release: both task sets at full size."""
    total = 0.0
    for service in stack.of_type("AWS::ECS::Service").values():
        properties = service["Properties"]
        if properties.get("LaunchType") != "FARGATE":
            continue
        desired = _literal_int(properties.get("DesiredCount", 1), f"{stack.name}: DesiredCount")
        cpu = _literal_int(_task_definition(stack, service)["Properties"]["Cpu"], f"{stack.name}: task Cpu")
        total += desired * cpu / 1024 * 2  # blue and green task sets run side by side
    return total


def _application_load_balancers(stack: StackArtifact) -> int:
    return sum(
        1
        for balancer in stack.of_type("AWS::ElasticLoadBalancingV2::LoadBalancer").values()
        if balancer.get("Properties", {}).get("Type", "application") == "application"
    )


def _bootstrap_requirements(directory: Path) -> dict[str, tuple[int, str]]:
    """Stack name -> (required bootstrap version, its SSM parameter), from manifest.json."""
    manifest = json.loads((directory / "manifest.json").read_text())
    found = {}
    for artifact_id, artifact in manifest["artifacts"].items():
        properties = artifact.get("properties", {})
        if artifact["type"] == "aws:cloudformation:stack" and "requiresBootstrapStackVersion" in properties:
            found[stack_name(artifact_id, artifact)] = (
                properties["requiresBootstrapStackVersion"],
                properties["bootstrapStackVersionSsmParameter"],
            )
    return found


def codebuild_environment(project: dict) -> str:
    """The name Service Quotas gives the project's build environment, e.g. "Linux/Small"."""
    environment = project["Properties"]["Environment"]
    kind = CODEBUILD_ENVIRONMENT_TYPES.get(environment["Type"], environment["Type"])
    size = CODEBUILD_COMPUTE_SIZES.get(environment["ComputeType"], environment["ComputeType"])
    return f"{kind}/{size}"


def app_needs(assembly: CloudAssembly) -> AppNeeds:
    """Count, per region, what the synthesized stacks create that AWS limits."""
    pipeline_stack, pipeline = assembly.pipeline()
    bootstrap = _bootstrap_requirements(assembly.directory)

    ordered = assembly.deploy_order()
    regions = []
    for account, region in dict.fromkeys((stack.account, stack.region) for stack in ordered):
        stacks = [s for s in ordered if (s.account, s.region) == (account, region)]
        required: dict[str, int] = {}
        for stack in stacks:
            if stack.name in bootstrap:
                version, parameter = bootstrap[stack.name]
                required[parameter] = max(version, required.get(parameter, 0))
        regions.append(
            RegionNeeds(
                region=region,
                account=account,
                bootstrap=required,
                vpcs=sum(len(s.of_type("AWS::EC2::VPC")) for s in stacks),
                elastic_ips=sum(len(s.of_type("AWS::EC2::EIP")) for s in stacks),
                nat_gateways=sum(len(s.of_type("AWS::EC2::NatGateway")) for s in stacks),
                load_balancers=sum(_application_load_balancers(s) for s in stacks),
                fargate_vcpus=sum(fargate_vcpus(s) for s in stacks),
                database_engines=tuple(
                    dict.fromkeys(
                        (c["Properties"]["Engine"], c["Properties"]["EngineVersion"])
                        for s in stacks
                        for c in s.of_type("AWS::RDS::DBCluster").values()
                    )
                ),
            )
        )

    builds = Counter(map(codebuild_environment, pipeline_stack.of_type("AWS::CodeBuild::Project").values()))
    connections = [
        action["Configuration"]["ConnectionArn"]
        for stage in pipeline["Properties"]["Stages"]
        for action in stage["Actions"]
        if action["ActionTypeId"]["Provider"] == "CodeStarSourceConnection"
    ]
    return AppNeeds(
        # The pipeline's account first.
        accounts=tuple(
            dict.fromkeys((pipeline_stack.account, *(account for account, _ in assembly.environments())))
        ),
        home_region=pipeline_stack.region,
        regions=tuple(regions),
        builds=dict(builds),
        connection_arn=connections[0] if connections else None,
        service_linked_roles=needed(assembly),
    )
