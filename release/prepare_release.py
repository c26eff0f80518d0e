"""The pipeline's build step: one image, pushed to every region, and each region's deploy files.

Runs inside CodeBuild (the buildspec inlines this file; standard library only)
in the source directory, with ``docker`` and the AWS CLI on PATH and the
release plan as JSON in the ``RELEASE_PLAN`` environment variable::

    {"targets": [{"region": "eu-west-2",
                  "repository_uri": "123456789012.dkr.ecr.eu-west-2.amazonaws.com/name",
                  "task_definition_family": "family",
                  "container_name": "web", "container_port": 80,
                  "kind": "codedeploy",
                  "task_definition_file": "taskdef-eu-west-2.json",
                  "appspec_file": "appspec-eu-west-2.yaml",
                  "hooks": {"AfterAllowTestTraffic": "function-name"}}, ...]}

A target's ``kind`` says which deploy files its engine reads: ``codedeploy``
(the task definition and appspec, step 4) or ``ecs`` (``image_definitions_file``:
the container's image for CodePipeline's ECS deploy action).

With ``cache_repository`` in the plan (the pipeline's own repository for the build cache), the build reuses
the layers of earlier releases: BuildKit's registry cache, ``<cache_repository>:buildcache``, read before and
written after the build (``mode=max``; ``image-manifest=true,oci-mediatypes=true``, the form ECR stores).
Docker's default builder cannot export a registry cache, so the build makes a ``docker-container`` builder
first (its BuildKit image, moby/buildkit from Docker Hub); when that fails or takes over five minutes (no buildx, or the
image cannot be pulled) it builds without the cache, as before. A missing cache (the first release) is a cache miss, and a cache that cannot be written fails nothing
(``ignore-error=true``).

Steps:
1. log in to every region's registry and the cache's (one login at a time: each rewrites docker's
   credential file);
2. build the image from the source's Dockerfile, once, then push it to every region's ECR
   repository concurrently and read its digest back from each region's
   registry (the build fails unless every region holds the image, so no
   deploy starts before its image is there);
3. write the first target's digest (the first region pushed to: staging's first copy if there is one,
   else the pipeline's region) to ``DIGEST_FILE``, which the buildspec exports as the build action's
   ``IMAGE_DIGEST`` variable;
4. for every region, write the task definition CodeDeploy registers: the
   latest revision of the region's task-definition family (the one the
   regional stack registered; read as the region's reader role,
   ``reader_role_arn``, when the region is in another account) with only the
   container image replaced by the region's repository pinned to the digest;
   and the appspec naming the container and port the region's target groups use.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

LOCAL_IMAGE = "release-candidate"
# Where the build leaves the release's image digest (its first target's repository's) for the buildspec to
# export as IMAGE_DIGEST: CodePipeline keeps it with the build action's execution (make status's ledger).
DIGEST_FILE = ".image-digest"
# The build action's output variable that carries it (the buildspec's exported-variables).
EXPORTED_DIGEST = "IMAGE_DIGEST"
# The build cache's tag in the cache repository, and the BuildKit builder that reads and writes it.
CACHE_TAG = "buildcache"
BUILDER = "release-cache"
# The builder's BuildKit image: buildx's own default, moby/buildkit from Docker Hub (its publisher's). Docker
# Hub rate-limits anonymous pulls per address, and CodeBuild's addresses are shared: a builder that does not
# start in time leaves the build without the cache, not failed.
BUILDKIT_IMAGE = "moby/buildkit:buildx-stable-1"
BUILDER_START_SECONDS = 300

# RegisterTaskDefinition's request members: everything else that
# DescribeTaskDefinition returns (ARN, revision, status, timestamps, ...) is
# read-only and would be rejected.
REGISTER_TASK_DEFINITION_KEYS = (
    "family",
    "taskRoleArn",
    "executionRoleArn",
    "networkMode",
    "containerDefinitions",
    "volumes",
    "placementConstraints",
    "requiresCompatibilities",
    "cpu",
    "memory",
    "pidMode",
    "ipcMode",
    "proxyConfiguration",
    "inferenceAccelerators",
    "ephemeralStorage",
    "runtimePlatform",
    "enableFaultInjection",
    "trustedExecutionConfiguration",
)


class ReleaseError(RuntimeError):
    """A build step failed; the message says which and why."""


_OUTPUT = threading.Lock()


def say(line: str) -> None:
    """Print one whole line, also from several threads at once."""
    with _OUTPUT:
        sys.stdout.write(line + "\n")
        sys.stdout.flush()


def run(
    args: list[str],
    *,
    stdin: str | None = None,
    env: dict[str, str] | None = None,
    timeout: float | None = None,
) -> str:
    """Run a command, echoing it; raise ReleaseError with its stderr when it fails or outlasts ``timeout``."""
    say("+ " + " ".join(args))
    try:
        result = subprocess.run(
            args, input=stdin, capture_output=True, text=True, check=False, env=env, timeout=timeout
        )
    except subprocess.TimeoutExpired:
        raise ReleaseError(f"{' '.join(args[:3])} did not end within {timeout:.0f} seconds") from None
    if result.returncode != 0:
        raise ReleaseError(f"{' '.join(args[:3])} failed ({result.returncode}): {result.stderr.strip()}")
    return result.stdout


def aws(region: str, *args: str, output: str = "text", credentials: dict[str, str] | None = None) -> str:
    """Run an AWS CLI command against ``region``, as the build's role or with ``credentials`` (an assumed role's)."""
    env = None
    if credentials:
        env = {
            **os.environ,
            "AWS_ACCESS_KEY_ID": credentials["AccessKeyId"],
            "AWS_SECRET_ACCESS_KEY": credentials["SecretAccessKey"],
            "AWS_SESSION_TOKEN": credentials["SessionToken"],
        }
    return run(["aws", *args, "--region", region, "--output", output], env=env)


def reader_credentials(target: dict) -> dict[str, str] | None:
    """For a region in another account, credentials of its reader role (ECS has no cross-account reads)."""
    if "reader_role_arn" not in target:
        return None
    return json.loads(
        aws(
            target["region"],
            "sts",
            "assume-role",
            "--role-arn",
            target["reader_role_arn"],
            "--role-session-name",
            "release-build",
            "--query",
            "Credentials",
            output="json",
        )
    )


def image_tag(environ: dict[str, str]) -> str:
    """A tag unique to this build: build number plus the start of the source version."""
    build_number = environ.get("CODEBUILD_BUILD_NUMBER", "0")
    source = re.sub(r"[^A-Za-z0-9]", "", environ.get("CODEBUILD_RESOLVED_SOURCE_VERSION", ""))[:12]
    return f"build-{build_number}-{source}" if source else f"build-{build_number}"


def registry_host(repository_uri: str) -> str:
    return repository_uri.split("/", 1)[0]


def repository_name(repository_uri: str) -> str:
    return repository_uri.split("/", 1)[1]


def region_of(repository_uri: str) -> str:
    """The region of a repository's registry (``<account>.dkr.ecr.<region>.<suffix>/<name>``)."""
    return registry_host(repository_uri).split(".")[3]


