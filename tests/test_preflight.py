"""The pre-deployment check (tools/operate/preflight.py) against botocore Stubber-backed accounts, offline."""

from __future__ import annotations

import subprocess
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from botocore.exceptions import ClientError, ConnectTimeoutError, EndpointConnectionError, NoCredentialsError
from botocore.stub import Stubber
from conftest import CONNECTION_ID, for_account, offline_client, tool, without_credentials

from tools.cloud_assembly import CloudAssembly
from tools.operate import preflight
from tools.operate.app_needs import AppNeeds, app_needs
from tools.operate.preflight import FAIL, OK, WARN, Row

ROOT = Path(__file__).resolve().parent.parent
REAL_ACCOUNT = "123456789012"
QUOTAS = (
    preflight.VPCS,
    preflight.ELASTIC_IPS,
    preflight.NAT_GATEWAYS,
    preflight.LOAD_BALANCERS,
    preflight.FARGATE_VCPUS,
)
NAT_STATES = [{"Name": "state", "Values": ["pending", "available", "deleting"]}]
BOOTSTRAP_PARAMETER = "/cdk-bootstrap/hnb659fds/version"
SMALL_BUILDS = "Concurrently running builds for Linux/Small environment"


# --- a fake account: what it has, answered by Stubber in the order the checks ask ---------------------


@dataclass
class Usage:
    """What one region of the account already runs; the default is a fresh account (its default VPC)."""

    vpcs: int = 1
    elastic_ips: int = 0
    nat_gateway_zones: tuple[str, ...] = ()  # the zone of each NAT gateway
    load_balancer_types: tuple[str, ...] = ()
    fargate_tasks: tuple[tuple[int, str], ...] = ()  # (cpu units, capacity provider) of each running task


@dataclass
class Account:
    """A fake account; by default one that fits the app in every region."""

    caller: str | None = None  # the account the credentials belong to (default: the assembly's)
    opt_in: dict[str, str | None] = field(default_factory=dict)  # None: not listed at all
    bootstrap: dict[str, str | None] = field(default_factory=dict)  # SSM value; None: not bootstrapped
    applied: dict[str, float | None] = field(default_factory=dict)  # quota code -> applied; None: never set
    aws_defaults: dict[str, float] = field(default_factory=dict)
    usage: dict[str, Usage] = field(default_factory=dict)
    codebuild_small: float | None = 20  # None: only listed among the AWS defaults (value 15)
    connection_status: str = "AVAILABLE"
    retired_engines: tuple[str, ...] = ()  # regions that no longer offer the database's engine version
    missing_roles: tuple[str, ...] = ()  # service-linked roles the account does not have yet
    errors: dict[tuple[str, str, str], str] = field(default_factory=dict)  # (service, operation, region)


class FakeAccount:
    """Stubber-backed botocore clients, one per (service, region): pass it as preflight's ``clients``."""

    def __init__(self, account: Account) -> None:
        self.account = account
        self.stubbers: dict[tuple[str, str], Stubber] = {}
        self.clients: dict[tuple[str, str], object] = {}

    def __call__(self, service: str, region: str) -> object:
        if (service, region) not in self.clients:
            client = offline_client(service, region)
            self.stubbers[service, region] = Stubber(client)
            self.stubbers[service, region].activate()
            self.clients[service, region] = client
        return self.clients[service, region]

    def answer(self, service: str, region: str, operation: str, response: dict, params=None) -> bool:
        """Queue the response, or the error the account has for this call; whether it answered."""
        self(service, region)
        code = self.account.errors.get((service, operation, region))
        if code:
            self.stubbers[service, region].add_client_error(operation, code, expected_params=params)
            return False
        self.stubbers[service, region].add_response(operation, response, params)
        return True

    def error(self, service: str, region: str, operation: str, code: str, params=None) -> None:
        self(service, region)
        self.stubbers[service, region].add_client_error(operation, code, expected_params=params)

    def assert_all_answered(self) -> None:
        for stubber in self.stubbers.values():
            stubber.assert_no_pending_responses()


def _quota(service: str, code: str, value: float) -> dict:
    return {"Quota": {"ServiceCode": service, "QuotaCode": code, "QuotaName": code, "Value": value}}


def _queue_quota(fake: FakeAccount, region: str, quota: preflight.Quota) -> None:
    codes = {"ServiceCode": quota.service_code, "QuotaCode": quota.quota_code}
    applied = fake.account.applied.get(quota.quota_code, quota.documented_default)
    if applied is not None:
        fake.answer(
            "service-quotas", region, "get_service_quota", _quota(**_names(codes), value=applied), codes
        )
        return
    fake.error("service-quotas", region, "get_service_quota", "NoSuchResourceException", codes)
    default = fake.account.aws_defaults.get(quota.quota_code, quota.documented_default)
    fake.answer(
        "service-quotas", region, "get_aws_default_service_quota", _quota(**_names(codes), value=default)
    )


