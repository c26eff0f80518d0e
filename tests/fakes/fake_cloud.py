"""Stand-ins for the `aws` and `docker` commands the build runs, answering from synthesized templates.

Every call that reaches AWS is first authorized, as AWS would, against the
build role's synthesized policies by the IAM simulator listening on
FAKE_IAM_SOCKET (tests/iam/simulator_server.mjs): the IAM action and the
resource ARN each call is evaluated on come from the Service Authorization
Reference (see CLI_CALLS and PUSH_ACTIONS). A denied call fails the way the
real command does.

State lives in the directory named by FAKE_CLOUD_DIR:

- ``world.json``: ``{"caller": <iam_client.Caller>, "task_definitions":
  {"<account>/<region>/<family>": <DescribeTaskDefinition taskDefinition>},
  "roles": {"<role ARN>": {"caller": <Caller>, "trust": <trust policy>}},
  "repository_policies": {"<repository ARN>": <policy>},
  "unreachable_regions": [...]}``, written by the test (``roles``: those the
  build may assume, such as another account's reader role);
- ``images/<name>``: what ``docker build``/``docker tag`` made locally (its manifest's digest), and
  ``images/<name>.layers``: its layers' digests;
- ``docker-config.json``: docker's credential file, read, changed and written
  back by every ``docker login`` (as ``~/.docker/config.json`` is);
- ``registry/<host>/<repository>/<tag>``: what ``docker push`` put in a region's ECR (a registry cache's
  tag: the digest of each build step it holds), and ``registry/<host>/<repository>/blobs/<digest>``: the
  layers that repository holds;
- ``events.jsonl``: one line per command, with login and push start/end times.
"""

from __future__ import annotations

import hashlib
import json
import os
import sys
import time
from pathlib import Path

from iam_client import Caller, denial

PUSH_SECONDS = 0.2
# Pushes the build is expected to run at once: each push waits (up to PUSH_BARRIER_SECONDS) until that many
# have started, so pushes run in parallel overlap however busy the machine is, and pushes run one after
# another do not overlap at all.
PUSH_BARRIER_SECONDS = 3.0
# How long a `docker login` holds the credential file between reading and writing it back.
LOGIN_SECONDS = float(os.environ.get("FAKE_DOCKER_LOGIN_SECONDS", "0.1"))

# `docker push` to ECR: the actions AWS documents for pushing an image, each on
# the repository's ARN (https://docs.aws.amazon.com/AmazonECR/latest/userguide/image-push-iam.html).
PUSH_ACTIONS = (
    "ecr:BatchCheckLayerAvailability",
    "ecr:InitiateLayerUpload",
    "ecr:UploadLayerPart",
    "ecr:CompleteLayerUpload",
    "ecr:PutImage",
    "ecr:BatchGetImage",
)


def repository_arn(region: str, account: str, name: str) -> str:
    return f"arn:aws:ecr:{region}:{account}:repository/{name}"


# (service, CLI command) -> (API operation, the resource ARN IAM evaluates). The
# IAM action is `<service>:<operation>`; resource types are the Service
# Authorization Reference's (ecr, ecs): GetAuthorizationToken and
# DescribeTaskDefinition support none ("*"), DescribeImages takes the repository.
CLI_CALLS = {
    ("ecr", "get-login-password"): ("GetAuthorizationToken", lambda region, account, args: "*"),
    ("ecr", "describe-images"): (
        "DescribeImages",
        lambda region, account, args: repository_arn(
            region, option(args, "--registry-id"), option(args, "--repository-name")
        ),
    ),
    ("ecs", "describe-task-definition"): ("DescribeTaskDefinition", lambda region, account, args: "*"),
    ("sts", "assume-role"): ("AssumeRole", lambda region, account, args: option(args, "--role-arn")),
}
SESSION_TOKEN_PREFIX = "fake-session-token/"


def state() -> Path:
    return Path(os.environ["FAKE_CLOUD_DIR"])


def world() -> dict:
    return json.loads((state() / "world.json").read_text())


def log(event: dict) -> None:
    with (state() / "events.jsonl").open("a") as events:
        events.write(json.dumps(event) + "\n")


def option(args: list[str], name: str) -> str:
    return args[args.index(name) + 1]