def registry_id(repository_uri: str) -> str:
    """The account whose registry holds the repository (``<account>.dkr.ecr.<region>.<suffix>/<name>``)."""
    return repository_uri.split(".", 1)[0]


def log_in(targets: list[dict]) -> None:
    """Log in to every target's registry, one login at a time.

    Each ``docker login`` reads, changes and rewrites ``~/.docker/config.json``
    without a lock (distribution/distribution#2874): logins running side by
    side drop each other's credentials, and a later push fails with "no basic
    auth credentials". The passwords are fetched concurrently; the logins run
    one after another, before any push starts.
    """
    regions = {registry_host(t["repository_uri"]): t["region"] for t in targets}
    with ThreadPoolExecutor(max_workers=len(regions)) as pool:
        passwords = list(pool.map(lambda region: aws(region, "ecr", "get-login-password"), regions.values()))
    for host, password in zip(regions, passwords, strict=True):
        run(["docker", "login", "--username", "AWS", "--password-stdin", host], stdin=password)


def build(out_dir: Path, local: str, cache_repository: str | None) -> None:
    """Build ``local`` from the source, with the registry cache in ``cache_repository`` when a builder can use it."""
    if cache_repository and cache_builder():
        ref = f"{cache_repository}:{CACHE_TAG}"
        run(
            [
                "docker",
                "buildx",
                "build",
                "--builder",
                BUILDER,
                "--load",
                "--tag",
                local,
                "--cache-from",
                f"type=registry,ref={ref}",
                "--cache-to",
                f"type=registry,ref={ref},mode=max,image-manifest=true,oci-mediatypes=true,ignore-error=true",
                str(out_dir),
            ]
        )
        return
    run(["docker", "build", "--tag", local, str(out_dir)])