def _names(codes: dict) -> dict:
    return {"service": codes["ServiceCode"], "code": codes["QuotaCode"]}


def _queue_usage(fake: FakeAccount, region: str, quota: preflight.Quota, usage: Usage) -> None:
    if quota is preflight.VPCS:
        vpcs = [{"VpcId": f"vpc-{n}"} for n in range(usage.vpcs)]
        fake.answer("ec2", region, "describe_vpcs", {"Vpcs": vpcs})
    elif quota is preflight.ELASTIC_IPS:
        addresses = [{"AllocationId": f"eipalloc-{n}", "Domain": "vpc"} for n in range(usage.elastic_ips)]
        fake.answer("ec2", region, "describe_addresses", {"Addresses": addresses})
    elif quota is preflight.NAT_GATEWAYS:
        gateways = [
            {"NatGatewayId": f"nat-{n}", "SubnetId": f"subnet-{n}", "State": "available"}
            for n in range(len(usage.nat_gateway_zones))
        ]
        if (
            fake.answer(
                "ec2", region, "describe_nat_gateways", {"NatGateways": gateways}, {"Filter": NAT_STATES}
            )
            and gateways
        ):
            subnets = [
                {"SubnetId": f"subnet-{n}", "AvailabilityZone": zone}
                for n, zone in enumerate(usage.nat_gateway_zones)
            ]
            ids = sorted(s["SubnetId"] for s in subnets)
            fake.answer("ec2", region, "describe_subnets", {"Subnets": subnets}, {"SubnetIds": ids})
    elif quota is preflight.LOAD_BALANCERS:
        balancers = [
            {"LoadBalancerName": f"lb-{n}", "Type": t} for n, t in enumerate(usage.load_balancer_types)
        ]
        fake.answer("elbv2", region, "describe_load_balancers", {"LoadBalancers": balancers})
    else:
        _queue_fargate(fake, region, usage)


def _queue_fargate(fake: FakeAccount, region: str, usage: Usage) -> None:
    cluster = f"arn:aws:ecs:{region}:{REAL_ACCOUNT}:cluster/busy"
    clusters = [cluster] if usage.fargate_tasks else []
    if not fake.answer("ecs", region, "list_clusters", {"clusterArns": clusters}) or not clusters:
        return
    arns = [f"{cluster}/task/{n}" for n in range(len(usage.fargate_tasks))]
    listing = {"cluster": cluster, "launchType": "FARGATE", "desiredStatus": "RUNNING"}
    fake.answer("ecs", region, "list_tasks", {"taskArns": arns}, listing)
    for start in range(0, len(arns), 100):
        tasks = [
            {"taskArn": arn, "cpu": str(cpu), "launchType": "FARGATE", "capacityProviderName": provider}
            for arn, (cpu, provider) in zip(arns, usage.fargate_tasks, strict=True)
        ][start : start + 100]
        fake.answer(
            "ecs",
            region,
            "describe_tasks",
            {"tasks": tasks},
            {"cluster": cluster, "tasks": arns[start : start + 100]},
        )


def stub_account(needs: AppNeeds, account: Account) -> FakeAccount:
    """A FakeAccount with every answer the checks will ask for, in the order they ask."""
    fake = FakeAccount(account)
    home = needs.home_region
    caller = account.caller or needs.accounts[0]
    fake.answer(
        "sts", home, "get_caller_identity", {"Account": caller, "Arn": f"arn:aws:iam::{caller}:user/op"}
    )
    sts_answers = ("sts", "get_caller_identity", home) not in account.errors
    for role in needs.service_linked_roles.get(caller, ()) if sts_answers else ():
        params = {"RoleName": role.role_name}
        if role.role_name in account.missing_roles:
            fake.error("iam", home, "get_role", "NoSuchEntity", params)
        else:
            found = {
                "RoleName": role.role_name,
                "Path": f"/aws-service-role/{role.service}/",
                "RoleId": "AROAEXAMPLE0000000000",
                "Arn": f"arn:aws:iam::{caller}:role/aws-service-role/{role.service}/{role.role_name}",
                "CreateDate": "2026-01-01T00:00:00Z",
            }
            fake.answer("iam", home, "get_role", {"Role": found}, params)
    statuses = {r.region: account.opt_in.get(r.region, "opt-in-not-required") for r in needs.regions}
    listed = [{"RegionName": r, "OptInStatus": s} for r, s in statuses.items() if s is not None]
    regions_answered = fake.answer("ec2", home, "describe_regions", {"Regions": listed}, {"AllRegions": True})
    for region_needs in needs.regions:
        region = region_needs.region
        if regions_answered and statuses[region] not in preflight.ENABLED_OPT_IN:
            continue
        version = account.bootstrap.get(region, "21")
        parameter = {"Name": BOOTSTRAP_PARAMETER}
        if version is None:
            fake.error("ssm", region, "get_parameter", "ParameterNotFound", parameter)
        else:
            found = {"Parameter": {"Name": BOOTSTRAP_PARAMETER, "Type": "String", "Value": version}}
            fake.answer("ssm", region, "get_parameter", found, parameter)
        for quota in QUOTAS:
            _queue_quota(fake, region, quota)
            _queue_usage(fake, region, quota, account.usage.get(region, Usage()))
        for engine, version in region_needs.database_engines:
            offered = (
                []
                if region in account.retired_engines
                else [{"Engine": engine, "EngineVersion": version, "Status": "available"}]
            )
            params = {"Engine": engine, "EngineVersion": version}
            fake.answer("rds", region, "describe_db_engine_versions", {"DBEngineVersions": offered}, params)
        if region == home and needs.builds:
            _queue_codebuild(fake, region, account.codebuild_small)
            if needs.connection_arn:
                service = needs.connection_arn.split(":")[2]
                connection = {
                    "ConnectionArn": needs.connection_arn,
                    "ConnectionStatus": account.connection_status,
                }
                params = {"ConnectionArn": needs.connection_arn}
                fake.answer(service, region, "get_connection", {"Connection": connection}, params)
    return fake