def fail(message: str, code: int = 1) -> int:
    print(message, file=sys.stderr)
    return code


def caller() -> Caller:
    """The build role, or the role whose session credentials the command runs with (``aws sts assume-role``)."""
    token = os.environ.get("AWS_SESSION_TOKEN", "")
    if token.startswith(SESSION_TOKEN_PREFIX):
        role_arn, session = token.removeprefix(SESSION_TOKEN_PREFIX).rsplit("/", 1)
        assumed = Caller.from_json(world()["roles"][role_arn]["caller"])
        return Caller(assumed.role_arn, assumed.policies, session)
    return Caller.from_json(world()["caller"])


def resource_policy(resource: str) -> dict | None:
    """The policy of a resource that has one: a repository's, or a role's trust policy."""
    if resource in world().get("roles", {}):
        return world()["roles"][resource]["trust"]
    return world().get("repository_policies", {}).get(resource)


def refused(action: str, resource: str) -> str | None:
    """AWS's AccessDenied message when the caller may not do ``action`` on ``resource``.

    A resource of another account is evaluated as AWS evaluates a cross-account request: the caller's policies
    and the resource's own (a repository policy, a trust policy) must both allow it.
    """
    parts = resource.split(":")
    owner = parts[4] if resource.startswith("arn:") and len(parts) > 4 and parts[4] else None
    return denial(
        os.environ["FAKE_IAM_SOCKET"],
        caller(),
        action,
        resource,
        resource_account=owner,
        resource_policy=resource_policy(resource),
    )


def password_for(region: str) -> str:
    return f"ecr-password-{region}"


def region_of_host(host: str) -> str:
    # 123456789012.dkr.ecr.<region>.amazonaws.com
    return host.split(".")[3]


def aws_main(args: list[str]) -> int:
    log({"command": "aws", "args": args})
    region = option(args, "--region")
    if region in world().get("unreachable_regions", []):
        return fail(f"Could not connect to the endpoint URL for {region}", 255)
    service, command = args[0], args[1]
    if (service, command) not in CLI_CALLS:
        return fail(f"fake aws: unsupported {service} {command}")
    operation, resource_of = CLI_CALLS[service, command]
    message = refused(f"{service}:{operation}", resource_of(region, caller().account, args))
    if message:
        # The AWS CLI's answer to a denied call: the error code, and exit status 254.
        return fail(
            f"\nAn error occurred (AccessDeniedException) when calling the {operation} operation: {message}",
            254,
        )
    if command == "get-login-password":
        print(password_for(region))
        return 0
    if command == "assume-role":
        assert option(args, "--query") == "Credentials"
        role_arn = option(args, "--role-arn")
        if role_arn not in world().get("roles", {}):
            return fail("An error occurred (AccessDenied) when calling the AssumeRole operation", 254)
        token = f"{SESSION_TOKEN_PREFIX}{role_arn}/{option(args, '--role-session-name')}"
        credentials = {"AccessKeyId": "ASIAFAKE", "SecretAccessKey": "fake", "SessionToken": token}
        print(json.dumps({**credentials, "Expiration": "2026-12-07T18:00:00+00:00"}, indent=4))
        return 0
    if command == "describe-images":
        assert option(args, "--query") == "imageDetails[0].imageDigest"
        tag = option(args, "--image-ids").removeprefix("imageTag=")
        registry = option(args, "--registry-id")
        matches = list(
            (state() / "registry").glob(
                f"{registry}.dkr.ecr.{region}.*/{option(args, '--repository-name')}/{tag}"
            )
        )
        if not matches:
            return fail(
                "An error occurred (ImageNotFoundException) when calling the DescribeImages operation", 254
            )
        print(matches[0].read_text())
        return 0
    assert option(args, "--query") == "taskDefinition"
    assert option(args, "--output") == "json"
    # A family name names a task definition of the caller's own account.
    described = world()["task_definitions"].get(
        f"{caller().account}/{region}/{option(args, '--task-definition')}"
    )
    if described is None:
        return fail(
            "An error occurred (ClientException) when calling the DescribeTaskDefinition operation", 254
        )
    print(json.dumps(described, indent=4))
    return 0


