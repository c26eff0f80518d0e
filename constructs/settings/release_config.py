"""The typed, immutable configuration of a multi-region blue/green release.

Every class validates itself when built, so a bad value fails before any
construct exists, with one line that names the setting, the bad value and what
is allowed. ``ReleaseConfig.from_context`` turns raw CDK context (JSON values
from cdk.json, strings from ``-c key=value``) into these types.
"""

from __future__ import annotations

import difflib
import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from constructs.region.release_notifications import NotificationSettings
from constructs.region.web_firewall import WebFirewallSettings
from constructs.settings.config_checks import (
    LOG_RETENTION_DAYS,
    PLACEHOLDER_ACCOUNT,
    ConfigError,
    boolean,
    command_list,
    decimal_number,
    fail,
    freeze,
    region_list,
    require_bool,
    require_distinct_regions,
    require_int,
    require_region,
    require_str,
    text_list,
    text_mapping,
    wave_list,
    whole_number,
    zone_mapping,
)
from constructs.settings.database_settings import DATABASE_SECRETS, DATABASE_SETTINGS, DatabaseSettings
from constructs.settings.deployment_windows import SETTING as WINDOWS
from constructs.settings.deployment_windows import DeploymentWindow
from constructs.settings.domain_settings import DomainSettings
from constructs.settings.rollout_settings import (
    ECS_ACTION_LIMIT_MINUTES,
    AlarmThresholds,
    RolloutSettings,
    TrafficShifting,
)
from constructs.settings.service_settings import ServiceSettings
from constructs.settings.settings_reference import SETTINGS
from constructs.settings.supported_regions import MAX_ACTIONS_PER_STAGE

__all__ = ["CONTEXT_KEYS", "ConfigError", "GitHubSource", "ReleaseConfig", "S3Source"]

_ACCOUNT = re.compile(r"^\d{12}$")
# No "--" (ECR repository names allow one separator between alphanumerics) and none of the
# prefixes S3 reserves for bucket names (the stack's bucket names start with app_name).
# Stack names add "-..." to app_name, so the reserved words are refused alone too.
_APP_NAME = re.compile(
    r"^(?!(?:sthree|amzn-s3-demo)(?:-|$)|xn--)[a-z](?:[a-z0-9]|-(?=[a-z0-9])){0,30}[a-z0-9]$"
)
_STAGING_SUFFIX = "-staging"
# Regions one ECS engine wait action watches: CodePipeline keeps at most 1000 characters of an action's
# configuration value (ActionConfigurationValue), and a region of another account takes about 280 of its
# UserParameters. A wave of more regions gets parallel waits at the same run order (Await-wave-<n>,
# Await-wave-<n>-2, ...: constructs/pipeline/release_pipeline.py), counted against the actions a stage holds.
AWAITED_PER_ACTION = 3
# A bake keeps blue that long (CodeDeploy's TerminationWaitTimeInMinutes takes up to 2880); 12 hours at most.
MAX_BAKE_MINUTES = 720
_CONNECTION_ARN = re.compile(
    r"^arn:aws:(?P<service>codestar-connections|codeconnections):(?P<region>[a-z0-9-]+):\d{12}:"
    r"connection/[0-9a-f-]{36}$"
)
# How many zones a region's network spans when availability_zones does not name them.
MIN_ZONES, MAX_ZONES = 2, 6
_REPOSITORY = re.compile(r"^[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+$")
_CERTIFICATE_ARN = re.compile(
    r"^arn:aws:acm:(?P<region>[a-z0-9-]+):(?P<account>\d{12}):certificate/[0-9a-f-]{36}$"
)


@dataclass(frozen=True, kw_only=True)
class S3Source:
    """Releases start when ``object_key`` is uploaded to the pipeline's versioned source bucket.

    Attributes:
        object_key: the zip of the application source (with its Dockerfile). Default ``source.zip``.
    """

    object_key: str = "source.zip"

    def __post_init__(self) -> None:
        if not isinstance(self.object_key, str) or not self.object_key.endswith(".zip"):
            raise fail("source_object_key", self.object_key, "expected an S3 key ending in .zip")


@dataclass(frozen=True, kw_only=True)
class GitHubSource:
    """Releases start on a push to ``branch`` of a GitHub repository, through a CodeStar connection.

    Attributes:
        connection_arn: ARN of an AVAILABLE connection in the pipeline's (home)
            region: ``arn:aws:codeconnections:...`` (connections made since
            2024) or ``arn:aws:codestar-connections:...``.
        repository: ``owner/name``.
        branch: the branch that is released.
    """

    connection_arn: str
    repository: str
    branch: str

    def __post_init__(self) -> None:
        require_str(
            "source_connection_arn",
            self.connection_arn,
            _CONNECTION_ARN,
            "expected arn:aws:codeconnections:REGION:ACCOUNT:connection/ID "
            "(or arn:aws:codestar-connections:...)",
        )
        require_str("source_repository", self.repository, _REPOSITORY, "expected owner/name")
        if not isinstance(self.branch, str) or not self.branch or any(c.isspace() for c in self.branch):
            raise fail("source_branch", self.branch, "expected a branch name without spaces")

    @property
    def service_prefix(self) -> str:
        """The IAM service prefix the connection's ARN names: IAM matches actions to it."""
        return _CONNECTION_ARN.fullmatch(self.connection_arn)["service"]

    @property
    def region(self) -> str:
        return _CONNECTION_ARN.fullmatch(self.connection_arn)["region"]

    @property
    def owner(self) -> str:
        return self.repository.split("/", 1)[0]

    @property
    def name(self) -> str:
        return self.repository.split("/", 1)[1]