def cache_builder() -> bool:
    """Start a ``docker-container`` builder (the default ``docker`` one cannot export a registry cache) from
    BUILDKIT_IMAGE; False, saying why, when it cannot start within BUILDER_START_SECONDS."""
    try:
        run(
            [
                "docker",
                "buildx",
                "create",
                "--name",
                BUILDER,
                "--driver",
                "docker-container",
                "--driver-opt",
                f"image={BUILDKIT_IMAGE}",
                "--bootstrap",
            ],
            timeout=BUILDER_START_SECONDS,
        )
    except ReleaseError as error:
        say(f"==> building without the cache: {error}")
        return False
    return True


def push(target: dict, tag: str) -> str:
    """Push the local image to the target's repository; return the digest its registry reports."""
    remote = f"{target['repository_uri']}:{tag}"
    run(["docker", "tag", f"{LOCAL_IMAGE}:{tag}", remote])
    run(["docker", "push", remote])
    digest = aws(
        target["region"],
        "ecr",
        "describe-images",
        # The repository's own registry: without it the CLI asks the build's account's registry.
        "--registry-id",
        registry_id(target["repository_uri"]),
        "--repository-name",
        repository_name(target["repository_uri"]),
        "--image-ids",
        f"imageTag={tag}",
        "--query",
        "imageDetails[0].imageDigest",
    ).strip()
    if not re.fullmatch(r"sha256:[0-9a-f]{64}", digest):
        raise ReleaseError(f"{target['region']}: ECR has no digest for {remote} (got {digest!r})")
    return digest


def render_task_definition(described: dict, *, container_name: str, image: str) -> dict:
    """The registrable task definition: ``described`` with only ``container_name``'s image replaced.

    Members ECS returns with their default value (``false``, empty lists and
    objects, such as ``enableFaultInjection: false`` on every task definition
    since late 2024) are left out: registering without them is the same, and a
    deployer that does not know a newer member rejects it even when it is empty.
    """
    task_definition = {
        key: described[key]
        for key in REGISTER_TASK_DEFINITION_KEYS
        if key in described and described[key] not in (None, False, [], {})
    }
    containers = task_definition.get("containerDefinitions", [])
    matches = [container for container in containers if container.get("name") == container_name]
    if len(matches) != 1:
        names = [container.get("name") for container in containers]
        raise ReleaseError(
            f"task definition {described.get('family')} has no container {container_name!r}: {names}"
        )
    matches[0]["image"] = image
    return task_definition