def docker_config() -> Path:
    return state() / "docker-config.json"


def log_in(host: str) -> int:
    """Read the credential file, add ``host``, write it back: concurrent logins lose each other's entries."""
    if sys.stdin.read().strip() != password_for(region_of_host(host)):
        return fail(f"Error response from daemon: login to {host} denied")
    started = time.monotonic()
    config = json.loads(docker_config().read_text()) if docker_config().exists() else {"auths": {}}
    time.sleep(LOGIN_SECONDS)
    config["auths"][host] = {"auth": "QVdTOnRva2Vu"}
    docker_config().write_text(json.dumps(config))
    log({"command": "login-interval", "host": host, "start": started, "end": time.monotonic()})
    print("Login Succeeded")
    return 0


def push(reference: str, images: Path) -> int:
    """Push as Docker does to ECR: each layer the repository already holds is skipped, the others are sent
    ("When an image is pushed to a repository, each image layer is checked to verify if it has been uploaded
    before. If it has been uploaded, then the image layer is skipped": ECR API reference,
    BatchCheckLayerAvailability)."""
    arrived = arrive()
    host, rest = reference.split("/", 1)
    repository, tag = rest.rsplit(":", 1)
    auths = json.loads(docker_config().read_text())["auths"] if docker_config().exists() else {}
    if host not in auths:
        return fail("no basic auth credentials")
    arn = repository_arn(region_of_host(host), host.split(".")[0], repository)
    for action in PUSH_ACTIONS:
        message = refused(action, arn)
        if message:
            return fail(f"denied: {message}")
    started = time.monotonic()
    await_every_push(arrived)
    target = state() / "registry" / host / repository / tag
    blobs = target.parent / "blobs"
    blobs.mkdir(parents=True, exist_ok=True)
    local = images / reference.replace("/", "%")
    sent = []
    for layer in json.loads(Path(f"{local}.layers").read_text()):
        if not (blobs / layer).exists():
            (blobs / layer).touch()
            sent.append(layer)
    target.write_text(local.read_text())
    log(
        {
            "command": "push-interval",
            "reference": reference,
            "start": started,
            "end": time.monotonic(),
            "sent": sent,
        }
    )
    return 0


def arrive() -> float:
    """Count this push as started (a refused one too, so that no other waits for it); when it started."""
    arrivals = state() / "push-arrivals"
    arrivals.mkdir(exist_ok=True)
    (arrivals / str(os.getpid())).touch()
    return time.monotonic()


def await_every_push(arrived: float) -> None:
    """Hold this push until every expected push has started (or the barrier's time is up), then push."""
    expected = int(os.environ.get("FAKE_PUSHES_AT_ONCE", "1"))
    arrivals = state() / "push-arrivals"
    while len(list(arrivals.iterdir())) < expected and time.monotonic() < arrived + PUSH_BARRIER_SECONDS:
        time.sleep(0.01)
    time.sleep(PUSH_SECONDS)


PULL_ACTIONS = ("ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer")


def built(images: Path, args: list[str], cached: dict[str, str] | None = None) -> dict[str, str]:
    """Build the image of ``args`` (its context is the last argument) into the local images, a layer per
    Dockerfile instruction; the digest of each step's layer, by the step's cache key.

    A step's key is its instruction, the files it copies and its parent's key, as BuildKit keys its cache. A
    step found in ``cached`` (a registry cache's steps) reuses that layer; the base image's layers are the
    base image's; any other step built again makes a layer of its own, whose files carry this build's times
    (BuildKit does not clamp the timestamps of the files a build creates: moby/buildkit#3180), so a new digest.
    """
    context = Path(args[-1])
    key, steps, layers = "", {}, []
    for instruction in (context / "Dockerfile").read_text().splitlines():
        if not instruction.strip() or instruction.lstrip().startswith("#"):
            continue
        copied = b""
        if instruction.split()[0].upper() in ("COPY", "ADD"):
            copied = b"".join(
                path.read_bytes()
                for path in sorted(context.rglob("*"))
                if path.is_file() and path.name != "Dockerfile"
            )
        key = hashlib.sha256(key.encode() + instruction.encode() + copied).hexdigest()
        if instruction.split()[0].upper() == "FROM":
            layer = "sha256:" + hashlib.sha256(instruction.encode()).hexdigest()
        elif cached and key in cached:
            layer = cached[key]
        else:
            layer = "sha256:" + hashlib.sha256(f"{key}{os.getpid()}{time.time_ns()}".encode()).hexdigest()
        steps[key] = layer
        layers.append(layer)
    name = images / option(args, "--tag").replace("/", "%")
    name.write_text("sha256:" + hashlib.sha256("".join(layers).encode()).hexdigest())
    Path(f"{name}.layers").write_text(json.dumps(layers))
    return steps