def _queue_codebuild(fake: FakeAccount, region: str, small: float | None) -> None:
    medium = {
        "ServiceCode": "codebuild",
        "QuotaName": "Concurrently running builds for Linux/Medium environment",
    }
    applied = [{**medium, "Value": 5.0}]
    if small is not None:
        applied.append({"ServiceCode": "codebuild", "QuotaName": SMALL_BUILDS, "Value": small})
    listing = {"ServiceCode": "codebuild"}
    if (
        fake.answer("service-quotas", region, "list_service_quotas", {"Quotas": applied}, listing)
        and small is None
    ):
        defaults = [{"ServiceCode": "codebuild", "QuotaName": SMALL_BUILDS, "Value": 15.0}]
        fake.answer(
            "service-quotas", region, "list_aws_default_service_quotas", {"Quotas": defaults}, listing
        )


def check(directory: Path, account: Account | None = None) -> list[Row]:
    """Run every check of the assembly in ``directory`` against the fake account; all answers used."""
    needs = app_needs(CloudAssembly.read(directory))
    fake = stub_account(needs, account or Account())
    rows = preflight.run_preflight(needs, fake)
    fake.assert_all_answered()
    return rows


def by_check(rows: list[Row]) -> dict[tuple[str, str], Row]:
    return {(r.region, r.check): r for r in rows}


def failing(rows: list[Row]) -> list[Row]:
    return [r for r in rows if r.verdict != OK]


@pytest.fixture(scope="module")
def with_real_account(synth_cache, tmp_path_factory):
    """A configuration's assembly as if synthesized for account 123456789012 (manifest and templates)."""

    def copy(name: str) -> Path:
        return for_account(synth_cache(name).outdir, tmp_path_factory.mktemp(f"{name}-account"), REAL_ACCOUNT)

    return copy


# --- what the app needs ---------------------------------------------------------------------------


def test_needs_are_counted_from_the_templates(synthesized):
    needs = app_needs(CloudAssembly.read(synthesized.outdir))
    config = synthesized.config
    assert needs.home_region == config.home_region
    stacks_in = Counter([*config.regions, *config.staging_regions])
    assert sorted(r.region for r in needs.regions) == sorted(stacks_in)
    vcpus_per_stack = config.service.desired_count * config.service.cpu / 1024 * 2
    for region in needs.regions:
        count = stacks_in[region.region]  # a staging copy in a production region is a second VPC, ALB...
        assert (region.vpcs, region.elastic_ips, region.nat_gateways, region.load_balancers) == (count,) * 4
        assert region.fargate_vcpus == count * vcpus_per_stack
        assert region.bootstrap == {BOOTSTRAP_PARAMETER: 6}
    # The build's CodeBuild quota is per compute type: the configured one's (BUILD_GENERAL1_<SIZE>).
    assert needs.builds == {f"Linux/{config.build_compute.capitalize()}": 1}
    assert needs.connection_arn is None


def test_default_app_needs_one_of_each_and_one_vcpu_per_region(default_synth):
    needs = app_needs(CloudAssembly.read(default_synth.outdir))
    for artifact in default_synth.stack_artifacts().values():
        assert artifact["properties"]["requiresBootstrapStackVersion"] == 6
    assert [
        (r.region, r.vpcs, r.elastic_ips, r.nat_gateways, r.load_balancers, r.fargate_vcpus)
        for r in needs.regions
    ] == [
        ("ap-southeast-1", 1, 1, 1, 1, 1.0),  # 2 tasks x 0.25 vCPU x 2 task sets
        ("eu-west-2", 1, 1, 1, 1, 1.0),
    ]


# --- a ready account ----------------------------------------------------------------------------------