@dataclass(frozen=True, kw_only=True)
class ReleaseConfig:
    """One service released to several regions at once.

    Attributes:
        account: the 12-digit AWS account of every stack. Required.
        home_region: where the pipeline lives; also a deployment region. Default ``eu-west-2``.
        extra_regions: the other production regions. Default ``("ap-southeast-1",)``; may be empty.
        app_name: lowercase letters, digits and hyphens (2-32), the prefix of every
            stack name. Default ``webapp``.
        service: what runs in every region. Default ``ServiceSettings()``.
        rollout: traffic shifting, alarms, termination wait, test-traffic check.
        source: where releases come from. Default ``S3Source()``.
        waves: production regions in the order they deploy: each wave starts
            when the previous one has succeeded, and the regions of a wave
            deploy in parallel. Every production region in exactly one wave.
            With more than one wave, each wave is a pipeline stage of its own.
            Default ``None``: one wave of all regions.
        wave_bake_minutes: with more than one wave, the least time each
            region of a wave but the last keeps blue (the ECS engine: bakes)
            after its traffic has shifted, its deployment alarms watching, before
            the next wave starts (0 to ``MAX_BAKE_MINUTES``): an alarm rolls the
            region back to blue at once and fails the wave's stage. ``0`` turns
            bakes off. Default ``30``.
        deployment_windows: (production region, :class:`DeploymentWindow`)
            pairs: the hours in which the region's wave may start (its
            stage's entry condition). The regions of one wave have the same
            window or none. Default none: any time.
        staging_regions: regions of a staging copy of the service (its own
            stacks, ``<app_name>-staging-<region>``) that every release reaches
            before production. Default ``()``: no staging.
        manual_approval: a person approves each release before production. Default ``False``.
        execution_mode: how CodePipeline handles a release started while another runs: ``queued``
            (each waits for the stage ahead of it to be free, in order) or ``superseded`` (a newer one
            replaces an older one waiting between stages). Default ``queued``; ``parallel`` is refused
            (it has no stage rollback, which every deploy stage uses).
        build_compute: the CodeBuild compute size of the image build: ``small`` (2 vCPUs, 3 GB),
            ``medium`` (4 vCPUs, 7 GB) or ``large`` (8 vCPUs, 15 GB). Default ``small``.
        certificate_arns: (region, ACM certificate ARN) pairs; a region with a
            certificate serves HTTPS on 443 and redirects port 80 to it (its
            staging copy too). The certificate must be in that region and
            account. Default none: HTTP on port 80.
        availability_zones: (region, zone names) pairs: the zones a region's
            network spans (2 to 6, names as the account sees them, such as
            ``us-west-1a``). Needed where Fargate is not offered in every zone
            of a region (us-west-1, ap-northeast-1, ...), since zone names map
            to different zones in each account. Default none: the region's
            first two zones (``Fn::GetAZs``), resolved at deploy time.
        database: every region's own database (production and staging) and
            the schema migration each release runs there. Default
            ``DatabaseSettings()``: no database.
        web_firewall: the WAF web ACL on every load balancer. Default
            ``WebFirewallSettings()``: on.
        domain: the service's own domain with HTTPS in every region and
            latency or residency routing. Default ``DomainSettings()``: none.
        notifications: who hears of alarms, failed deployments and pipeline
            runs. Default ``NotificationSettings()``: the topics, no subscribers.
        allow_plain_http: let a production region without a domain or
            certificate serve plain HTTP on the internet (for trying the app
            out; staging copies may always). Default ``False``: such a region
            is refused.
        security_log_retention_days: days the security logs are kept (VPC
            flow logs, WAF logs, the database's logs, load balancer and S3
            access logs): one of CloudWatch Logs' periods. Default ``365``
            (PCI DSS 3.2.1 requirement 10.7: a year). Application logs are
            kept 30 days.
        region_accounts: (production region, account) pairs: the account
            that region's stack is in, for one account per jurisdiction. A
            region not named is in ``account``, as the pipeline is. Default
            none: every region in ``account``.
        staging_account: the account of the staging copies. Default
            ``account``.
        hosted_zone_account: the account of the domain's hosted zone.
            Default ``account``.
    """

    account: str
    home_region: str = "eu-west-2"
    extra_regions: tuple[str, ...] = ("ap-southeast-1",)
    app_name: str = "webapp"
    service: ServiceSettings = field(default_factory=ServiceSettings)
    rollout: RolloutSettings = field(default_factory=RolloutSettings)
    source: S3Source | GitHubSource = field(default_factory=S3Source)
    waves: tuple[tuple[str, ...], ...] | None = None
    wave_bake_minutes: int = 30
    deployment_windows: tuple[tuple[str, DeploymentWindow], ...] = ()
    staging_regions: tuple[str, ...] = ()
    manual_approval: bool = False
    execution_mode: str = "queued"
    build_compute: str = "small"
    certificate_arns: tuple[tuple[str, str], ...] = ()
    availability_zones: tuple[tuple[str, tuple[str, ...]], ...] = ()
    database: DatabaseSettings = field(default_factory=DatabaseSettings)
    web_firewall: WebFirewallSettings = field(default_factory=WebFirewallSettings)
    domain: DomainSettings = field(default_factory=DomainSettings)
    notifications: NotificationSettings = field(default_factory=NotificationSettings)
    allow_plain_http: bool = False
    security_log_retention_days: int = 365
    region_accounts: tuple[tuple[str, str], ...] = ()
    staging_account: str | None = None
    hosted_zone_account: str | None = None

    def __post_init__(self) -> None:
        freeze(
            self,
            "extra_regions",
            "waves",
            "deployment_windows",
            "staging_regions",
            "certificate_arns",
            "availability_zones",
            "region_accounts",
        )
        require_str("account", self.account, _ACCOUNT, "expected 12 digits")
        require_region("home_region", self.home_region)
        if isinstance(self.extra_regions, tuple) and len(self.regions) > MAX_ACTIONS_PER_STAGE:
            raise ConfigError(
                f"extra_regions: {len(self.extra_regions)} regions plus home_region make "
                f"{len(self.regions)} deploy actions; one CodePipeline stage holds at most "
                f"{MAX_ACTIONS_PER_STAGE}"
            )
        require_distinct_regions("extra_regions", self.extra_regions)
        if self.home_region in self.extra_regions:
            raise fail(
                "extra_regions", self.home_region, "it is the home_region; list only the other regions"
            )
        require_str(
            "app_name",
            self.app_name,
            _APP_NAME,
            "expected 2-32 lowercase letters, digits and single hyphens, starting with a letter "
            "(not sthree- or amzn-s3-demo-, which S3 reserves)",
        )
        if self.app_name.endswith(_STAGING_SUFFIX):
            # Stacks are <app_name>-<region>, <app_name>-staging-<region> and <app_name>-pipeline: no two
            # app names give one stack name unless one of them ends in -staging.
            raise fail(
                "app_name",
                self.app_name,
                f"it ends in {_STAGING_SUFFIX}: its stacks <app_name>-<region> would be another deployment's "
                "staging stacks; choose a name that does not end in -staging",
            )
        for setting, value, kind in (
            ("service", self.service, ServiceSettings),
            ("rollout", self.rollout, RolloutSettings),
            ("source", self.source, S3Source | GitHubSource),
            ("database", self.database, DatabaseSettings),
            ("web_firewall", self.web_firewall, WebFirewallSettings),
            ("domain", self.domain, DomainSettings),
            ("notifications", self.notifications, NotificationSettings),
        ):
            if not isinstance(value, kind):
                raise fail(setting, value, f"expected {kind}")
        self._check_waves()
        self._check_actions_per_stage()
        require_int("wave_bake_minutes", self.wave_bake_minutes, 0, MAX_BAKE_MINUTES)
        self._check_windows()
        if isinstance(self.staging_regions, tuple) and len(self.staging_regions) > MAX_ACTIONS_PER_STAGE:
            raise ConfigError(
                f"staging_regions: {len(self.staging_regions)} regions; one CodePipeline stage holds at most "
                f"{MAX_ACTIONS_PER_STAGE} deploy actions"
            )
        require_distinct_regions("staging_regions", self.staging_regions)
        require_bool("manual_approval", self.manual_approval)
        _check_execution_mode(self.execution_mode)
        if self.build_compute not in BUILD_COMPUTE:
            raise fail("build_compute", self.build_compute, f"expected one of {', '.join(BUILD_COMPUTE)}")
        self._check_accounts()
        self._check_certificates()
        self.domain.check_regions(self.regions, self.staging_regions)
        self._check_zones()
        self._check_database_variables()
        if self.rollout.engine == "ecs" and self.database.migration_command:
            self.rollout.check_ecs_deployment_time(migration_minutes=self.database.migration_timeout_minutes)
        self._check_bake()
        if isinstance(self.source, GitHubSource) and self.source.region != self.home_region:
            raise fail(
                "source_connection_arn",
                self.source.connection_arn,
                f"the connection must be in home_region {self.home_region}, where the pipeline runs",
            )
        if isinstance(self.security_log_retention_days, bool) or (
            self.security_log_retention_days not in LOG_RETENTION_DAYS
        ):
            raise fail(
                "security_log_retention_days",
                self.security_log_retention_days,
                f"expected one of CloudWatch Logs' retention periods in days: {', '.join(map(str, LOG_RETENTION_DAYS))} "
                "(PCI DSS asks for at least 365)",
            )
        require_bool("allow_plain_http", self.allow_plain_http)
        if self.plain_http_regions and not self.allow_plain_http:
            raise fail(
                "allow_plain_http",
                self.allow_plain_http,
                f"production in {', '.join(self.plain_http_regions)} would serve plain HTTP on the internet (no "
                "domain_name, no certificate_arns); give it HTTPS, or set allow_plain_http to true to try the app out",
            )

    @property
    def plain_http_regions(self) -> tuple[str, ...]:
        """The production regions that serve plain HTTP: neither the domain nor a certificate of their own."""
        if self.domain.enabled:
            return ()
        return tuple(r for r in self.regions if r not in dict(self.certificate_arns))

    def _per_region(self, setting: str, pairs: object, values: str) -> tuple[tuple[str, object], ...]:
        """``pairs`` of (deployment region, value), checked to be that."""
        if not isinstance(pairs, tuple):
            raise fail(setting, pairs, f"expected (region, {values}) pairs")
        deployed = (*self.regions, *self.staging_regions)
        for region, _ in pairs:
            if region not in deployed:
                raise fail(setting, region, f"it is not a deployment region ({', '.join(deployed)})")
        return pairs

    def _check_zones(self) -> None:
        for region, zones in self._per_region("availability_zones", self.availability_zones, "zone names"):
            if not isinstance(zones, tuple) or not MIN_ZONES <= len(set(zones)) == len(zones) <= MAX_ZONES:
                raise fail(
                    "availability_zones",
                    list(zones) if isinstance(zones, tuple) else zones,
                    f"expected {MIN_ZONES} to {MAX_ZONES} different zone names of {region}",
                )
            for zone in zones:
                if not isinstance(zone, str) or not re.fullmatch(rf"{re.escape(region)}[a-z]", zone):
                    raise fail(
                        "availability_zones",
                        zone,
                        f"expected a zone name of {region} such as {region}a (zone IDs like use1-az1 are not names)",
                    )

    def _check_database_variables(self) -> None:
        if not self.database.enabled:
            return
        for name, _ in self.service.container_secrets:
            taken = tuple(dict.fromkeys(DATABASE_SETTINGS + DATABASE_SECRETS))
            if name in taken:
                raise fail(
                    "container_secrets",
                    name,
                    f"with a database the container gets {', '.join(taken)} itself; choose another variable name",
                )

    def zones_for(self, region: str) -> tuple[str, ...] | None:
        """The zones configured for ``region``, if any."""
        return dict(self.availability_zones).get(region)

    def _check_certificates(self) -> None:
        for region, arn in self._per_region("certificate_arns", self.certificate_arns, "certificate ARN"):
            match = _CERTIFICATE_ARN.fullmatch(arn) if isinstance(arn, str) else None
            # A region with both copies names one certificate: production's account decides.
            account = self.account_of(region, staging=region not in self.regions)
            if not match or match["region"] != region or match["account"] != account:
                raise fail(
                    "certificate_arns",
                    arn,
                    f"expected arn:aws:acm:{region}:{account}:certificate/ID (the certificate must be in "
                    "the region and account it serves)",
                )

    def certificate_for(self, region: str) -> str | None:
        """The ACM certificate configured for ``region``, if any."""
        return dict(self.certificate_arns).get(region)

    def _check_accounts(self) -> None:
        if not isinstance(self.region_accounts, tuple):
            raise fail("region_accounts", self.region_accounts, "expected (region, account) pairs")
        for region, account in self.region_accounts:
            if region not in self.regions:
                staging = (
                    " (a staging copy's account is staging_account)" if region in self.staging_regions else ""
                )
                raise fail(
                    "region_accounts",
                    region,
                    f"it is not a production region ({', '.join(self.regions)}){staging}",
                )
            require_str("region_accounts", account, _ACCOUNT, f"expected 12 digits, the account of {region}")
        for setting, value, needs in (
            ("staging_account", self.staging_account, "staging_regions"),
            ("hosted_zone_account", self.hosted_zone_account, "domain_name"),
        ):
            if value is None:
                continue
            require_str(setting, value, _ACCOUNT, "expected 12 digits")
            if not (self.staging_regions if needs == "staging_regions" else self.domain.enabled):
                raise fail(setting, value, f"it applies only with {needs}; set {needs} too")

    def account_of(self, region: str, *, staging: bool = False) -> str:
        """The account of the stack that serves ``region``: its staging copy's, or its production one's."""
        if staging:
            return self.staging_account or self.account
        return dict(self.region_accounts).get(region, self.account)

    @property
    def zone_account(self) -> str:
        """The account of the domain's hosted zone."""
        return self.hosted_zone_account or self.account

    @property
    def copies(self) -> tuple[tuple[str, bool, str], ...]:
        """(region, staging, account) of every copy of the service: production's, then staging's."""
        return (
            *((region, False, self.account_of(region)) for region in self.regions),
            *((region, True, self.account_of(region, staging=True)) for region in self.staging_regions),
        )

    def accounts_in(self, region: str) -> set[str]:
        """The accounts of the copies in ``region``."""
        return {account for where, _, account in self.copies if where == region}

    @property
    def other_accounts(self) -> tuple[str, ...]:
        """Every account other than ``account`` (the pipeline's) that a stack or the hosted zone is in."""
        used = [
            *(account for _, _, account in self.copies),
            *((self.zone_account,) if self.domain.enabled else ()),
        ]
        return tuple(dict.fromkeys(a for a in used if a != self.account))

    @property
    def artifact_store_regions(self) -> tuple[str, ...]:
        """The regions, other than the home region, with a stack in another account than the pipeline's.

        The pipeline keeps its artifacts for such a region in a stack of its own account there
        (``<app_name>-artifacts-<region>``); in a region whose stacks are all in the pipeline's account, one
        of those stacks holds them.
        """
        return tuple(
            sorted({r for r, _, account in self.copies if r != self.home_region and account != self.account})
        )

    @property
    def remote_zone(self) -> bool:
        """Whether a copy is in another account than the domain's hosted zone (it writes its names through a
        role of the zone's account)."""
        return self.domain.enabled and any(account != self.zone_account for _, _, account in self.copies)

    def _check_actions_per_stage(self) -> None:
        """On the ECS engine a wave's stage also holds its waits, one per AWAITED_PER_ACTION regions."""
        if self.rollout.engine != "ecs":
            return
        widest = max(len(wave) for wave in self.production_waves)
        actions = widest + -(-widest // AWAITED_PER_ACTION)
        if actions > MAX_ACTIONS_PER_STAGE:
            raise fail(
                "waves" if self.waves else "extra_regions",
                [list(w) for w in self.production_waves] if self.waves else list(self.extra_regions),
                f"with deployment_engine ecs a wave of {widest} regions makes {actions} actions (a deploy per region "
                f"and a wait per {AWAITED_PER_ACTION}); one CodePipeline stage holds at most {MAX_ACTIONS_PER_STAGE}: "
                "split the regions into waves",
            )

    def _check_bake(self) -> None:
        """A baked wave's regions keep blue for the bake: refuse a bake their rollout cannot take, naming
        wave_bake_minutes (on the ECS engine the deployment may run inside CodePipeline's ECS action, which
        waits an hour at most; on CodeDeploy the deployment must end within the action's days)."""
        if not self.baked_regions:
            return
        migration = self.database.migration_timeout_minutes if self.database.migration_command else 0
        room = self.rollout.ecs_bake_room(migration_minutes=migration)
        if self.rollout.engine == "ecs" and self.wave_bake_minutes > room:
            raise fail(
                "wave_bake_minutes",
                self.wave_bake_minutes,
                f"with deployment_engine ecs a wave bakes inside its deployment, which CodePipeline's ECS action "
                f"may wait for, {ECS_ACTION_LIMIT_MINUTES} minutes at most: at most {max(room, 0)} here (0 turns bakes off)",
            )
        try:
            self.rollout_for(self.baked_regions[0])
        except ConfigError as error:
            raise fail(
                "wave_bake_minutes", self.wave_bake_minutes, f"a baked wave's deployments would fail: {error}"
            ) from None

    def _check_waves(self) -> None:
        if self.waves is None:
            return
        if not isinstance(self.waves, tuple) or not self.waves:
            raise fail("waves", self.waves, "expected at least one wave of regions")
        placed: set[str] = set()
        for wave in self.waves:
            if not isinstance(wave, tuple) or not wave:
                raise fail(
                    "waves",
                    list(wave) if isinstance(wave, tuple) else wave,
                    "each wave is a non-empty list of regions",
                )
            for region in wave:
                if region not in self.regions:
                    raise fail("waves", region, f"it is not a production region ({', '.join(self.regions)})")
                if region in placed:
                    raise fail("waves", region, "it is in more than one wave; put each region in one wave")
                placed.add(region)
        missing = [r for r in self.regions if r not in placed]
        if missing:
            raise fail("waves", [list(w) for w in self.waves], f"it leaves out {', '.join(missing)}")

    def _check_windows(self) -> None:
        """Each window on a production region; the regions of one wave (one stage) share theirs."""
        for region, window in self._per_region(WINDOWS, self.deployment_windows, "DeploymentWindow"):
            if region not in self.regions:
                raise fail(WINDOWS, region, f"a window gates a production wave; {region} is a staging region")
            if not isinstance(window, DeploymentWindow):
                raise fail(WINDOWS, {region: window}, "expected a DeploymentWindow per production region")
        for number, wave in enumerate(self.production_waves, start=1):
            windows = {region: self.window_for(region) for region in wave}
            if len(set(windows.values())) > 1:
                shown = {
                    region: window.rule_configuration if window else None
                    for region, window in windows.items()
                }
                waves = (
                    f"wave {number} of waves"
                    if self.waves
                    else 'one wave unless waves splits them, such as [["eu-west-2"], ["ap-southeast-1"]]'
                )
                raise ConfigError(
                    f"{WINDOWS}: {json.dumps(shown)} is not allowed; these regions start together, in one stage "
                    f"({waves}): give them the same window (cron and timezone written alike), or none, or put them "
                    "in different waves"
                )

    def window_for(self, region: str) -> DeploymentWindow | None:
        """The hours in which production ``region``'s wave may start (None: any time)."""
        return dict(self.deployment_windows).get(region)

    @property
    def regions(self) -> tuple[str, ...]:
        """Every production region, the home region first."""
        return (self.home_region, *self.extra_regions)

    @property
    def production_waves(self) -> tuple[tuple[str, ...], ...]:
        """The production regions wave by wave (one wave of all regions by default)."""
        return self.waves if self.waves is not None else (self.regions,)

    @property
    def baked_regions(self) -> tuple[str, ...]:
        """The production regions whose wave bakes before the next one: every wave's but the last's."""
        if not self.wave_bake_minutes:
            return ()
        return tuple(region for wave in self.production_waves[:-1] for region in wave)

    def rollout_for(self, region: str, *, staging: bool = False) -> RolloutSettings:
        """The rollout of one copy: a baked wave's production regions keep blue (the ECS engine: bake) for at
        least ``wave_bake_minutes``, so their deployments watch their alarms that long before the next wave."""
        if staging or region not in self.baked_regions:
            return self.rollout
        kept = max(self.rollout.termination_wait_minutes, self.wave_bake_minutes)
        return replace(self.rollout, termination_wait_minutes=kept)

    @classmethod
    def from_context(cls, context: Mapping[str, Any], *, default_account: str | None) -> ReleaseConfig:
        """Build from CDK context values; ``default_account`` applies when ``account`` is unset.

        Every key must be one of ``CONTEXT_KEYS`` or CDK's own (see ``check_context_keys``).
        """
        check_context_keys(context)
        given = {key: value for key, value in context.items() if value is not None}
        settings: dict[str, Any] = {"account": given.get("account") or default_account or PLACEHOLDER_ACCOUNT}
        for key in ("home_region", "app_name"):
            if key in given:
                settings[key] = given[key]
        for key in ("extra_regions", "staging_regions"):
            if key in given:
                settings[key] = region_list(key, given[key])
        if "waves" in given:
            settings["waves"] = wave_list("waves", given["waves"])
        if "wave_bake_minutes" in given:
            settings["wave_bake_minutes"] = whole_number("wave_bake_minutes", given["wave_bake_minutes"])
            require_int("wave_bake_minutes", settings["wave_bake_minutes"], 0, MAX_BAKE_MINUTES)
            if settings["wave_bake_minutes"] and len(settings.get("waves") or ((),)) < 2:
                raise fail(
                    "wave_bake_minutes",
                    settings["wave_bake_minutes"],
                    "a bake comes between waves, and production is one wave: set waves too, or leave "
                    "wave_bake_minutes out",
                )
        if WINDOWS in given:
            settings[WINDOWS] = _windows(given[WINDOWS])
        if "manual_approval" in given:
            settings["manual_approval"] = boolean("manual_approval", given["manual_approval"])
        for key in ("execution_mode", "build_compute"):
            if key in given:
                settings[key] = given[key]
        if "allow_plain_http" in given:
            settings["allow_plain_http"] = boolean("allow_plain_http", given["allow_plain_http"])
        if "security_log_retention_days" in given:
            settings["security_log_retention_days"] = whole_number(
                "security_log_retention_days", given["security_log_retention_days"]
            )
        if "certificate_arns" in given:
            settings["certificate_arns"] = text_mapping("certificate_arns", given["certificate_arns"])
        if "availability_zones" in given:
            settings["availability_zones"] = zone_mapping("availability_zones", given["availability_zones"])
        if "region_accounts" in given:
            settings["region_accounts"] = text_mapping("region_accounts", given["region_accounts"])
        for key in ("staging_account", "hosted_zone_account"):
            if key in given:
                settings[key] = given[key]
        service = _settings(given, _SERVICE_KEYS)
        if "container_secrets" in given:
            service["container_secrets"] = text_mapping("container_secrets", given["container_secrets"])
        if "readonly_root_filesystem" in given:
            service["readonly_root_filesystem"] = boolean(
                "readonly_root_filesystem", given["readonly_root_filesystem"]
            )
        if "scratch_paths" in given:
            service["scratch_paths"] = text_list("scratch_paths", given["scratch_paths"], "directory paths")
        settings["service"] = ServiceSettings(**service)
        settings["rollout"] = RolloutSettings(
            traffic_shifting=TrafficShifting(**_settings(given, _TRAFFIC_KEYS)),
            alarms=AlarmThresholds(**_settings(given, _ALARM_KEYS)),
            **_settings(given, _ROLLOUT_KEYS),
        )
        settings["source"] = _source(given)
        settings["database"] = _database(given)
        firewall = {}
        if "waf" in given:
            firewall["enabled"] = boolean("waf", given["waf"])
        if "waf_rate_limit" in given:
            firewall["rate_limit"] = whole_number("waf_rate_limit", given["waf_rate_limit"])
        settings["web_firewall"] = WebFirewallSettings(**firewall)
        settings["domain"] = _domain(given)
        if "notification_emails" in given:
            settings["notifications"] = NotificationSettings(
                emails=text_list("notification_emails", given["notification_emails"], "email addresses")
            )
        return cls(**settings)


# context key -> (field name, whether the value is a whole number)
_SERVICE_KEYS = {
    "container_name": ("container_name", False),
    "container_port": ("container_port", True),
    "cpu": ("cpu", True),
    "memory_mib": ("memory_mib", True),
    "desired_count": ("desired_count", True),
    "health_check_path": ("health_check_path", False),
    "test_listener_port": ("test_listener_port", True),
    "bootstrap_image": ("bootstrap_image", False),
    "container_user": ("container_user", False),
}
_TRAFFIC_KEYS = {
    "traffic_shifting": ("mode", False),
    "traffic_percentage": ("percentage", True),
    "traffic_interval_minutes": ("interval_minutes", True),
}
_ALARM_KEYS = {
    "alarm_5xx_per_minute": ("target_5xx_per_minute", True),
    "alarm_unhealthy_hosts": ("unhealthy_hosts", True),
    "alarm_latency_ms": ("latency_ms", True),
    "alarm_latency_percentile": ("latency_percentile", False),
    "alarm_evaluation_minutes": ("evaluation_minutes", True),
}
_ROLLOUT_KEYS = {
    "deployment_engine": ("engine", False),
    "termination_wait_minutes": ("termination_wait_minutes", True),
    "test_traffic_check_path": ("test_traffic_check_path", False),
}
# context key -> DomainSettings field
_DOMAIN_KEYS = {
    "domain_name": "name",
    "hosted_zone_id": "hosted_zone_id",
    "hosted_zone_name": "hosted_zone_name",
    "routing": "routing",
}
_GITHUB_KEYS = ("source_connection_arn", "source_repository", "source_branch")
# context key -> (field name, parser)
_DATABASE_KEYS = {
    "database_backup_days": ("backup_days", whole_number),
    "database_min_acu": ("min_acu", decimal_number),
    "database_max_acu": ("max_acu", decimal_number),
    "migration_command": ("migration_command", command_list),
    "migration_timeout_minutes": ("migration_timeout_minutes", whole_number),
}

CONTEXT_KEYS: tuple[str, ...] = tuple(setting.key for setting in SETTINGS)
"""Every context key the app reads: the settings of the reference (constructs/settings/settings_reference.py)."""

# context key -> where ReleaseConfig holds its value (the typed API's name for the setting).
PYTHON_FIELDS: dict[str, str] = {
    **{
        key: key
        for key in ("account", "home_region", "extra_regions", "app_name", "waves", "staging_regions")
    },
    "wave_bake_minutes": "wave_bake_minutes",
    WINDOWS: f"{WINDOWS} (DeploymentWindow)",
    **{key: key for key in ("manual_approval", "execution_mode", "build_compute")},
    **{key: key for key in ("certificate_arns", "availability_zones")},
    **{key: key for key in ("allow_plain_http", "security_log_retention_days")},
    **{key: key for key in ("region_accounts", "staging_account", "hosted_zone_account")},
    **{key: f"service.{name}" for key, (name, _) in _SERVICE_KEYS.items()},
    **{key: f"service.{key}" for key in ("container_secrets", "readonly_root_filesystem", "scratch_paths")},
    **{key: f"rollout.traffic_shifting.{name}" for key, (name, _) in _TRAFFIC_KEYS.items()},
    **{key: f"rollout.alarms.{name}" for key, (name, _) in _ALARM_KEYS.items()},
    **{key: f"rollout.{name}" for key, (name, _) in _ROLLOUT_KEYS.items()},
    "source_object_key": "source.object_key (S3Source)",
    **{key: f"source.{key.removeprefix('source_')} (GitHubSource)" for key in _GITHUB_KEYS},
    "database": "database.engine",
    **{key: f"database.{name}" for key, (name, _) in _DATABASE_KEYS.items()},
    "waf": "web_firewall.enabled",
    "waf_rate_limit": "web_firewall.rate_limit",
    **{key: f"domain.{name}" for key, name in _DOMAIN_KEYS.items()},
    "residency": "domain.residency",
    "notification_emails": "notifications.emails",
}

# Context keys of CDK itself: feature flags start with "@", the CLI's and
# lookups' keys contain ":", and these two the CDK CLI (2.1148) writes without
# either (`cdk acknowledge`, telemetry).
CDK_CONTEXT_KEYS = ("acknowledged-issue-numbers", "cli-telemetry")


def check_context_keys(keys: Iterable[str]) -> None:
    """Refuse a context key that is neither the app's nor CDK's: a typo would otherwise be ignored."""
    for key in sorted(keys):
        if key in CONTEXT_KEYS or key in CDK_CONTEXT_KEYS or key.startswith("@") or ":" in key:
            continue
        close = difflib.get_close_matches(key, CONTEXT_KEYS, n=1)
        hint = f"did you mean {close[0]}?" if close else "docs/configuration.md lists every setting"
        raise ConfigError(f"{key}: unknown setting, neither this app's nor CDK's own; {hint}")


def _settings(given: Mapping[str, Any], keys: Mapping[str, tuple[str, bool]]) -> dict[str, Any]:
    return {
        name: whole_number(key, given[key]) if is_number else given[key]
        for key, (name, is_number) in keys.items()
        if key in given
    }


def _source(given: Mapping[str, Any]) -> S3Source | GitHubSource:
    github = {key: given[key] for key in _GITHUB_KEYS if given.get(key)}
    if not github:
        return S3Source(object_key=given["source_object_key"]) if "source_object_key" in given else S3Source()
    missing = [key for key in _GITHUB_KEYS if key not in github]
    if missing:
        raise ConfigError(
            f"{missing[0]}: missing; a GitHub source needs {', '.join(_GITHUB_KEYS)} together "
            "(leave all three unset for the S3 source)"
        )
    return GitHubSource(
        connection_arn=github["source_connection_arn"],
        repository=github["source_repository"],
        branch=github["source_branch"],
    )


def _database(given: Mapping[str, Any]) -> DatabaseSettings:
    engine = given.get("database", "none")
    settings = {name: parse(key, given[key]) for key, (name, parse) in _DATABASE_KEYS.items() if key in given}
    if engine == "none" and settings:
        key = next(key for key in _DATABASE_KEYS if key in given)
        raise fail(key, given[key], "it applies only with a database; set database to aurora-postgresql")
    return DatabaseSettings(engine=engine, **settings)


_WINDOW_SAMPLE = '{"ap-southeast-1": {"cron": "* * 9-16 ? * MON-FRI *", "timezone": "Asia/Singapore"}}'


def _windows(value: object) -> tuple[tuple[str, DeploymentWindow], ...]:
    """A JSON object of production region -> {"cron": ..., "timezone": ...} (cdk.json, or its text with -c)."""
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except json.JSONDecodeError as error:
            raise fail(
                WINDOWS, value, f"it is not JSON ({error.msg}); expected such as {_WINDOW_SAMPLE}"
            ) from None
    if not isinstance(value, dict):
        raise fail(
            WINDOWS, value, f"expected a JSON object of production region to window, such as {_WINDOW_SAMPLE}"
        )
    windows = []
    for region, window in value.items():
        setting = f"{WINDOWS}.{region}"
        if not isinstance(window, dict):
            raise fail(
                setting,
                window,
                'expected {"cron": "<the DeploymentWindow rule\'s cron>", "timezone": "<zone>"}',
            )
        for key in ("cron", "timezone"):
            if key not in window:
                raise fail(setting, window, f"{key} is missing; a window has cron and timezone (UTC for UTC)")
        unknown = sorted(set(window) - {"cron", "timezone"})
        if unknown:
            raise fail(
                setting, window, f"{unknown[0]} is not a key of a window; a window has cron and timezone"
            )
        windows.append(
            (region, DeploymentWindow(setting=setting, cron=window["cron"], timezone=window["timezone"]))
        )
    return tuple(sorted(windows))


def _domain(given: Mapping[str, Any]) -> DomainSettings:
    settings = {name: given[key] for key, name in _DOMAIN_KEYS.items() if key in given}
    if "residency" in given:
        settings["residency"] = text_mapping("residency", given["residency"])
    return DomainSettings(**settings)


EXECUTION_MODES = ("queued", "superseded")
# CodeBuild's Linux compute types the build may use (BUILD_GENERAL1_<SIZE>), smallest first.
BUILD_COMPUTE = ("small", "medium", "large")


def _check_execution_mode(mode: object) -> None:
    if mode == "parallel":
        raise fail(
            "execution_mode",
            mode,
            "expected queued or superseded: in parallel mode CodePipeline has no stage rollback, which every "
            "deploy stage of this pipeline uses when a region fails",
        )
    if mode not in EXECUTION_MODES:
        raise fail("execution_mode", mode, "expected queued or superseded")