def buildx(args: list[str], images: Path) -> int:
    """``buildx create`` (a builder, unless FAKE_BUILDX_FAILS says why it cannot start) and ``buildx build`` with a
    registry cache: the builder must be a docker-container one (Docker's own driver cannot export a registry
    cache), the image reaches the local images only with --load, the cache is read and written as the build role
    (a read it may not make is a miss; a write, an error unless ignore-error=true)."""
    builders = state() / "builders"
    builders.mkdir(exist_ok=True)
    if args[0] == "create":
        if os.environ.get("FAKE_BUILDX_FAILS"):
            return fail(os.environ["FAKE_BUILDX_FAILS"])
        (builders / option(args, "--name")).write_text(option(args, "--driver"))
        return 0
    builder = builders / option(args, "--builder")
    if not builder.exists():
        return fail(f"ERROR: no builder {builder.name!r} found")
    if "--cache-to" in args and builder.read_text() != "docker-container":
        return fail("ERROR: Cache export is not supported for the docker driver.")
    cache_from, cache_to = (
        registry_cache(option(args, "--cache-from")),
        registry_cache(option(args, "--cache-to")),
    )
    stored = state() / "registry" / cache_from["host"] / cache_from["repository"] / cache_from["tag"]
    readable = stored.exists() and not any(refused(a, cache_from["arn"]) for a in PULL_ACTIONS)
    log({"command": "cache-import", "ref": cache_from["ref"], "hit": readable})
    steps = built(images, args, json.loads(stored.read_text()) if readable else None)
    if "--load" not in args:
        image = images / option(args, "--tag").replace("/", "%")
        for made in (image, Path(f"{image}.layers")):
            made.unlink(missing_ok=True)
    denied = next(filter(None, (refused(a, cache_to["arn"]) for a in PUSH_ACTIONS)), None)
    if denied and cache_to.get("ignore-error") != "true":
        return fail(f"ERROR: failed to export cache: {denied}")
    if not denied:  # mode=max: every step's layer
        target = state() / "registry" / cache_to["host"] / cache_to["repository"] / cache_to["tag"]
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(json.dumps(steps))
    log({"command": "cache-export", "ref": cache_to["ref"], "written": not denied, "options": cache_to})
    return 0


def registry_cache(option_value: str) -> dict[str, str]:
    """A --cache-from/--cache-to value (``type=registry,ref=<host>/<repository>:<tag>,...``), parsed."""
    fields = dict(part.split("=", 1) for part in option_value.split(","))
    if fields.get("type") != "registry":
        raise SystemExit(fail(f"fake docker: only registry caches, not {option_value}"))
    host, rest = fields["ref"].split("/", 1)
    repository, tag = rest.rsplit(":", 1)
    arn = repository_arn(region_of_host(host), host.split(".")[0], repository)
    return {**fields, "host": host, "repository": repository, "tag": tag, "arn": arn}


def docker_main(args: list[str]) -> int:
    log({"command": "docker", "args": args})
    images = state() / "images"
    images.mkdir(exist_ok=True)
    if args[0] == "login":
        return log_in(args[-1])
    if args[0] == "build":
        built(images, args)
        return 0
    if args[0] == "buildx":
        return buildx(args[1:], images)
    if args[0] == "tag":
        source, target = (images / name.replace("/", "%") for name in args[1:3])
        target.write_text(source.read_text())
        Path(f"{target}.layers").write_text(Path(f"{source}.layers").read_text())
        return 0
    if args[0] == "push":
        return push(args[1], images)
    return fail(f"fake docker: unsupported {args[0]}")