def test_a_ready_account_passes_every_check_of_every_region(default_synth):
    rows = check(default_synth.outdir)
    assert failing(rows) == []
    assert [(r.region, r.check, r.needed) for r in rows] == [
        ("eu-west-2", "account", "111111111111"),
        ("eu-west-2", "service-linked role", "AWSServiceRoleForECS"),
        ("eu-west-2", "service-linked role", "AWSServiceRoleForElasticLoadBalancing"),
        *(
            row
            for region in ("ap-southeast-1", "eu-west-2")
            for row in (
                (region, "region enabled", "enabled"),
                (region, "bootstrap", ">= 6"),
                (region, "VPCs", "1"),
                (region, "Elastic IPs", "1"),
                (region, "NAT gateways per AZ", "1"),
                (region, "application load balancers", "1"),
                (region, "Fargate On-Demand vCPUs", "1"),
            )
        ),
        ("eu-west-2", "CodeBuild Linux/Small builds", "1"),
    ]
    rows = by_check(rows)
    assert rows["eu-west-2", "VPCs"].available == "4 (quota 5, 1 in use)"
    assert rows["eu-west-2", "Fargate On-Demand vCPUs"].available == "6 (quota 6, 0 in use)"
    assert rows["eu-west-2", "CodeBuild Linux/Small builds"].available == "20 (quota)"
    assert rows["ap-southeast-1", "bootstrap"].available == "21"


def test_the_command_prints_one_table_and_exits_0(with_real_account, capsys):
    outdir = with_real_account("default")
    needs = app_needs(CloudAssembly.read(outdir))
    fake = stub_account(needs, Account())
    docker = Row("this machine", "docker", "answers (builds the bootstrap image)", "server 28.2.2", OK)
    assert preflight.run(str(outdir), clients=fake, credentials=True, docker=lambda: docker) == 0
    fake.assert_all_answered()
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == "==> preflight: 2 account/region(s), 3 stack(s)"
    assert lines[1].split() == ["region", "check", "needed", "available", "verdict"]
    assert len(lines) == 2 + 1 + 2 + 2 * 7 + 1 + 1 + 1
    assert lines[-2].split()[:2] == ["this", "machine"]
    assert all(line.endswith("  OK") for line in lines[2:-1])
    assert lines[-1] == "ready to deploy"


def test_the_command_exits_1_when_a_check_fails(with_real_account, capsys):
    outdir = with_real_account("default")
    needs = app_needs(CloudAssembly.read(outdir))
    fake = stub_account(needs, Account(bootstrap={"eu-west-2": None}))
    docker = Row("this machine", "docker", "answers (builds the bootstrap image)", "server 28.2.2", OK)
    assert preflight.run(str(outdir), clients=fake, credentials=True, docker=lambda: docker) == 1
    fake.assert_all_answered()
    out = capsys.readouterr().out
    assert out.splitlines()[-1] == "1 check(s) failed; fix them before make deploy"
    assert "not bootstrapped: run make bootstrap  FAIL" in out


# --- each kind of failure ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("configuration", "roles"),
    [
        ("default", ("AWSServiceRoleForECS", "AWSServiceRoleForElasticLoadBalancing")),
        (
            "database",
            ("AWSServiceRoleForECS", "AWSServiceRoleForElasticLoadBalancing", "AWSServiceRoleForRDS"),
        ),
    ],
)
def test_a_missing_service_linked_role_fails_and_says_make_bootstrap_creates_it(
    synth_cache, configuration, roles
):
    needs = app_needs(CloudAssembly.read(synth_cache(configuration).outdir))
    assert [r.role_name for r in needs.service_linked_roles["111111111111"]] == list(roles)
    rows = check(synth_cache(configuration).outdir, Account(missing_roles=(roles[-1],)))
    assert failing(rows) == [
        Row(
            "eu-west-2", "service-linked role", roles[-1], "missing: run make bootstrap (it creates it)", FAIL
        )
    ]


def test_credentials_of_another_account_fail(default_synth):
    rows = check(default_synth.outdir, Account(caller="999999999999"))
    assert failing(rows) == [Row("eu-west-2", "account", "111111111111", "999999999999", FAIL)]


@pytest.mark.parametrize(
    ("status", "row"),
    [
        (
            "not-opted-in",
            Row("af-south-1", "region enabled", "enabled", "not-opted-in (other checks skipped)", FAIL),
        ),
        (
            None,
            Row(
                "af-south-1",
                "region enabled",
                "enabled",
                "not offered to the account (other checks skipped)",
                FAIL,
            ),
        ),
        ("opted-in", Row("af-south-1", "region enabled", "enabled", "opted-in", OK)),
    ],
)
def test_an_opt_in_region_must_be_enabled(synth_cache, status, row):
    rows = check(synth_cache("six_regions").outdir, Account(opt_in={"af-south-1": status}))
    assert by_check(rows)["af-south-1", "region enabled"] == row
    checked = {r.region for r in rows if r.check == "VPCs"}
    assert checked == {"eu-west-2", "ap-southeast-1", "us-east-1", "sa-east-1", "ap-northeast-1"} | (
        {"af-south-1"} if row.verdict == OK else set()
    )
    assert failing(rows) == ([row] if row.verdict == FAIL else [])


