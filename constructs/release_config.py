"""The typed, immutable configuration of a multi-region blue/green release.

Every class validates itself when built, so a bad value fails before any
construct exists, with one line that names the setting, the bad value and what
is allowed. ``ReleaseConfig.from_context`` turns raw CDK context (JSON values
from cdk.json, strings from ``-c key=value``) into these types.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from constructs.supported_regions import MAX_ACTIONS_PER_STAGE, supported_regions

PLACEHOLDER_ACCOUNT = "111111111111"
PRODUCTION_LISTENER_PORT = 80

_ACCOUNT = re.compile(r"^\d{12}$")
_REGION_CODE = re.compile(r"^[a-z]{2}(-[a-z]+)+-\d{1,2}$")
_APP_NAME = re.compile(r"^[a-z][a-z0-9-]{0,30}[a-z0-9]$")
_CONTAINER_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,254}$")
_CONNECTION_ARN = re.compile(
    r"^arn:aws:(codestar-connections|codeconnections):[a-z0-9-]+:\d{12}:connection/[0-9a-f-]{36}$"
)
_REPOSITORY = re.compile(r"^[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+$")
_HEALTH_CHECK_PATH = re.compile(r"^/[A-Za-z0-9/._~%!$&'()*+,;=:@-]{0,1023}$")

# Fargate task sizes: CPU units -> allowed memory (MiB).
FARGATE_MEMORY_BY_CPU: Mapping[int, tuple[int, ...]] = {
    256: (512, 1024, 2048),
    512: tuple(range(1024, 4096 + 1, 1024)),
    1024: tuple(range(2048, 8192 + 1, 1024)),
    2048: tuple(range(4096, 16384 + 1, 1024)),
    4096: tuple(range(8192, 30720 + 1, 1024)),
    8192: tuple(range(16384, 61440 + 1, 4096)),
    16384: tuple(range(32768, 122880 + 1, 8192)),
}


class ConfigError(ValueError):
    """A configuration value is not allowed; the message is one line for the user."""


def _fail(setting: str, value: object, allowed: str) -> ConfigError:
    return ConfigError(f"{setting}: {value!r} is not allowed; {allowed}")


def _require_int(setting: str, value: object, low: int, high: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int):
        raise _fail(setting, value, f"expected a whole number from {low} to {high}")
    if not low <= value <= high:
        raise _fail(setting, value, f"expected a whole number from {low} to {high}")


def _require_str(setting: str, value: object, pattern: re.Pattern[str], allowed: str) -> None:
    if not isinstance(value, str):
        raise _fail(setting, value, f"expected text, not {type(value).__name__}: {allowed}")
    if not pattern.fullmatch(value):
        raise _fail(setting, value, allowed)


def _require_region(setting: str, value: object) -> None:
    _require_str(setting, value, _REGION_CODE, "expected a region code such as eu-west-2")
    if value not in supported_regions():
        raise _fail(
            setting,
            value,
            "CodePipeline, CodeDeploy and ECS all run only in: " + ", ".join(supported_regions()),
        )


@dataclass(frozen=True, kw_only=True)
class ServiceSettings:
    """What runs in every region.

    Attributes:
        container_name: the container the load balancer sends traffic to. Default ``web``.
        container_port: the port that container listens on. Default ``80``.
        cpu: Fargate CPU units for the task. Default ``256`` (0.25 vCPU).
        memory_mib: task memory in MiB, a Fargate size valid for ``cpu``. Default ``512``.
        desired_count: running tasks per region. Default ``2``.
        health_check_path: HTTP path the target groups probe. Default ``/``.
        test_listener_port: load balancer port that serves the new (green) task
            set before production traffic shifts; reachable from inside the VPC
            only. Default ``8080``.
        bootstrap_image: the image CloudFormation starts the service with,
            before the first release replaces it; it must answer the health
            check on ``container_port``. Default ``public.ecr.aws/nginx/nginx:stable-alpine``.
    """

    container_name: str = "web"
    container_port: int = 80
    cpu: int = 256
    memory_mib: int = 512
    desired_count: int = 2
    health_check_path: str = "/"
    test_listener_port: int = 8080
    bootstrap_image: str = "public.ecr.aws/nginx/nginx:stable-alpine"

    def __post_init__(self) -> None:
        _require_str(
            "container_name",
            self.container_name,
            _CONTAINER_NAME,
            "expected letters, digits, '-' and '_' (at most 255)",
        )
        _require_int("container_port", self.container_port, 1, 65535)
        if not isinstance(self.cpu, int) or self.cpu not in FARGATE_MEMORY_BY_CPU:
            raise _fail("cpu", self.cpu, f"Fargate CPU units are one of {sorted(FARGATE_MEMORY_BY_CPU)}")
        allowed_memory = FARGATE_MEMORY_BY_CPU[self.cpu]
        if isinstance(self.memory_mib, bool) or self.memory_mib not in allowed_memory:
            raise _fail(
                "memory_mib",
                self.memory_mib,
                f"with cpu {self.cpu} Fargate allows {allowed_memory[0]} to {allowed_memory[-1]} MiB "
                f"in steps of {allowed_memory[1] - allowed_memory[0]}",
            )
        _require_int("desired_count", self.desired_count, 1, 1000)
        _require_str(
            "health_check_path",
            self.health_check_path,
            _HEALTH_CHECK_PATH,
            "expected a URL path starting with '/' (at most 1024 characters, no spaces)",
        )
        _require_int("test_listener_port", self.test_listener_port, 1, 65535)
        if self.test_listener_port == PRODUCTION_LISTENER_PORT:
            raise _fail(
                "test_listener_port",
                self.test_listener_port,
                f"port {PRODUCTION_LISTENER_PORT} is the production listener's",
            )
        if not isinstance(self.bootstrap_image, str) or not self.bootstrap_image.strip():
            raise _fail("bootstrap_image", self.bootstrap_image, "expected an image reference")


@dataclass(frozen=True, kw_only=True)
class S3Source:
    """Releases start when ``object_key`` is uploaded to the pipeline's versioned source bucket.

    Attributes:
        object_key: the zip of the application source (with its Dockerfile). Default ``source.zip``.
    """

    object_key: str = "source.zip"

    def __post_init__(self) -> None:
        if not isinstance(self.object_key, str) or not self.object_key.endswith(".zip"):
            raise _fail("source_object_key", self.object_key, "expected an S3 key ending in .zip")


@dataclass(frozen=True, kw_only=True)
class GitHubSource:
    """Releases start on a push to ``branch`` of a GitHub repository, through a CodeStar connection.

    Attributes:
        connection_arn: ARN of an AVAILABLE CodeStar (CodeConnections) connection.
        repository: ``owner/name``.
        branch: the branch that is released.
    """

    connection_arn: str
    repository: str
    branch: str

    def __post_init__(self) -> None:
        _require_str(
            "source_connection_arn",
            self.connection_arn,
            _CONNECTION_ARN,
            "expected arn:aws:codestar-connections:REGION:ACCOUNT:connection/ID",
        )
        _require_str("source_repository", self.repository, _REPOSITORY, "expected owner/name")
        if not isinstance(self.branch, str) or not self.branch or any(c.isspace() for c in self.branch):
            raise _fail("source_branch", self.branch, "expected a branch name without spaces")

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
        home_region: where the pipeline lives; also the first deployment region. Default ``eu-west-2``.
        extra_regions: the other deployment regions, deployed in parallel with the
            home region. Default ``("ap-southeast-1",)``; may be empty.
        app_name: lowercase letters, digits and hyphens (2-32), the prefix of every
            stack name. Default ``webapp``.
        service: what runs in every region. Default ``ServiceSettings()``.
        source: where releases come from. Default ``S3Source()``.
    """

    account: str
    home_region: str = "eu-west-2"
    extra_regions: tuple[str, ...] = ("ap-southeast-1",)
    app_name: str = "webapp"
    service: ServiceSettings = field(default_factory=ServiceSettings)
    source: S3Source | GitHubSource = field(default_factory=S3Source)

    def __post_init__(self) -> None:
        _require_str("account", self.account, _ACCOUNT, "expected 12 digits")
        _require_region("home_region", self.home_region)
        if not isinstance(self.extra_regions, tuple):
            raise _fail("extra_regions", self.extra_regions, "expected a tuple of region codes")
        if len(self.regions) > MAX_ACTIONS_PER_STAGE:
            raise ConfigError(
                f"extra_regions: {len(self.extra_regions)} regions plus home_region make "
                f"{len(self.regions)} deploy actions; one CodePipeline stage holds at most "
                f"{MAX_ACTIONS_PER_STAGE}"
            )
        seen: set[str] = set()
        for region in self.extra_regions:
            _require_region("extra_regions", region)
            if region == self.home_region:
                raise _fail("extra_regions", region, "it is the home_region; list only the other regions")
            if region in seen:
                raise _fail("extra_regions", region, "it is listed twice; list each region once")
            seen.add(region)
        _require_str(
            "app_name",
            self.app_name,
            _APP_NAME,
            "expected 2-32 lowercase letters, digits and hyphens, starting with a letter",
        )
        if not isinstance(self.service, ServiceSettings):
            raise _fail("service", self.service, "expected ServiceSettings")
        if not isinstance(self.source, S3Source | GitHubSource):
            raise _fail("source", self.source, "expected S3Source or GitHubSource")

    @property
    def regions(self) -> tuple[str, ...]:
        """Every deployment region, the home region first."""
        return (self.home_region, *self.extra_regions)

    @classmethod
    def from_context(cls, context: Mapping[str, Any], *, default_account: str | None) -> ReleaseConfig:
        """Build from CDK context values; ``default_account`` applies when ``account`` is unset."""
        account = context.get("account") or default_account or PLACEHOLDER_ACCOUNT
        settings: dict[str, Any] = {"account": account}
        for key in ("home_region", "app_name"):
            if context.get(key) is not None:
                settings[key] = context[key]
        if context.get("extra_regions") is not None:
            settings["extra_regions"] = _region_list(context["extra_regions"])
        settings["service"] = ServiceSettings(**_service_settings(context))
        settings["source"] = _source(context)
        return cls(**settings)


