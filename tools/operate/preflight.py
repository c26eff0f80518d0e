"""Before the first deploy: can this account take what the synthesized app adds, region by region?

    python tools/operate/preflight.py [cdk.out]

Everything the app needs is read from the cloud assembly (cdk.out), never from
the configuration; what the account has is read with the operator's AWS
credentials (read-only calls). One table, one row per region and check:

- account: the credentials belong to the account the stacks are synthesized for;
- service-linked roles: those of ECS, Elastic Load Balancing and (with a database) RDS exist, so that no
  first create has to make and at once assume one (tools/operate/service_linked_roles.py; ``make bootstrap``
  creates the missing ones);
- region enabled: opt-in regions are enabled (``ec2:DescribeRegions``, ``AllRegions``);
- bootstrap: the CDK bootstrap version in SSM is at least what the manifest requires;
- quotas: VPCs, Elastic IPs, NAT gateways per AZ, application load balancers and
  Fargate On-Demand vCPUs leave room for what the region's stacks add; the home
  region's CodeBuild project can run at least one build of its compute type;
- source connection: a GitHub source's connection is AVAILABLE;
- database engine: the database's engine version is offered in the region
  (``rds:DescribeDBEngineVersions``; RDS retires minor versions);
- docker (on this machine): the CDK CLI builds the default bootstrap image during ``make deploy`` with
  Docker (or the command in ``CDK_DOCKER``), so its daemon must answer.

Exit status 0 when no row FAILs, else 1. Refuses, with one line, on the
placeholder account or without credentials, like ``tools/operate/cdk_commands.py``, and
when AWS cannot be reached at all (no network, a proxy in the way, credentials
that cannot sign).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, replace
from functools import cache, partial
from pathlib import Path
from typing import Any

from botocore import exceptions as botocore_errors
from botocore.exceptions import ClientError

if __package__ in (None, ""):  # run as a script: make the repository root importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from tools.cloud_assembly import AssemblyError, CloudAssembly
from tools.operate.app_needs import CODEBUILD_COMPUTE_SIZES, CODEBUILD_ENVIRONMENT_TYPES, AppNeeds, app_needs
from tools.operate.bootstrap_accounts import bootstrap_parameters
from tools.operate.cdk_commands import AWS_ERRORS, OperatorError, aws_client, check_ready, has_credentials
from tools.operate.service_linked_roles import ServiceLinkedRole, exists

# (service, region) -> botocore client; tests pass Stubber-backed ones.
Clients = Callable[[str, str], Any]

OK, WARN, FAIL = "OK", "WARN", "FAIL"

# The first call failing with one of these means no call would succeed: no route to AWS (DNS, connection refused
# or timed out, a proxy or TLS in the way) or no credentials that can sign. One line then, not a row per check.
UNREACHABLE = (
    botocore_errors.ConnectionError,  # EndpointConnectionError, ConnectTimeoutError, ProxyConnectionError, SSLError
    botocore_errors.HTTPClientError,  # ReadTimeoutError, ConnectionClosedError
    botocore_errors.NoCredentialsError,
    botocore_errors.PartialCredentialsError,
    botocore_errors.CredentialRetrievalError,
    botocore_errors.TokenRetrievalError,
    botocore_errors.SSOError,
)

# https://docs.aws.amazon.com/AWSEC2/latest/APIReference/API_DescribeRegions.html (Region.OptInStatus)
ENABLED_OPT_IN = ("opt-in-not-required", "opted-in")


@dataclass(frozen=True)
class Quota:
    """A Service Quotas quota, with the default AWS documents for it (used when Service Quotas is unreachable)."""

    check: str
    service_code: str
    quota_code: str
    documented_default: float
    source: str


# Codes and defaults as AWS documents them (the console link in each page's table names the code).
VPCS = Quota(
    "VPCs", "vpc", "L-F678F1CE", 5, "https://docs.aws.amazon.com/vpc/latest/userguide/amazon-vpc-limits.html"
)
ELASTIC_IPS = Quota(
    "Elastic IPs", "ec2", "L-0263D0A3", 5, "https://docs.aws.amazon.com/general/latest/gr/ec2-service.html"
)
# "NAT gateways only count toward your quota in the pending, active, and deleting states."
NAT_GATEWAYS = Quota(
    "NAT gateways per AZ",
    "vpc",
    "L-FE5A380F",
    5,
    "https://docs.aws.amazon.com/vpc/latest/userguide/amazon-vpc-limits.html",
)
LOAD_BALANCERS = Quota(
    "application load balancers",
    "elasticloadbalancing",
    "L-53DA6B97",
    50,
    "https://docs.aws.amazon.com/elasticloadbalancing/latest/application/load-balancer-limits.html",
)
# Documented default 6 vCPU; "New AWS accounts might have initial lower quotas", so the applied value counts.
FARGATE_VCPUS = Quota(
    "Fargate On-Demand vCPUs",
    "fargate",
    "L-3032A538",
    6,
    "https://docs.aws.amazon.com/general/latest/gr/ecs-service.html#service-quotas-fargate",
)
# CodeBuild's concurrency quotas have no documented default ("Internal metrics will determine the default
# quotas", https://docs.aws.amazon.com/codebuild/latest/userguide/limits.html) and their codes are not in
# AWS's pages (L-9D07B6EF for Linux/Small only in third-party listings): they are found by name.
CODEBUILD_QUOTA_NAME = "Concurrently running builds for {environment} environment"


# --- what the account has (AWS calls, each failure one FAIL row) ----------------------------------


@dataclass(frozen=True)
class Row:
    """One line of the table."""

    region: str
    check: str
    needed: str
    available: str
    verdict: str


def _number(value: float) -> str:
    return f"{value:g}"


def _error(error: Exception) -> str:
    if isinstance(error, ClientError):
        code = error.response.get("Error", {}).get("Code", "ClientError")
        # IAM's denial says which kind of policy denied it; a region-deny control (Control Tower's
        # CT.MULTISERVICE.PV.1) is a service control policy.
        if "explicit deny in a service control policy" in error.response.get("Error", {}).get("Message", ""):
            return f"{code}: a service control policy denies it (a region-deny control?)"
        return code
    return type(error).__name__


def quota_value(quotas: Any, quota: Quota) -> tuple[float, str, str]:
    """The quota's value in the region, where it came from, and why (when not from Service Quotas).

    The applied value (GetServiceQuota); NoSuchResourceException when it was
    never changed, then AWS's default (GetAWSDefaultServiceQuota); when Service
    Quotas itself is unreachable or denied, the default AWS documents.
    https://docs.aws.amazon.com/servicequotas/2019-06-24/apireference/API_GetServiceQuota.html; that a
    never-changed quota answers NoSuchResourceException is from AWS maintainers (aws/aws-cli#6629).
    """
    codes = {"ServiceCode": quota.service_code, "QuotaCode": quota.quota_code}
    try:
        try:
            return quotas.get_service_quota(**codes)["Quota"]["Value"], "quota", ""
        except ClientError as error:
            if _error(error) != "NoSuchResourceException":
                raise
            return quotas.get_aws_default_service_quota(**codes)["Quota"]["Value"], "AWS default", ""
    except AWS_ERRORS as error:
        return quota.documented_default, "documented default", f"; Service Quotas: {_error(error)}"


def quota_row(region: str, quotas: Any, quota: Quota, needed: float, usage: Callable[[], float]) -> Row:
    """Compare what the app adds with the quota minus what the account already uses."""
    limit, source, note = quota_value(quotas, quota)
    try:
        used = usage()
    except AWS_ERRORS as error:
        return Row(region, quota.check, _number(needed), _error(error), FAIL)
    free = max(limit - used, 0)
    available = f"{_number(free)} ({source} {_number(limit)}, {_number(used)} in use{note})"
    return Row(region, quota.check, _number(needed), available, OK if needed <= free else FAIL)


def vpcs_in_use(ec2: Any) -> int:
    """VPCs in the region (the default VPC counts too)."""
    return sum(len(page["Vpcs"]) for page in ec2.get_paginator("describe_vpcs").paginate())


def elastic_ips_in_use(ec2: Any) -> int:
    """Elastic IP addresses allocated in the region."""
    return len(ec2.describe_addresses()["Addresses"])


def nat_gateways_in_busiest_zone(ec2: Any) -> int:
    """The most NAT gateways that count against the quota in any one Availability Zone."""
    pages = ec2.get_paginator("describe_nat_gateways").paginate(
        Filter=[{"Name": "state", "Values": ["pending", "available", "deleting"]}]
    )
    subnets = [
        gateway["SubnetId"] for page in pages for gateway in page["NatGateways"] if "SubnetId" in gateway
    ]
    if not subnets:
        return 0
    zone_of = {
        subnet["SubnetId"]: subnet["AvailabilityZone"]
        for page in ec2.get_paginator("describe_subnets").paginate(SubnetIds=sorted(set(subnets)))
        for subnet in page["Subnets"]
    }
    return max(Counter(zone_of.get(s, s) for s in subnets).values())


def albs_in_use(elbv2: Any) -> int:
    """Application load balancers in the region."""
    return sum(
        1
        for page in elbv2.get_paginator("describe_load_balancers").paginate()
        for balancer in page["LoadBalancers"]
        if balancer.get("Type") == "application"
    )


def fargate_vcpus_in_use(ecs: Any) -> float:
    """vCPUs of the running On-Demand Fargate tasks of every cluster in the region."""
    vcpus = 0.0
    for page in ecs.get_paginator("list_clusters").paginate():
        for cluster in page["clusterArns"]:
            tasks = [
                arn
                for task_page in ecs.get_paginator("list_tasks").paginate(
                    cluster=cluster, launchType="FARGATE", desiredStatus="RUNNING"
                )
                for arn in task_page["taskArns"]
            ]
            for start in range(0, len(tasks), 100):  # DescribeTasks takes at most 100
                described = ecs.describe_tasks(cluster=cluster, tasks=tasks[start : start + 100])["tasks"]
                vcpus += sum(
                    int(t["cpu"]) / 1024 for t in described if t.get("capacityProviderName") != "FARGATE_SPOT"
                )
    return vcpus


def _find_quota(quotas: Any, operation: str, name: str) -> float | None:
    for page in quotas.get_paginator(operation).paginate(ServiceCode="codebuild"):
        for quota in page["Quotas"]:
            if quota["QuotaName"] == name:
                return quota["Value"]
    return None


def codebuild_row(region: str, quotas: Any, environment: str, projects: int) -> Row:
    """Concurrent builds CodeBuild allows for the environment; 0 (common on new accounts) blocks every build."""
    check = f"CodeBuild {environment} builds"
    known = {
        f"{k}/{s}" for k in CODEBUILD_ENVIRONMENT_TYPES.values() for s in CODEBUILD_COMPUTE_SIZES.values()
    }
    if environment not in known:
        return Row(region, check, str(projects), "no quota known for this environment", WARN)
    name = CODEBUILD_QUOTA_NAME.format(environment=environment)
    try:
        value, source = _find_quota(quotas, "list_service_quotas", name), "quota"
        if value is None:
            value, source = _find_quota(quotas, "list_aws_default_service_quotas", name), "AWS default"
    except AWS_ERRORS as error:
        return Row(region, check, str(projects), f"{_error(error)} (no documented default)", FAIL)
    if value is None:
        return Row(region, check, str(projects), f"no quota named {name!r}", FAIL)
    return Row(
        region, check, str(projects), f"{_number(value)} ({source})", OK if value >= projects else FAIL
    )


def connection_row(region: str, clients: Clients, arn: str) -> Row:
    """A connection must be AVAILABLE before the pipeline can read the repository."""
    service, connection_region = arn.split(":")[2:4]  # codeconnections or codestar-connections
    try:
        status = clients(service, connection_region).get_connection(ConnectionArn=arn)["Connection"][
            "ConnectionStatus"
        ]
    except AWS_ERRORS as error:
        return Row(region, "source connection", "AVAILABLE", _error(error), FAIL)
    if status == "AVAILABLE":
        return Row(region, "source connection", "AVAILABLE", status, OK)
    hint = "complete the handshake in the console (Developer Tools > Settings > Connections)"
    return Row(region, "source connection", "AVAILABLE", f"{status}: {hint}", FAIL)


def bootstrap_rows(region: str, ssm: Any, required: dict[str, int]) -> list[Row]:
    """The bootstrap version in each SSM parameter the stacks name, against the version they require.

    What ``cdk deploy`` itself checks (aws-cdk-cli toolkit-lib ``environment-resources.ts``,
    ``validateVersion``): the manifest's ``requiresBootstrapStackVersion`` against the integer in
    ``bootstrapStackVersionSsmParameter``; https://docs.aws.amazon.com/cdk/v2/guide/bootstrapping.html
    """
    rows = []
    for parameter, version in required.items():
        needed = f">= {version}"
        try:
            found = ssm.get_parameter(Name=parameter)["Parameter"]["Value"]
        except AWS_ERRORS as error:
            if _error(error) == "ParameterNotFound":
                rows.append(Row(region, "bootstrap", needed, "not bootstrapped: run make bootstrap", FAIL))
            else:
                rows.append(Row(region, "bootstrap", needed, _error(error), FAIL))
            continue
        if not found.isdigit():
            rows.append(Row(region, "bootstrap", needed, f"{parameter} is {found!r}", FAIL))
        elif int(found) < version:
            rows.append(Row(region, "bootstrap", needed, f"{found}: too old, run make bootstrap", FAIL))
        else:
            rows.append(Row(region, "bootstrap", needed, found, OK))
    return rows


def trust_row(region: str, cloudformation: Any, trusted: str, app: str) -> Row:
    """The region's CDK bootstrap trusts the pipeline's account (``cdk bootstrap --trust``), and only it, and
    runs CloudFormation with this app's execution policies only (``<app>-cdk-execution-<n>``; the bootstrap
    template's ``TrustedAccounts`` and ``CloudFormationExecutionPolicies``)."""
    needed = f"trusts {trusted}, {app}'s policies"
    try:
        parameters = bootstrap_parameters(cloudformation)
    except AWS_ERRORS as error:
        return Row(region, "bootstrap trust", needed, _error(error), FAIL)
    if parameters is None:
        return Row(region, "bootstrap trust", needed, "not bootstrapped: run make bootstrap", FAIL)
    trusting = parameters["TrustedAccounts"]
    if trusted not in trusting:
        found = f"trusts {', '.join(trusting)}" if trusting else "trusts no account"
        return Row(region, "bootstrap trust", needed, f"{found}: run make bootstrap", FAIL)
    own = re.compile(rf"^arn:aws:iam::\d{{12}}:policy/{re.escape(app)}-cdk-execution-\d+$")
    policies = parameters["CloudFormationExecutionPolicies"]
    others = [p.rsplit("/", 1)[-1] for p in policies if not own.fullmatch(p)]
    if others or not policies:
        found = f"runs with {', '.join(others)}" if others else "names no execution policy"
        return Row(region, "bootstrap trust", needed, f"{found}: run make bootstrap", FAIL)
    strangers = [a for a in trusting if a != trusted]
    if strangers:
        return Row(region, "bootstrap trust", needed, f"also trusts {', '.join(strangers)}", WARN)
    return Row(region, "bootstrap trust", needed, "trusted, scoped", OK)


def engine_row(region: str, rds: Any, engine: str, version: str) -> Row:
    """The database's engine version must still be offered in the region: RDS retires minor versions."""
    needed = f"{engine} {version}"
    try:
        offered = rds.describe_db_engine_versions(Engine=engine, EngineVersion=version)["DBEngineVersions"]
    except AWS_ERRORS as error:
        return Row(region, "database engine", needed, _error(error), FAIL)
    if any(v.get("Status", "available") == "available" for v in offered):
        return Row(region, "database engine", needed, "offered", OK)
    hint = "not offered here: pick a version `aws rds describe-db-engine-versions` lists"
    return Row(region, "database engine", needed, hint, FAIL)


def service_linked_role_row(region: str, iam: Any, role: ServiceLinkedRole) -> Row:
    """A service-linked role the first create would otherwise make and assume at once (fails on a fresh account)."""
    check = "service-linked role"
    try:
        found = exists(iam, role)
    except AWS_ERRORS as error:
        return Row(region, check, role.role_name, _error(error), FAIL)
    if found:
        return Row(region, check, role.role_name, "exists", OK)
    return Row(region, check, role.role_name, "missing: run make bootstrap (it creates it)", FAIL)


def region_opt_in(ec2: Any) -> dict[str, str] | str:
    """Region name -> OptInStatus for every region, or the error code when the call fails."""
    try:
        regions = ec2.describe_regions(AllRegions=True)["Regions"]
    except AWS_ERRORS as error:
        return _error(error)
    return {r["RegionName"]: r.get("OptInStatus", "opt-in-not-required") for r in regions}


def run_preflight(needs: AppNeeds, clients: Clients) -> list[Row]:
    """Every check of every region, in deploy order; AWS errors become FAIL rows, never exceptions.

    Raises OperatorError when the first call (STS, in the home region) finds AWS unreachable: every row would
    fail the same way.
    """
    home = needs.home_region
    rows = []
    try:
        caller = clients("sts", home).get_caller_identity()["Account"]
    except UNREACHABLE as error:
        raise OperatorError(
            f"AWS cannot be reached from this machine ({type(error).__name__}: {error}); check the network, any "
            "proxy and the credentials, then run make preflight again"
        ) from error
    except AWS_ERRORS as error:
        caller = _error(error)
    for account in needs.accounts:
        rows.append(Row(home, "account", account, caller, OK if caller == account else FAIL))
    # IAM is global: the roles of the credentials' account (only the account the credentials belong to).
    for role in needs.service_linked_roles.get(caller, ()):
        rows.append(service_linked_role_row(home, clients("iam", home), role))

    opt_in = region_opt_in(clients("ec2", home))
    for region_needs in needs.regions:
        region = region_needs.region
        if isinstance(opt_in, str):  # DescribeRegions failed: say so and check the region anyway
            rows.append(Row(region, "region enabled", "enabled", opt_in, FAIL))
        else:
            status = opt_in.get(region, "not offered to the account")
            if status not in ENABLED_OPT_IN:
                rows.append(
                    Row(region, "region enabled", "enabled", f"{status} (other checks skipped)", FAIL)
                )
                continue
            rows.append(Row(region, "region enabled", "enabled", status, OK))
        rows.extend(bootstrap_rows(region, clients("ssm", region), region_needs.bootstrap))

        quotas, ec2 = clients("service-quotas", region), clients("ec2", region)
        checks = (
            (VPCS, region_needs.vpcs, partial(vpcs_in_use, ec2)),
            (ELASTIC_IPS, region_needs.elastic_ips, partial(elastic_ips_in_use, ec2)),
            (NAT_GATEWAYS, region_needs.nat_gateways, partial(nat_gateways_in_busiest_zone, ec2)),
            (LOAD_BALANCERS, region_needs.load_balancers, partial(albs_in_use, clients("elbv2", region))),
            (
                FARGATE_VCPUS,
                region_needs.fargate_vcpus,
                partial(fargate_vcpus_in_use, clients("ecs", region)),
            ),
        )
        rows.extend(quota_row(region, quotas, *check) for check in checks)
        for engine, version in region_needs.database_engines:
            rows.append(engine_row(region, clients("rds", region), engine, version))

        if region == home:
            rows.extend(codebuild_row(region, quotas, env, count) for env, count in needs.builds.items())
            if needs.connection_arn:
                rows.append(connection_row(region, clients, needs.connection_arn))
    return rows


# --- the command ---------------------------------------------------------------------------------------


def render(rows: list[Row]) -> str:
    """The rows as an aligned text table with a header."""
    table = [("region", "check", "needed", "available", "verdict")] + [
        (r.region, r.check, r.needed, r.available, r.verdict) for r in rows
    ]
    widths = [max(len(line[column]) for line in table) for column in range(4)]
    return "".join(
        "  ".join(cell.ljust(width) for cell, width in zip(line[:4], widths, strict=True)) + f"  {line[4]}\n"
        for line in table
    )


def docker_row(run: Callable[..., subprocess.CompletedProcess] = subprocess.run) -> Row:
    """Docker answers on this machine (the CDK CLI builds image assets with it, or with ``CDK_DOCKER``)."""
    command = [os.environ.get("CDK_DOCKER", "docker"), "info", "--format", "{{.ServerVersion}}"]
    needed = "answers (builds the bootstrap image)"
    try:
        result = run(command, capture_output=True, text=True, timeout=30, check=False)
    except (OSError, subprocess.TimeoutExpired) as error:
        return Row("this machine", "docker", needed, f"{command[0]}: {type(error).__name__}", FAIL)
    if result.returncode != 0:
        reason = (result.stderr.strip().splitlines() or ["no answer"])[-1][:80]
        return Row("this machine", "docker", needed, f"{command[0]} info: {reason}", FAIL)
    return Row("this machine", "docker", needed, f"server {result.stdout.strip()}", OK)


def builds_images(assembly: CloudAssembly) -> bool:
    """Whether ``cdk deploy`` has Docker images to build (the default bootstrap image)."""
    return any(
        json.loads(path.read_text()).get("dockerImages") for path in assembly.directory.glob("*.assets.json")
    )


def run_accounts(needs: AppNeeds, clients_for: Callable[[str], Clients], app: str) -> list[Row]:
    """Every check in every account, each with its own clients; rows name their account and region.

    The pipeline's account is checked as a one-account app is; every other account also has its bootstrap's
    trust in the pipeline's account checked in each of its regions.
    """
    pipeline_account = needs.accounts[0]
    rows = []
    for account in needs.accounts:
        clients = clients_for(account)
        own = needs.for_account(account)
        found = run_preflight(own, clients)
        if account != pipeline_account:
            found += [
                trust_row(r.region, clients("cloudformation", r.region), pipeline_account, app)
                for r in own.regions
            ]
        rows += [replace(row, region=f"{account}/{row.region}") for row in found]
    return rows


def _accounts_clients(assembly: CloudAssembly) -> Callable[[str], Clients]:
    """Each account's clients, from its profile in ACCOUNT_PROFILES (tools/operate/accounts.py)."""
    from tools.operate.accounts import operator_aws  # noqa: PLC0415 (it imports the operator commands' errors)

    aws = operator_aws(assembly, os.environ)
    return lambda account: aws.of(account).client


def run(
    directory: str,
    *,
    clients: Clients | None = None,
    clients_for: Callable[[str], Clients] | None = None,
    credentials: bool | None = None,
    docker: Callable[[], Row] = docker_row,
) -> int:
    """Print the header, refuse when not ready, then the table; 0 when nothing FAILs."""
    assembly = CloudAssembly.read(directory)
    print(f"==> preflight: {len(assembly.environments())} account/region(s), {len(assembly.stacks)} stack(s)")
    check_ready(assembly, credentials=has_credentials() if credentials is None else credentials)
    needs = app_needs(assembly)
    if len(needs.accounts) == 1:
        rows = run_preflight(needs, clients or cache(aws_client))
    else:
        app = assembly.pipeline()[0].name.removesuffix("-pipeline")
        rows = run_accounts(needs, clients_for or _accounts_clients(assembly), app)
    if builds_images(assembly):
        rows.append(docker())
    print(render(rows), end="")
    failed = sum(r.verdict == FAIL for r in rows)
    print(f"{failed} check(s) failed; fix them before make deploy" if failed else "ready to deploy")
    return 1 if failed else 0


def main(argv: list[str] | None = None) -> int:
    """Command line: ``python tools/operate/preflight.py [cdk.out]``."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("assembly", nargs="?", default="cdk.out")
    args = parser.parse_args(argv)
    try:
        return run(args.assembly)
    except (AssemblyError, OperatorError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