def test_a_region_that_is_not_bootstrapped_fails(default_synth):
    rows = check(default_synth.outdir, Account(bootstrap={"ap-southeast-1": None}))
    assert failing(rows) == [
        Row("ap-southeast-1", "bootstrap", ">= 6", "not bootstrapped: run make bootstrap", FAIL)
    ]


def test_a_bootstrap_older_than_the_manifest_requires_fails(default_synth):
    rows = check(default_synth.outdir, Account(bootstrap={"eu-west-2": "5", "ap-southeast-1": "6"}))
    assert failing(rows) == [Row("eu-west-2", "bootstrap", ">= 6", "5: too old, run make bootstrap", FAIL)]
    assert by_check(rows)["ap-southeast-1", "bootstrap"].verdict == OK


@pytest.mark.parametrize(
    ("account", "row"),
    [
        (
            Account(usage={"ap-southeast-1": Usage(vpcs=5)}),
            Row("ap-southeast-1", "VPCs", "1", "0 (quota 5, 5 in use)", FAIL),
        ),
        (
            Account(usage={"ap-southeast-1": Usage(elastic_ips=4)}, applied={"L-0263D0A3": 4}),
            Row("ap-southeast-1", "Elastic IPs", "1", "0 (quota 4, 4 in use)", FAIL),
        ),
        (
            Account(
                usage={
                    "ap-southeast-1": Usage(nat_gateway_zones=("ap-southeast-1a",) * 5 + ("ap-southeast-1b",))
                }
            ),
            Row("ap-southeast-1", "NAT gateways per AZ", "1", "0 (quota 5, 5 in use)", FAIL),
        ),
        (  # counted per zone: four in each of two zones leaves room for one more anywhere
            Account(
                usage={"ap-southeast-1": Usage(nat_gateway_zones=("ap-southeast-1a", "ap-southeast-1b") * 4)}
            ),
            Row("ap-southeast-1", "NAT gateways per AZ", "1", "1 (quota 5, 4 in use)", OK),
        ),
        (  # network load balancers do not count
            Account(
                usage={
                    "ap-southeast-1": Usage(load_balancer_types=("application", "application", "network"))
                },
                applied={"L-53DA6B97": 2},
            ),
            Row("ap-southeast-1", "application load balancers", "1", "0 (quota 2, 2 in use)", FAIL),
        ),
        (  # Fargate Spot tasks have their own quota
            Account(
                usage={
                    "ap-southeast-1": Usage(
                        fargate_tasks=((1024, "FARGATE"),) * 5 + ((512, "FARGATE"), (4096, "FARGATE_SPOT"))
                    )
                }
            ),
            Row("ap-southeast-1", "Fargate On-Demand vCPUs", "1", "0.5 (quota 6, 5.5 in use)", FAIL),
        ),
        (  # 150 tasks: described in two batches of at most 100
            Account(
                usage={"ap-southeast-1": Usage(fargate_tasks=((256, "FARGATE"),) * 150)},
                applied={"L-3032A538": 40},
            ),
            Row("ap-southeast-1", "Fargate On-Demand vCPUs", "1", "2.5 (quota 40, 37.5 in use)", OK),
        ),
        (
            Account(codebuild_small=0),
            Row("eu-west-2", "CodeBuild Linux/Small builds", "1", "0 (quota)", FAIL),
        ),
        (  # never changed, so listed only among the defaults
            Account(codebuild_small=None),
            Row("eu-west-2", "CodeBuild Linux/Small builds", "1", "15 (AWS default)", OK),
        ),
    ],
    ids=[
        "vpcs",
        "eips",
        "nat",
        "nat-per-zone",
        "albs",
        "fargate",
        "fargate-batches",
        "codebuild-0",
        "codebuild-default",
    ],
)
def test_quotas_must_leave_room_for_what_the_region_adds(default_synth, account, row):
    rows = check(default_synth.outdir, account)
    assert by_check(rows)[row.region, row.check] == row
    assert failing(rows) == ([row] if row.verdict == FAIL else [])


def test_a_quota_never_changed_falls_back_to_the_aws_default(default_synth):
    account = Account(applied={"L-F678F1CE": None, "L-3032A538": None}, aws_defaults={"L-3032A538": 0.5})
    rows = by_check(check(default_synth.outdir, account))
    assert rows["eu-west-2", "VPCs"] == Row("eu-west-2", "VPCs", "1", "4 (AWS default 5, 1 in use)", OK)
    assert rows["eu-west-2", "Fargate On-Demand vCPUs"] == Row(
        "eu-west-2", "Fargate On-Demand vCPUs", "1", "0.5 (AWS default 0.5, 0 in use)", FAIL
    )