_SERVICE_INT_KEYS = ("container_port", "cpu", "memory_mib", "desired_count", "test_listener_port")
_SERVICE_STR_KEYS = ("container_name", "health_check_path", "bootstrap_image")
_GITHUB_KEYS = ("source_connection_arn", "source_repository", "source_branch")


def _region_list(value: object) -> tuple[str, ...]:
    """A JSON list (cdk.json), or a comma-separated / JSON-list string (``-c``)."""
    if isinstance(value, str):
        text = value.strip()
        if text.startswith("["):
            try:
                value = json.loads(text)
            except json.JSONDecodeError:
                raise _fail("extra_regions", value, "expected a JSON list of region codes") from None
        else:
            return tuple(part.strip() for part in text.split(",") if part.strip())
    if not isinstance(value, Sequence) or isinstance(value, str):
        raise _fail(
            "extra_regions",
            value,
            "expected a JSON list of region codes, or a comma-separated string with -c",
        )
    return tuple(value)


def _whole_number(key: str, value: object) -> object:
    """``-c`` values arrive as strings; JSON numbers pass through to validation."""
    if isinstance(value, str):
        try:
            return int(value.strip())
        except ValueError:
            raise _fail(key, value, "expected a whole number") from None
    return value


def _service_settings(context: Mapping[str, Any]) -> dict[str, Any]:
    settings: dict[str, Any] = {}
    for key in _SERVICE_INT_KEYS:
        if context.get(key) is not None:
            settings[key] = _whole_number(key, context[key])
    for key in _SERVICE_STR_KEYS:
        if context.get(key) is not None:
            settings[key] = context[key]
    return settings


def _source(context: Mapping[str, Any]) -> S3Source | GitHubSource:
    given = {key: context.get(key) for key in _GITHUB_KEYS if context.get(key)}
    if not given:
        key = context.get("source_object_key")
        return S3Source(object_key=key) if key is not None else S3Source()
    missing = [key for key in _GITHUB_KEYS if key not in given]
    if missing:
        raise ConfigError(
            f"{missing[0]}: missing; a GitHub source needs {', '.join(_GITHUB_KEYS)} together "
            "(leave all three unset for the S3 source)"
        )
    return GitHubSource(
        connection_arn=given["source_connection_arn"],
        repository=given["source_repository"],
        branch=given["source_branch"],
    )