def render_appspec(*, container_name: str, container_port: int, hooks: dict[str, str] | None = None) -> str:
    """The ECS appspec; CodeDeploy puts the registered revision's ARN in place of <TASK_DEFINITION>.

    ``hooks`` maps lifecycle events (``AfterAllowTestTraffic``, ...) to Lambda function names.
    """
    appspec = (
        "version: 0.0\n"
        "Resources:\n"
        "  - TargetService:\n"
        "      Type: AWS::ECS::Service\n"
        "      Properties:\n"
        '        TaskDefinition: "<TASK_DEFINITION>"\n'
        "        LoadBalancerInfo:\n"
        f"          ContainerName: {json.dumps(container_name)}\n"
        f"          ContainerPort: {int(container_port)}\n"
    )
    if hooks:
        appspec += "Hooks:\n" + "".join(f"  - {event}: {json.dumps(name)}\n" for event, name in hooks.items())
    return appspec


def write_codedeploy_files(target: dict, digest: str, out_dir: Path) -> None:
    described = json.loads(
        aws(
            target["region"],
            "ecs",
            "describe-task-definition",
            "--task-definition",
            target["task_definition_family"],
            "--query",
            "taskDefinition",
            output="json",
            credentials=reader_credentials(target),
        )
    )
    task_definition = render_task_definition(
        described,
        container_name=target["container_name"],
        image=f"{target['repository_uri']}@{digest}",
    )
    (out_dir / target["task_definition_file"]).write_text(json.dumps(task_definition, indent=2) + "\n")
    (out_dir / target["appspec_file"]).write_text(
        render_appspec(
            container_name=target["container_name"],
            container_port=target["container_port"],
            hooks=target.get("hooks"),
        )
    )


def write_image_definitions(target: dict, digest: str, out_dir: Path) -> None:
    """The ECS deploy action's input: the container's image, the region's repository pinned by digest."""
    definitions = [{"name": target["container_name"], "imageUri": f"{target['repository_uri']}@{digest}"}]
    (out_dir / target["image_definitions_file"]).write_text(json.dumps(definitions, indent=2) + "\n")


# The deploy files of each engine (a target's "kind").
DEPLOY_FILE_WRITERS = {"codedeploy": write_codedeploy_files, "ecs": write_image_definitions}


def write_deploy_files(target: dict, digest: str, out_dir: Path) -> None:
    kind = target["kind"]
    if kind not in DEPLOY_FILE_WRITERS:
        raise ReleaseError(
            f"{target['region']}: unknown deploy kind {kind!r}; expected one of {sorted(DEPLOY_FILE_WRITERS)}"
        )
    DEPLOY_FILE_WRITERS[kind](target, digest, out_dir)


def release(plan: dict, environ: dict[str, str], out_dir: Path) -> dict[str, str]:
    """Run every step; return each region's image digest."""
    targets = plan["targets"]
    if not (out_dir / "Dockerfile").is_file():
        raise ReleaseError("the source has no Dockerfile at its root; the build needs one to make the image")
    tag = image_tag(environ)
    cache = plan.get("cache_repository")
    log_in([*targets, *([{"repository_uri": cache, "region": region_of(cache)}] if cache else [])])
    say(f"==> building {LOCAL_IMAGE}:{tag} for {len(targets)} region(s)")
    build(out_dir, f"{LOCAL_IMAGE}:{tag}", cache)

    with ThreadPoolExecutor(max_workers=len(targets)) as pool:
        digests = dict(
            zip((t["region"] for t in targets), pool.map(lambda t: push(t, tag), targets), strict=True)
        )
    say("==> image in every region: " + ", ".join(f"{r} {d[:19]}" for r, d in digests.items()))
    (out_dir / DIGEST_FILE).write_text(digests[targets[0]["region"]])

    for target in targets:
        write_deploy_files(target, digests[target["region"]], out_dir)
        written = [
            target[key]
            for key in ("task_definition_file", "appspec_file", "image_definitions_file")
            if key in target
        ]
        say(f"==> {target['region']}: {', '.join(written)}")
    return digests


def main() -> int:
    try:
        release(json.loads(os.environ["RELEASE_PLAN"]), dict(os.environ), Path.cwd())
    except ReleaseError as error:
        print(f"release failed: {error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