def test_service_quotas_denied_falls_back_to_the_documented_default(default_synth):
    errors = {("service-quotas", "get_service_quota", "eu-west-2"): "AccessDeniedException"}
    rows = check(default_synth.outdir, Account(errors=errors))
    assert failing(rows) == []
    assert by_check(rows)["eu-west-2", "application load balancers"].available == (
        "50 (documented default 50, 0 in use; Service Quotas: AccessDeniedException)"
    )


def test_a_denied_codebuild_quota_lookup_fails_with_the_error(default_synth):
    errors = {("service-quotas", "list_service_quotas", "eu-west-2"): "AccessDeniedException"}
    rows = check(default_synth.outdir, Account(errors=errors))
    assert failing(rows) == [
        Row(
            "eu-west-2",
            "CodeBuild Linux/Small builds",
            "1",
            "AccessDeniedException (no documented default)",
            FAIL,
        )
    ]


class Unreachable:
    """Clients whose first call, STS's, fails before AWS answers; any other client fails the test."""

    def __init__(self, error: Exception) -> None:
        self.error, self.asked = error, []

    def __call__(self, service: str, region: str) -> object:
        self.asked.append((service, region))
        assert service == "sts", f"{service} asked for after STS found AWS unreachable"
        return self

    def get_caller_identity(self) -> dict:
        raise self.error


@pytest.mark.parametrize(
    "error",
    [
        EndpointConnectionError(endpoint_url="https://sts.eu-west-2.amazonaws.com/"),
        ConnectTimeoutError(endpoint_url="https://sts.eu-west-2.amazonaws.com/"),
        NoCredentialsError(),
    ],
    ids=type,
)
def test_aws_out_of_reach_is_one_line_not_a_failed_row_per_check(default_synth, error):
    clients = Unreachable(error)
    with pytest.raises(preflight.OperatorError) as refused:
        preflight.run_preflight(app_needs(CloudAssembly.read(default_synth.outdir)), clients)
    assert clients.asked == [("sts", "eu-west-2")]
    assert str(refused.value) == (
        f"AWS cannot be reached from this machine ({type(error).__name__}: {error}); check the network, any proxy "
        "and the credentials, then run make preflight again"
    )


def test_the_command_says_once_that_aws_cannot_be_reached(with_real_account, tmp_path):
    """Credentials, but nothing answers (every endpoint refuses the connection): one line and exit 1."""
    env = without_credentials(tmp_path)
    env |= {"AWS_ACCESS_KEY_ID": "AKIDEXAMPLE", "AWS_SECRET_ACCESS_KEY": "not-a-secret"}
    env |= {"AWS_ENDPOINT_URL": "http://127.0.0.1:9", "AWS_MAX_ATTEMPTS": "1", "CDK_DOCKER": "false"}
    result = preflight_command(str(with_real_account("default")), env=env)
    assert result.returncode == 1
    assert result.stdout.splitlines() == ["==> preflight: 2 account/region(s), 3 stack(s)"]
    (line,) = result.stderr.splitlines()
    assert line.startswith("error: AWS cannot be reached from this machine (EndpointConnectionError: ")
    assert line.endswith("check the network, any proxy and the credentials, then run make preflight again")


@pytest.mark.parametrize(
    ("service", "operation", "code", "row"),
    [
        (
            "ssm",
            "get_parameter",
            "AccessDeniedException",
            Row("eu-west-2", "bootstrap", ">= 6", "AccessDeniedException", FAIL),
        ),
        (
            "ec2",
            "describe_nat_gateways",
            "UnauthorizedOperation",
            Row("eu-west-2", "NAT gateways per AZ", "1", "UnauthorizedOperation", FAIL),
        ),
        (
            "ecs",
            "list_clusters",
            "AccessDeniedException",
            Row("eu-west-2", "Fargate On-Demand vCPUs", "1", "AccessDeniedException", FAIL),
        ),
        (
            "sts",
            "get_caller_identity",
            "ExpiredToken",
            Row("eu-west-2", "account", "111111111111", "ExpiredToken", FAIL),
        ),
    ],
)
def test_a_denied_call_fails_its_row_and_the_rest_is_still_checked(
    default_synth, service, operation, code, row
):
    rows = check(default_synth.outdir, Account(errors={(service, operation, "eu-west-2"): code}))
    assert failing(rows) == [row]
    # Without the caller's account (STS failed) its service-linked roles are not asked for.
    roles = 0 if service == "sts" else 2
    assert len(rows) == 1 + roles + 2 * 7 + 1


def test_denied_region_listing_fails_every_region_row_and_checks_the_rest(default_synth):
    errors = {("ec2", "describe_regions", "eu-west-2"): "UnauthorizedOperation"}
    rows = check(default_synth.outdir, Account(errors=errors))
    assert failing(rows) == [
        Row(region, "region enabled", "enabled", "UnauthorizedOperation", FAIL)
        for region in ("ap-southeast-1", "eu-west-2")
    ]
    assert len(rows) == 1 + 2 + 2 * 7 + 1


