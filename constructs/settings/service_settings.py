"""What runs in every region: container, size, count, health check, listeners."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

from constructs.settings.config_checks import fail, freeze, require_bool, require_int, require_str

PRODUCTION_LISTENER_PORT = 80
HTTPS_PORT = 443
SECRETS_MANAGER_PREFIX = "secretsmanager:"
SSM_PREFIX = "ssm:"

_CONTAINER_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,254}$")
_ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,254}$")
_SECRET_SOURCE = re.compile(r"^(secretsmanager:[A-Za-z0-9/_+=.@-]{1,512}|ssm:/?[A-Za-z0-9_.\-/]{1,2047})$")
_USER = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,31}(?::[A-Za-z0-9_][A-Za-z0-9_.-]{0,31})?$")
_ROOT_USERS = ("0", "root")
_ABSOLUTE_PATH = re.compile(r"^/[A-Za-z0-9._/-]{1,254}$")
_URL_PATH = re.compile(r"^/[A-Za-z0-9/._~%!$&'()*+,;=:@-]{0,1023}$")
URL_PATH_RULE = "expected a URL path starting with '/' (at most 1024 characters, no spaces)"

# The user the container runs as unless configured: the default bootstrap image's (release/bootstrap) and
# the sample's, not root.
DEFAULT_CONTAINER_USER = "10001"
# Writable with a read-only root filesystem: /tmp for any program (the default bootstrap image writes
# nothing; the sample declares /tmp a VOLUME, so that ECS gives its uid the directory).
DEFAULT_SCRATCH_PATHS = ("/tmp",)
MAX_SCRATCH_PATHS = 10
# Below this port only root may listen, unless the task lowers it (a network-namespace sysctl Fargate takes).
FIRST_UNPRIVILEGED_PORT = 1024

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


def require_url_path(setting: str, value: object) -> None:
    require_str(setting, value, _URL_PATH, URL_PATH_RULE)


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
            before the first release replaces it; it must answer
            ``health_check_path`` on ``container_port`` as ``container_user``
            with the root filesystem as configured, or the first deploy never
            becomes healthy. Default ``None``: the project's own
            (``release/bootstrap``, built by the CDK CLI during ``cdk deploy``
            as a Docker image asset), which answers every path on the port in
            ``PORT`` as uid 10001 and writes nothing.
        container_secrets: environment variables whose values ECS reads at
            task start from ``secretsmanager:SECRET_NAME`` or
            ``ssm:/PARAMETER/NAME`` in the task's own region (create them in
            every region); pairs of (variable, source). Default none.
        container_user: the non-root user the container runs as (``uid``,
            ``uid:gid``, ``user`` or ``user:group``): the bootstrap image's and
            every release's. Default ``10001`` (the default bootstrap image's
            and the sample's uid).
        readonly_root_filesystem: the container cannot write to its image's
            files; ``scratch_paths`` stay writable. Default ``True``.
        scratch_paths: writable, empty directories (task storage, gone when the
            task stops) with a read-only root. Default ``/tmp``. A directory is
            empty and root-owned (mode 0755: only root writes) unless the image
            declares it a ``VOLUME`` (then its content, owner and permissions
            are copied in, as the sample does for ``/tmp``).
    """

    container_name: str = "web"
    container_port: int = 80
    cpu: int = 256
    memory_mib: int = 512
    desired_count: int = 2
    health_check_path: str = "/"
    test_listener_port: int = 8080
    bootstrap_image: str | None = None
    container_secrets: tuple[tuple[str, str], ...] = ()
    container_user: str = DEFAULT_CONTAINER_USER
    readonly_root_filesystem: bool = True
    scratch_paths: tuple[str, ...] = DEFAULT_SCRATCH_PATHS

    def __post_init__(self) -> None:
        freeze(self, "container_secrets", "scratch_paths")
        require_str(
            "container_name",
            self.container_name,
            _CONTAINER_NAME,
            "expected letters, digits, '-' and '_' (at most 255)",
        )
        require_int("container_port", self.container_port, 1, 65535)
        if (
            isinstance(self.cpu, bool)
            or not isinstance(self.cpu, int)
            or self.cpu not in FARGATE_MEMORY_BY_CPU
        ):
            raise fail("cpu", self.cpu, f"Fargate CPU units are one of {sorted(FARGATE_MEMORY_BY_CPU)}")
        allowed_memory = FARGATE_MEMORY_BY_CPU[self.cpu]
        if isinstance(self.memory_mib, bool) or self.memory_mib not in allowed_memory:
            raise fail(
                "memory_mib",
                self.memory_mib,
                f"with cpu {self.cpu} Fargate allows {allowed_memory[0]} to {allowed_memory[-1]} MiB "
                f"in steps of {allowed_memory[1] - allowed_memory[0]}",
            )
        require_int("desired_count", self.desired_count, 1, 1000)
        require_url_path("health_check_path", self.health_check_path)
        require_int("test_listener_port", self.test_listener_port, 1, 65535)
        if self.test_listener_port in (PRODUCTION_LISTENER_PORT, HTTPS_PORT):
            raise fail(
                "test_listener_port",
                self.test_listener_port,
                f"ports {PRODUCTION_LISTENER_PORT} and {HTTPS_PORT} belong to the production listener",
            )
        self._check_bootstrap_image()
        self._check_user_and_files()
        if not isinstance(self.container_secrets, tuple):
            raise fail("container_secrets", self.container_secrets, "expected pairs of (variable, source)")
        for pair in self.container_secrets:
            if not isinstance(pair, tuple) or len(pair) != 2:
                raise fail("container_secrets", pair, "expected a (variable, source) pair")
            name, source = pair
            require_str("container_secrets", name, _ENV_NAME, "expected an environment variable name")
            require_str(
                "container_secrets",
                source,
                _SECRET_SOURCE,
                "expected secretsmanager:SECRET_NAME or ssm:/PARAMETER/NAME",
            )

    def _check_bootstrap_image(self) -> None:
        if self.bootstrap_image is not None and (
            not isinstance(self.bootstrap_image, str) or not self.bootstrap_image.strip()
        ):
            raise fail("bootstrap_image", self.bootstrap_image, "expected an image reference")

    def _check_user_and_files(self) -> None:
        require_str("container_user", self.container_user, _USER, "expected uid, uid:gid, user or user:group")
        if self.container_user.split(":")[0] in _ROOT_USERS:
            raise fail(
                "container_user",
                self.container_user,
                "it is root; the container runs as a non-root user (uid, uid:gid, user or user:group)",
            )
        require_bool("readonly_root_filesystem", self.readonly_root_filesystem)
        if not isinstance(self.scratch_paths, tuple) or len(self.scratch_paths) > MAX_SCRATCH_PATHS:
            raise fail(
                "scratch_paths", self.scratch_paths, f"expected a list of at most {MAX_SCRATCH_PATHS} paths"
            )
        for path in self.scratch_paths:
            require_str(
                "scratch_paths", path, _ABSOLUTE_PATH, "expected an absolute directory path such as /tmp"
            )
            if self.scratch_paths.count(path) > 1:
                raise fail("scratch_paths", path, "it is listed twice; list each path once")

    @property
    def scratch_volumes(self) -> tuple[str, ...]:
        """The writable directories the task mounts: ``scratch_paths`` with a read-only root, else none."""
        return self.scratch_paths if self.readonly_root_filesystem else ()
