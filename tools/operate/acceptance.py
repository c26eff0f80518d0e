"""`make acceptance`: the integration tests (tests/integ/integ_*.py) on the account of your AWS credentials.

    python tools/operate/acceptance.py [--tests integ_first_create,...] [--force] [--report DIR]
        [--hosted-zone-id Z... --hosted-zone-name example.com]
        [--production-account 222222222222 --zone-account 555555555555]

What no stand-in can prove, proven on a real account. For each test it synthesizes the test's app for the
account (each run's stacks are named after the run, ``it-<test>-<run>-...``), prints what it will create
and an estimate of time and money, asks (or takes ``--force``), then does what integ-runner does for an
integration test: deploys the stacks under test, runs the test's post-deploy hooks, deploys its assertion
stacks (each check fails its stack when it does not hold), reads their results, and always destroys every
stack of the test as ``make destroy`` does. integ-runner itself cannot read the cloud assemblies aws-cdk-lib 2.275.0 writes (schema
55; its newest release reads 53), so this command drives the project's own CDK CLI through the same steps.
It writes a report (``acceptance-report.md`` and ``.json``): each check held, failed with AWS's error, or
skipped and why. The accounts besides your credentials' (integ_accounts) are reached and bootstrapped as
tools/operate/acceptance_accounts.py says.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

from botocore.exceptions import ClientError

if __package__ in (None, ""):  # run as a script: make the repository root importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from constructs.settings.config_checks import PLACEHOLDER_ACCOUNT, ConfigError
from constructs.settings.domain_settings import DomainSettings
from tools.cloud_assembly import AssemblyError, CloudAssembly
from tools.operate import leftovers
from tools.operate.acceptance_accounts import (
    NO_OTHER_ACCOUNTS,
    OtherAccounts,
    bootstrap_plan,
    calls_across,
    profiles_for,
    reached,
)
from tools.operate.accounts import PROFILES_VARIABLE, parse_profiles
from tools.operate.app_needs import app_needs
from tools.operate.aws_access import error_line
from tools.operate.bootstrap_accounts import REPLACE_VARIABLE
from tools.operate.cdk_commands import AWS_ERRORS, CDK, ROOT, OperatorError, aws_client, has_credentials
from tools.operate.patient_aws import Aws, error_code
from tools.operate.preflight import OK, bootstrap_rows
from tools.operate.service_linked_roles import create_missing, missing, needed
from tools.plan.cost_estimate import PriceTable, estimate
from tools.plan.release_plan import read_plan

INTEG = ROOT / "tests" / "integ"
# make destroy refuses while a release or a deployment is in flight ("... let it end, then run the command
# again"): a test that stopped early may leave one, such as a stage rollback, which takes up to 40 minutes.
IN_FLIGHT = "let it end"
IN_FLIGHT_POLL_SECONDS, IN_FLIGHT_WAIT_SECONDS = 60, 3600
HELD, FAILED, SKIPPED = "held", "failed", "skipped"


@dataclass(frozen=True)
class Check:
    """One check of the acceptance suite, named as docs/acceptance.md and the report name it."""

    test: str
    name: str
    proves: str
    minutes: int  # what a run of its test takes, about: deploys, waits, destroy
    needs_zone: bool = False  # runs only with a hosted zone (HOSTED_ZONE_ID, HOSTED_ZONE_NAME)
    needs_accounts: bool = False  # runs only with PRODUCTION_ACCOUNT and ZONE_ACCOUNT


CHECKS = (
    Check(
        "integ_first_create",
        "first create",
        "every stack of two regions creates on the account (with make bootstrap's service-linked roles where "
        "the account lacked them); each region answers 200 on its address, its tasks running",
        60,
    ),
    Check(
        "integ_release",
        "a release",
        "make release uploads the sample and the pipeline succeeds in every region; each region answers 200 "
        "from a task of the released image, in its own repository by digest",
        90,
    ),
    Check(
        "integ_rollback",
        "alarm-driven rollback",
        "after a good release, a release whose tasks fail every health check rolls back in every region, the "
        "stage rollback runs and succeeds, and each region serves a released image again",
        120,
    ),
    Check(
        "integ_bake",
        "bakes between waves, make rollback",
        "two waves with a bake: a release passes it; an alarm raised during the next one's bake stops it in the "
        "first wave, which rolls back, and the second wave never starts; after a third release, make rollback "
        "returns every region to the first release's image",
        150,
    ),
    Check(
        "integ_window",
        "deployment window",
        "a wave whose deployment window is closed holds the release at its stage's entry, the rule in progress and "
        "no action started, for ten minutes rather than failing; overriding the entry condition lets it through "
        "and it succeeds in both regions; CodePipeline takes the Region/City time zone",
        100,
    ),
    Check(
        "integ_ecs_engine",
        "ECS engine",
        "on ECS's own blue/green, the hooks run in the deployment that creates each service; each release "
        "migrates and its wave waits for ECS's answer; after two releases, each followed by a make deploy "
        "(one leaving the service alone, one changing its task definition), production traffic stays where "
        "ECS put it, on the released image",
        170,
    ),
    Check(
        "integ_domain_latency",
        "domain: latency",
        "both regions' certificates, created in parallel in one zone, are issued; each region answers on its "
        "own name over HTTPS, and the shared name, by latency, sends each region's resolver to that region",
        80,
        needs_zone=True,
    ),
    Check(
        "integ_domain_geolocation",
        "domain: geolocation",
        "as with latency, and the shared name's residency records send Europe to eu-west-2 and Asia to "
        "ap-southeast-1",
        80,
        needs_zone=True,
    ),
    Check(
        "integ_database",
        "database",
        "after a release, each region's service signs in as its own role over TLS (a visit is counted), and a "
        "connection without TLS from inside the region's network is refused",
        110,
    ),
    Check(
        "integ_accounts",
        "one account per jurisdiction",
        "with the pipeline in the tools account, both regions in PRODUCTION_ACCOUNT and the zone in "
        "ZONE_ACCOUNT, each bootstrapped by the run with only the app's execution policies: every stack "
        "deploys, a release across accounts succeeds, an unhealthy one rolls back, and each region then serves "
        "a released image from its own repository, over HTTPS on its own name and the shared one",
        150,
        needs_zone=True,
        needs_accounts=True,
    ),
)


@dataclass(frozen=True)
class HostedZone:
    """The public hosted zone the domain checks write their names into (of ZONE_ACCOUNT, else the account)."""

    zone_id: str
    name: str


@dataclass
class Outcome:
    """What became of one check: held, failed (with AWS's error) or skipped (and why)."""

    check: str
    test: str
    status: str
    detail: str = ""


@dataclass(frozen=True)
class IntegApp:
    """A synthesized integration test app: where it is, its stacks under test, assertions and hooks."""

    directory: Path
    stacks: tuple[str, ...]
    assertions: tuple[str, ...]
    post_deploy: tuple[str, ...]

    @classmethod
    def read(cls, directory: Path) -> IntegApp:
        (case,) = json.loads((directory / "integ.json").read_text())["testCases"].values()
        under_test = tuple(case["stacks"])
        everything = CloudAssembly.read(directory).stacks
        return cls(
            directory,
            under_test,
            tuple(name for name in everything if name not in under_test),
            tuple(case.get("hooks", {}).get("postDeploy", ())),
        )


Run = Callable[..., subprocess.CompletedProcess]


class Acceptance:
    """The suite on one account; every AWS call and command goes through what it is given (tests stub them)."""

    def __init__(
        self,
        *,
        account: str,
        run_id: str,
        workdir: Path,
        run: Run = subprocess.run,
        iam=None,
        aws: Aws | None = None,
        zone: HostedZone | None = None,
        others: OtherAccounts = NO_OTHER_ACCOUNTS,
        replace_bootstrap: bool = False,
        sleep: Callable[[float], None] = time.sleep,
        say: Callable[[str], None] = print,
    ) -> None:
        self.account, self.run_id, self.workdir, self.zone = account, run_id, workdir, zone
        self.run, self.iam, self.aws, self.sleep, self.say = run, iam, aws, sleep, say
        self.others, self.replace_bootstrap = others, replace_bootstrap
        self.outcomes: list[Outcome] = []
        self.roles_checked: set[str] = set()  # the accounts whose service-linked roles are checked
        self.bootstrapped: set[str] = set()  # the other accounts the run has bootstrapped
        self._bootstraps: dict[Path, list] = {}  # each assembly's account bootstraps, by its directory

    @property
    def zone_account(self) -> str:
        return self.others.zone or self.account

    def iam_of(self, account: str):
        """IAM of ``account``: the one given (tests) for the tools account, else through its credentials."""
        if account == self.account and self.iam is not None:
            return self.iam
        return self.aws.of(account).client("iam", "us-east-1")

    def environment(self, **more: str) -> dict[str, str]:
        """What a test's app reads, for its synth and for its hooks (which may synthesize it again)."""
        zone = {}
        if self.zone:
            zone = {
                "ACCEPTANCE_HOSTED_ZONE_ID": self.zone.zone_id,
                "ACCEPTANCE_HOSTED_ZONE_NAME": self.zone.name,
            }
        return {
            **os.environ,
            "CDK_DEFAULT_ACCOUNT": self.account,
            "ACCEPTANCE_RUN": self.run_id,
            "PYTHONPATH": str(ROOT),
            **zone,
            **self.others.environment(),
            **more,
        }

    def commands_environment(self, app: IntegApp, **more: str) -> dict[str, str]:
        """The hooks' and make destroy's: ``ACCOUNT_PROFILES`` of the test's accounts only."""
        return profiles_for(CloudAssembly.read(app.directory), self.environment(**more))

    def synthesize(self, check: Check) -> IntegApp:
        directory = self.workdir / check.test
        done = self.run(
            [sys.executable, str(INTEG / f"{check.test}.py")],
            env=self.environment(CDK_OUTDIR=str(directory)),
            capture_output=True,
            text=True,
        )
        if done.returncode:
            raise OperatorError(f"{check.test} does not synthesize: {last_line(done)}")
        return IntegApp.read(directory)

    def check_account(self, apps: Sequence[IntegApp]) -> None:
        """Refuse, with one line, an account the tests cannot deploy to: a region not bootstrapped (or too old
        for the stacks), or a hosted zone that is not the account's public zone of that name."""
        assemblies = [CloudAssembly.read(app.directory) for app in apps]
        others = sorted({a for assembly in assemblies for a, _ in assembly.environments()} - {self.account})
        reached(self.aws, others)
        environments = list(
            dict.fromkeys(
                env for assembly in assemblies for env in assembly.environments() if env[0] == self.account
            )
        )
        bootstrap = " ".join(f"aws://{account}/{region}" for account, region in environments)
        required: dict[str, dict[str, int]] = {}
        for assembly in assemblies:
            for needs in app_needs(assembly).for_account(self.account).regions:
                versions = required.setdefault(needs.region, {})
                for parameter, version in needs.bootstrap.items():
                    versions[parameter] = max(version, versions.get(parameter, 0))
            if any(account != self.account for account, _ in assembly.environments()):
                self.bootstrap_others(assembly, write=False)
        for region, versions in required.items():
            for row in bootstrap_rows(region, self.aws.of(self.account).client("ssm", region), versions):
                if row.verdict != OK:
                    raise OperatorError(
                        f"{region}: CDK bootstrap {row.needed} needed, found {row.available.split(':')[0]}; "
                        f"run npx cdk bootstrap {bootstrap}"
                    )
        if self.zone:
            try:
                found = self.aws.of(self.zone_account).call(
                    "route53", "us-east-1", "get_hosted_zone", Id=self.zone.zone_id
                )["HostedZone"]
            except ClientError as error:
                raise OperatorError(
                    f"HOSTED_ZONE_ID: {self.zone.zone_id}: {error_code(error)}; give a public hosted zone of "
                    f"account {self.zone_account}"
                ) from None
            if found["Name"].rstrip(".") != self.zone.name or found.get("Config", {}).get("PrivateZone"):
                kind = "private" if found.get("Config", {}).get("PrivateZone") else "public"
                raise OperatorError(
                    f"HOSTED_ZONE_NAME: {self.zone.name}: zone {self.zone.zone_id} is the {kind} zone "
                    f"{found['Name'].rstrip('.')}; the domain checks need the public zone of that name"
                )

    def estimate(self, checks: Sequence[Check], apps: dict[str, IntegApp]) -> tuple[int, float]:
        """Minutes and USD the run takes, about: each test's stacks at list prices for its minutes."""
        table = PriceTable.load()
        usd = 0.0
        for check in checks:
            monthly = sum(cost.total for cost in estimate(read_plan(apps[check.test].directory), table))
            usd += monthly / table.hours_per_month * check.minutes / 60
        return sum(c.minutes for c in checks), usd

    def service_linked_roles(self, app: IntegApp, check: Check) -> list[Outcome]:
        """make bootstrap's step in each account the run has not checked yet, before its first create there:
        created where the account lacks a role; skipped where it has them all (they stay)."""
        outcomes = []
        for account, roles in needed(CloudAssembly.read(app.directory)).items():
            if account in self.roles_checked:
                continue
            self.roles_checked.add(account)
            which = "" if account == self.account else f"account {account}: "
            iam = self.iam_of(account)
            absent = missing(iam, roles)
            if not absent:
                detail = f"{which}the account has them already (a service-linked role, once created, stays)"
                outcomes.append(Outcome("service-linked roles", check.test, SKIPPED, detail))
                continue
            create_missing(iam, tuple(absent), say=self.say)
            names = ", ".join(role.role_name for role in absent)
            detail = f"{which}created {names} before the first create"
            outcomes.append(Outcome("service-linked roles", check.test, HELD, detail))
        return outcomes

    def bootstrap_others(self, assembly: CloudAssembly, *, write: bool) -> list[list[str]]:
        """make bootstrap's step for the accounts besides the tools account (acceptance_accounts.py)."""
        from tools.operate.bootstrap_accounts import account_bootstraps  # noqa: PLC0415 (cfn-lint's schemas)

        if assembly.directory not in self._bootstraps:  # derived once: the schemas' work takes seconds
            self._bootstraps[assembly.directory] = account_bootstraps(assembly)
        return bootstrap_plan(
            assembly,
            self._bootstraps[assembly.directory],
            self.aws,
            replace=self.replace_bootstrap,
            cdk=str(CDK),
            profiles=parse_profiles(self.environment().get(PROFILES_VARIABLE)),
            say=self.say,
            write=write,
        )

    def bootstrapped_others(self, app: IntegApp, check: Check) -> Outcome | None:
        """The other accounts of ``app`` bootstrapped trusting the tools account (None: it has none new)."""
        assembly = CloudAssembly.read(app.directory)
        accounts = sorted({a for a, _ in assembly.environments()} - {self.account} - self.bootstrapped)
        if not accounts:
            return None
        for command in self.bootstrap_others(assembly, write=True):
            self.say("    " + " ".join([Path(command[0]).name, *command[1:]]))
            done = self.run(command, cwd=ROOT, capture_output=True, text=True)
            if done.returncode:
                return Outcome("bootstrap across accounts", check.test, FAILED, last_line(done))
        self.bootstrapped.update(accounts)
        detail = (
            f"{', '.join(accounts)} bootstrapped trusting {self.account}, with the "
            "it-accounts-cdk-execution-<n> policies only"
        )
        return Outcome("bootstrap across accounts", check.test, HELD, detail)

    def cdk(self, *args: str, app: IntegApp) -> subprocess.CompletedProcess:
        command = [str(CDK), *args, "--app", str(app.directory)]
        self.say("    " + " ".join([Path(command[0]).name, *command[1:]]))
        return self.run(command, cwd=ROOT, capture_output=True, text=True)

    def test(self, check: Check, app: IntegApp) -> None:
        """Deploy, hooks, assertions, results; the stacks are destroyed whatever happens."""
        try:
            self.outcomes += self.service_linked_roles(app, check)
            bootstrapped = self.bootstrapped_others(app, check)
            if bootstrapped:
                self.outcomes.append(bootstrapped)
                if bootstrapped.status == FAILED:
                    return
            deployed = self.cdk(
                "deploy",
                "--require-approval",
                "never",
                "--concurrency",
                str(len(app.stacks)),
                *app.stacks,
                app=app,
            )
            if deployed.returncode:
                self.outcomes.append(
                    Outcome(check.name, check.test, FAILED, f"deploy: {last_line(deployed)}")
                )
                return
            for hook in app.post_deploy:
                hooked = self.run(
                    ["bash", "-c", hook],
                    cwd=ROOT,
                    capture_output=True,
                    text=True,
                    env=self.commands_environment(app, ACCEPTANCE_ASSEMBLY=str(app.directory)),
                )
                if hooked.returncode:
                    self.outcomes.append(
                        Outcome(check.name, check.test, FAILED, f"{hook}: {last_line(hooked)}")
                    )
                    return
            outputs = app.directory / "assertion-outputs.json"
            asserted = self.cdk(
                "deploy",
                "--require-approval",
                "never",
                "--exclusively",
                "--outputs-file",
                str(outputs),
                *app.assertions,
                app=app,
            )
            self.outcomes.append(result(check, asserted, outputs))
        finally:
            self.destroy(check, app)

    def destroy(self, check: Check, app: IntegApp) -> None:
        """make destroy's teardown: every stack of the test, deletion protection off first, what it keeps listed;
        then check 7: nothing of the stacks under test is left but what it listed.

        (``cdk destroy`` would stop at the load balancers: the regional stacks turn their deletion protection
        on once created, and only make destroy turns it off.)
        """
        kept_json = app.directory / "destroy-kept.json"
        command = [
            sys.executable,
            str(ROOT / "tools" / "operate" / "destroy.py"),
            str(app.directory),
            "--force",
            "--kept-json",
            str(kept_json),
        ]
        assembly = CloudAssembly.read(app.directory)
        try:  # what services made for the stacks' resources, named after them: read while they exist
            log_groups = leftovers.service_log_groups(self.aws, assembly, app.stacks)
        except AWS_ERRORS as error:
            log_groups = {}
            self.say(f"    could not read the stacks' resources before deleting them: {error}")
        self.say("    " + " ".join(["destroy.py", *command[2:]]))
        for _ in range(IN_FLIGHT_WAIT_SECONDS // IN_FLIGHT_POLL_SECONDS):
            destroyed = self.run(
                command, cwd=ROOT, capture_output=True, text=True, env=self.commands_environment(app)
            )
            if not destroyed.returncode or IN_FLIGHT not in last_line(destroyed):
                break
            self.say(f"    {last_line(destroyed)}: waiting")
            self.sleep(IN_FLIGHT_POLL_SECONDS)
        # What make destroy keeps by design (repositories, buckets, keys, log groups, final snapshots) goes on
        # costing a little: its list, with the command that deletes each, is kept beside the report.
        listing = app.directory / "destroy.txt"
        listing.write_text((destroyed.stdout or "") + (destroyed.stderr or ""))
        if destroyed.returncode:
            detail = (
                f"{last_line(destroyed)}; run .venv/bin/python tools/operate/destroy.py {app.directory} --force "
                "again once the cause is fixed (docs/acceptance.md, If a run stops)"
            )
            self.outcomes.append(Outcome("destroy", check.test, FAILED, detail))
            return
        kept = json.loads(kept_json.read_text()) if kept_json.is_file() else []
        try:
            left = leftovers.settled(self.aws, assembly, app.stacks, kept, log_groups, sleep=self.sleep)
        except AWS_ERRORS as error:
            self.outcomes.append(Outcome("destroy", check.test, FAILED, f"looking for what is left: {error}"))
            return
        if left:
            detail = f"left behind and not in make destroy's list: {', '.join(left)}"
            self.outcomes.append(Outcome("destroy", check.test, FAILED, detail))
        else:
            detail = f"nothing left but the {len(kept)} resource(s) make destroy lists as kept: see {listing}"
            self.outcomes.append(Outcome("destroy", check.test, HELD, detail))

    def report(self, directory: Path) -> Path:
        directory.mkdir(parents=True, exist_ok=True)
        (directory / "acceptance-report.json").write_text(
            json.dumps([asdict(o) for o in self.outcomes], indent=2)
        )
        lines = [
            f"# Acceptance run {self.run_id} on account {self.account}",
            "",
            "| Check | Test | Result | Detail |",
            "|---|---|---|---|",
        ]
        lines += [f"| {o.check} | {o.test} | {o.status} | {o.detail} |" for o in self.outcomes]
        path = directory / "acceptance-report.md"
        path.write_text("\n".join(lines) + "\n")
        return path


def last_line(done: subprocess.CompletedProcess) -> str:
    text = (done.stderr or "") + (done.stdout or "")
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    return lines[-1] if lines else f"exit status {done.returncode}"


def result(check: Check, asserted: subprocess.CompletedProcess, outputs: Path) -> Outcome:
    """The assertions' answer: a check that does not hold fails its stack's deploy; else each result output."""
    if asserted.returncode:
        return Outcome(check.name, check.test, FAILED, last_line(asserted))
    found = json.loads(outputs.read_text()) if outputs.is_file() else {}
    failures = [
        f"{stack}.{name}: {value}"
        for stack, values in found.items()
        for name, value in values.items()
        if name.startswith("AssertionResults") and '"fail"' in str(value)
    ]
    if failures:
        return Outcome(check.name, check.test, FAILED, "; ".join(failures))
    return Outcome(
        check.name, check.test, HELD, f"{sum(len(v) for v in found.values())} assertion output(s) read"
    )


def selected(names: str | None) -> tuple[Check, ...]:
    if not names:
        return CHECKS
    known = {check.test: check for check in CHECKS}
    wanted = [name.strip() for name in names.split(",") if name.strip()]
    unknown = [name for name in wanted if name not in known]
    if unknown or not wanted:
        raise OperatorError(
            f"TESTS: {(unknown or [names])[0]!r} is not an integration test; one of {', '.join(known)}"
        )
    return tuple(dict.fromkeys(known[name] for name in wanted))


def account_of_credentials(environ: dict[str, str], sts=None) -> str:
    """The account the credentials belong to; refuses without credentials or with the placeholder account."""
    if environ.get("CDK_DEFAULT_ACCOUNT") == PLACEHOLDER_ACCOUNT:
        raise OperatorError(
            f"the account is the placeholder {PLACEHOLDER_ACCOUNT}; unset CDK_DEFAULT_ACCOUNT or export your "
            "sandbox account's, and run make acceptance again"
        )
    if sts is None:
        if not has_credentials():
            raise OperatorError(
                "no AWS credentials found; make acceptance deploys to the account of your credentials "
                "(a sandbox account: it creates and destroys stacks), configure them and run it again"
            )
        sts = aws_client("sts", "eu-west-2")
    return sts.get_caller_identity()["Account"]


def hosted_zone(zone_id: str | None, name: str | None) -> HostedZone | None:
    """The zone given for the domain checks; one line when only half of it is."""
    if not zone_id and not name:
        return None
    if not zone_id or not name:
        given, missing = (
            ("HOSTED_ZONE_ID", "HOSTED_ZONE_NAME") if zone_id else ("HOSTED_ZONE_NAME", "HOSTED_ZONE_ID")
        )
        raise OperatorError(
            f"{missing}: missing; {given} is given, and the domain checks need both (the public hosted zone's "
            "ID, Z..., and its name, such as example.com)"
        )
    try:
        DomainSettings(name=name, hosted_zone_id=zone_id, hosted_zone_name=name)
    except ConfigError as error:  # named after the make variable the value came from
        setting, _, reason = str(error).partition(": ")
        variable = "HOSTED_ZONE_ID" if setting == "hosted_zone_id" else "HOSTED_ZONE_NAME"
        raise OperatorError(f"{variable}: {reason}") from None
    return HostedZone(zone_id, name)


def runnable_with(
    checks: Sequence[Check], zone: HostedZone | None, others: OtherAccounts = NO_OTHER_ACCOUNTS
) -> tuple[list[Check], list[Outcome]]:
    """The checks that can run (the domain checks only with a zone, integ_accounts only with its accounts
    too), and a skipped row for each other, saying how to run it."""
    runnable, skipped = [], []
    for check in checks:
        if check.needs_accounts and not others.complete:
            why = (
                "needs two accounts besides yours: make acceptance PRODUCTION_ACCOUNT=... ZONE_ACCOUNT=... "
                "HOSTED_ZONE_ID=... HOSTED_ZONE_NAME=... with ACCOUNT_PROFILES naming a profile for each "
                "(docs/acceptance.md)"
            )
        elif check.needs_zone and not zone:
            why = (
                "no hosted zone given: make acceptance HOSTED_ZONE_ID=Z... HOSTED_ZONE_NAME=example.com (a public "
                "zone of ZONE_ACCOUNT if given, else of this account)"
            )
        else:
            runnable.append(check)
            continue
        skipped.append(Outcome(check.name, check.test, SKIPPED, why))
    return runnable, skipped


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tests", help="comma-separated integ_* names (default: every one)")
    parser.add_argument("--force", action="store_true", help="do not ask before deploying")
    parser.add_argument("--hosted-zone-id", help="the public hosted zone of the domain checks (Z...)")
    parser.add_argument("--hosted-zone-name", help="that zone's name, such as example.com")
    parser.add_argument("--production-account", help="integ_accounts: the account of both production regions")
    parser.add_argument(
        "--zone-account", help="the hosted zone's account, when not the one of your credentials"
    )
    parser.add_argument(
        "--report", type=Path, default=ROOT / "cdk.out.acceptance", help="where the report goes"
    )
    args = parser.parse_args(argv)
    workdir = None
    try:
        checks = selected(args.tests)
        zone = hosted_zone(args.hosted_zone_id, args.hosted_zone_name)
        others = OtherAccounts.given(production=args.production_account, zone=args.zone_account)
        runnable, skipped = runnable_with(checks, zone, others)
        if args.tests and skipped:  # a test asked for by name must run
            raise OperatorError(f"TESTS: {skipped[0].test} cannot run: {skipped[0].detail}")
        account = account_of_credentials(dict(os.environ))
        others.check_against(account)
        run_id = time.strftime("%m%d%H%M", time.gmtime())
        if (args.report / run_id).exists():
            raise OperatorError(
                f"run {run_id} has already started this minute ({args.report / run_id}); wait a minute and run "
                "make acceptance again"
            )
        suite = Acceptance(
            account=account,
            run_id=run_id,
            workdir=args.report / run_id,
            aws=calls_across(account, others, os.environ),
            zone=zone,
            others=others,
            replace_bootstrap=os.environ.get(REPLACE_VARIABLE) == "1",
        )
        suite.outcomes += skipped
        workdir = args.report / run_id  # removed again if the run stops before it deploys
        apps = {check.test: suite.synthesize(check) for check in runnable}
        suite.check_account(list(apps.values()))
        minutes, usd = suite.estimate(runnable, apps)
        print(f"==> make acceptance on account {account}, run {run_id}: {len(runnable)} test(s)")
        if others.production or others.zone:
            named = {"production": others.production, "hosted zone": others.zone}
            print(
                "    other accounts (bootstrapped by the run where a test deploys there, trusting this one): "
                + ", ".join(f"{what} {a}" for what, a in named.items() if a)
            )
        for check in runnable:
            print(
                f"    {check.test} ({check.name}): {', '.join(apps[check.test].stacks + apps[check.test].assertions)}"
            )
        for outcome in suite.outcomes:
            print(f"    {outcome.test} ({outcome.check}): skipped, {outcome.detail}")
        print(
            f"    about {minutes} min and USD {usd:.2f} at on-demand list prices (tools/plan/prices.json), then destroyed"
        )
        if not args.force:
            if not sys.stdin.isatty():
                raise OperatorError(
                    "no terminal to confirm; run make acceptance FORCE=1 to deploy without asking"
                )
            if input("Deploy to this account? [y/N] ").strip().lower() != "y":
                print("nothing deployed")
                shutil.rmtree(workdir, ignore_errors=True)
                return 1
        workdir = None  # deploying from here on: the run's directory holds its report and assemblies
        path = suite.report(args.report / run_id)
        print(f"report (rewritten after each test): {path}")
        for check in runnable:
            suite.test(check, apps[check.test])
            suite.report(args.report / run_id)
        return 0 if all(o.status != FAILED for o in suite.outcomes) else 1
    except (AssemblyError, OperatorError, *AWS_ERRORS) as error:
        if workdir is not None:  # nothing deployed: a retry this minute must not find the run started
            shutil.rmtree(workdir, ignore_errors=True)
        print(f"error: {error_line(error)}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