@pytest.mark.parametrize(
    ("configuration", "status", "verdict"),
    [("github", "PENDING", FAIL), ("github", "AVAILABLE", OK), ("github_codestar", "ERROR", FAIL)],
)
def test_a_github_source_needs_an_available_connection(synth_cache, configuration, status, verdict):
    outdir = synth_cache(configuration).outdir
    needs = app_needs(CloudAssembly.read(outdir))
    service = "codeconnections" if configuration == "github" else "codestar-connections"
    assert needs.connection_arn == f"arn:aws:{service}:eu-west-2:111111111111:connection/{CONNECTION_ID}"
    rows = check(outdir, Account(connection_status=status))
    expected = (
        status
        if verdict == OK
        else f"{status}: complete the handshake in the console (Developer Tools > Settings > Connections)"
    )
    row = Row("eu-west-2", "source connection", "AVAILABLE", expected, verdict)
    assert by_check(rows)["eu-west-2", "source connection"] == row
    assert failing(rows) == ([row] if verdict == FAIL else [])
    assert sorted({r.region for r in rows}) == ["eu-west-2", "us-east-1"]


def test_an_unknown_build_environment_is_a_warning():
    row = preflight.codebuild_row("eu-west-2", None, "ARM_CONTAINER/Small", 1)
    assert row == Row(
        "eu-west-2", "CodeBuild ARM_CONTAINER/Small builds", "1", "no quota known for this environment", WARN
    )


# --- refusals through the command line -----------------------------------------------------------------


def preflight_command(*args: str, env: dict | None = None) -> subprocess.CompletedProcess[str]:
    return tool("operate/preflight.py", *args, env=env)


def test_the_placeholder_account_is_refused_with_one_line(default_synth):
    result = preflight_command(str(default_synth.outdir))
    assert result.returncode == 1
    assert result.stdout.splitlines() == ["==> preflight: 2 account/region(s), 3 stack(s)"]
    assert result.stderr.splitlines() == [
        "error: the account is the placeholder 111111111111; export CDK_DEFAULT_ACCOUNT=<your 12-digit account> "
        '(or set "account" in cdk.json) and run the command again'
    ]


def test_no_credentials_is_refused_with_one_line(with_real_account, tmp_path):
    result = preflight_command(str(with_real_account("default")), env=without_credentials(tmp_path))
    assert result.returncode == 1
    assert result.stdout.splitlines() == ["==> preflight: 2 account/region(s), 3 stack(s)"]
    assert result.stderr.splitlines() == [
        "error: no AWS credentials found; configure them (aws configure, AWS_PROFILE or "
        "AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY) and run the command again"
    ]


def test_a_missing_assembly_says_run_make_synth(tmp_path):
    result = preflight_command(str(tmp_path / "missing"))
    assert result.returncode == 1
    assert result.stderr.splitlines() == [
        f"error: {tmp_path / 'missing' / 'manifest.json'} not found; run `make synth` first"
    ]


def test_the_databases_engine_version_must_be_offered_in_every_region(synth_cache):
    outdir = synth_cache("database").outdir
    needs = app_needs(CloudAssembly.read(outdir))
    assert {r.region: r.database_engines for r in needs.regions} == dict.fromkeys(
        ("eu-west-1", "eu-west-2", "ap-southeast-1"), (("aurora-postgresql", "16.13"),)
    )
    assert failing(check(outdir)) == []
    rows = check(outdir, Account(retired_engines=("ap-southeast-1",)))
    assert failing(rows) == [
        Row(
            "ap-southeast-1",
            "database engine",
            "aurora-postgresql 16.13",
            "not offered here: pick a version `aws rds describe-db-engine-versions` lists",
            FAIL,
        )
    ]


def completed(returncode: int, stdout: str = "", stderr: str = "") -> subprocess.CompletedProcess:
    return subprocess.CompletedProcess(["docker"], returncode, stdout, stderr)


@pytest.mark.parametrize(
    ("answer", "verdict", "available"),
    [
        (completed(0, "28.2.2\n"), OK, "server 28.2.2"),
        (
            completed(1, stderr="Cannot connect to the Docker daemon at unix:///var/run/docker.sock.\n"),
            FAIL,
            "docker info: Cannot connect to the Docker daemon at unix:///var/run/docker.sock.",
        ),
        (FileNotFoundError(2, "docker"), FAIL, "docker: FileNotFoundError"),
    ],
)
def test_docker_must_answer_where_the_bootstrap_image_is_built(monkeypatch, answer, verdict, available):
    monkeypatch.delenv("CDK_DOCKER", raising=False)

    def run(command, **_):
        assert command == ["docker", "info", "--format", "{{.ServerVersion}}"]
        if isinstance(answer, Exception):
            raise answer
        return answer

    row = preflight.docker_row(run)
    assert (row.check, row.verdict, row.available) == ("docker", verdict, available)


def test_only_an_app_with_images_to_build_needs_docker(synth_cache):
    assert preflight.builds_images(CloudAssembly.read(synth_cache("default").outdir))
    assert not preflight.builds_images(CloudAssembly.read(synth_cache("port_8080").outdir))


# --- one account per jurisdiction -----------------------------------------------------------------------


def queue_trust(fake: FakeAccount, region: str, trusted: str, policies: str) -> None:
    parameters = [
        {"ParameterKey": "TrustedAccounts", "ParameterValue": trusted},
        {"ParameterKey": "CloudFormationExecutionPolicies", "ParameterValue": policies},
    ]
    stack = {
        "StackName": "CDKToolkit",
        "CreationTime": "2026-01-01T00:00:00Z",
        "StackStatus": "UPDATE_COMPLETE",
        "Parameters": parameters,
    }
    fake.answer("cloudformation", region, "describe_stacks", {"Stacks": [stack]}, {"StackName": "CDKToolkit"})


def check_accounts(directory: Path, *, trusted: str = REAL_ACCOUNT, policies: str | None = None) -> list[Row]:
    """Every account of the assembly checked with its own fake account; the others' bootstraps as given."""
    needs = app_needs(CloudAssembly.read(directory))
    fakes = {}
    for account in needs.accounts:
        own = needs.for_account(account)
        fakes[account] = stub_account(own, Account(caller=account))
        if account != needs.accounts[0]:
            execution = policies or f"arn:aws:iam::{account}:policy/webapp-cdk-execution-1"
            for region_needs in own.regions:
                queue_trust(fakes[account], region_needs.region, trusted, execution)
    rows = preflight.run_accounts(needs, fakes.__getitem__, "webapp")
    for fake in fakes.values():
        fake.assert_all_answered()
    return rows


@pytest.fixture(scope="module")
def accounts_assembly(with_real_account):
    return with_real_account("accounts")


def test_every_account_is_checked_with_its_own_credentials_and_trusts_the_pipelines(accounts_assembly):
    rows = check_accounts(accounts_assembly)
    assert failing(rows) == []
    checked = {(r.region.split("/")[0], r.check) for r in rows}
    for account in ("222222222222", "333333333333", "444444444444", "555555555555"):
        assert (account, "account") in checked
        assert (account, "bootstrap trust") in checked
    # The pipeline's account is bootstrapped as a one-account app is: no trust to check there.
    assert (REAL_ACCOUNT, "bootstrap trust") not in checked
    assert (REAL_ACCOUNT, "CodeBuild Linux/Small builds") in checked
    # Frankfurt appears once per account that has a stack there: the EU account's and the store's.
    assert {r.region for r in rows if r.check == "VPCs" and r.region.endswith("/eu-central-1")} == {
        f"{REAL_ACCOUNT}/eu-central-1",
        "222222222222/eu-central-1",
    }


@pytest.mark.parametrize(
    ("trusted", "policies", "available"),
    [
        ("999999999999", None, "trusts 999999999999: run make bootstrap"),
        ("", None, "trusts no account: run make bootstrap"),
        (
            REAL_ACCOUNT,
            "arn:aws:iam::aws:policy/AdministratorAccess",
            "runs with AdministratorAccess: run make bootstrap",
        ),
    ],
)
def test_a_bootstrap_that_does_not_trust_the_pipeline_or_gives_it_administrator_fails(
    accounts_assembly, trusted, policies, available
):
    rows = [
        r for r in check_accounts(accounts_assembly, trusted=trusted, policies=policies) if r.verdict == FAIL
    ]
    assert {r.check for r in rows} == {"bootstrap trust"}
    assert {r.available for r in rows} == {available}
    assert len(rows) == 5  # every region of every other account: EU's two, Asia's, staging's, the zone's


def test_a_region_denied_by_a_service_control_policy_says_so(default_synth):
    """Control Tower's region-deny control is a service control policy: IAM's denial names the kind."""
    message = (
        "User: arn:aws:sts::111111111111:assumed-role/op/x is not authorized to perform: ssm:GetParameter on "
        "resource: arn:aws:ssm:ap-southeast-1:111111111111:parameter/cdk-bootstrap/hnb659fds/version with an "
        "explicit deny in a service control policy"
    )
    error = ClientError({"Error": {"Code": "AccessDeniedException", "Message": message}}, "GetParameter")
    assert preflight._error(error) == (
        "AccessDeniedException: a service control policy denies it (a region-deny control?)"
    )
    other = ClientError(
        {"Error": {"Code": "AccessDeniedException", "Message": "no identity-based policy"}}, "X"
    )
    assert preflight._error(other) == "AccessDeniedException"
