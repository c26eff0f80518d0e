"""Stand-ins for the `aws` and `docker` commands the build runs, answering from synthesized templates.

State lives in the directory named by FAKE_CLOUD_DIR:

- ``world.json``: ``{"task_definitions": {"<region>/<family>": <DescribeTaskDefinition
  taskDefinition>}, "unreachable_regions": [...]}``, written by the test;
- ``images/<name>``: what ``docker build``/``docker tag`` made locally (content digest);
- ``logins/<registry host>``: registries ``docker login`` succeeded for;
- ``registry/<host>/<repository>/<tag>``: what ``docker push`` put in a region's ECR;
- ``events.jsonl``: one line per command, with push start/end times.
"""

from __future__ import annotations

import hashlib
import json
import os
import sys
import time
from pathlib import Path

PUSH_SECONDS = 0.2


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
    service, operation = args[0], args[1]
    if (service, operation) == ("ecr", "get-login-password"):
        print(password_for(region))
        return 0
    if (service, operation) == ("ecr", "describe-images"):
        assert option(args, "--query") == "imageDetails[0].imageDigest"
        tag = option(args, "--image-ids").removeprefix("imageTag=")
        matches = list(
            (state() / "registry").glob(f"*.dkr.ecr.{region}.*/{option(args, '--repository-name')}/{tag}")
        )
        if not matches:
            return fail(
                "An error occurred (ImageNotFoundException) when calling the DescribeImages operation", 254
            )
        print(matches[0].read_text())
        return 0
    if (service, operation) == ("ecs", "describe-task-definition"):
        assert option(args, "--query") == "taskDefinition"
        assert option(args, "--output") == "json"
        key = f"{region}/{option(args, '--task-definition')}"
        described = world()["task_definitions"].get(key)
        if described is None:
            return fail(
                "An error occurred (ClientException) when calling the DescribeTaskDefinition operation", 254
            )
        print(json.dumps(described, indent=4))
        return 0
    return fail(f"fake aws: unsupported {service} {operation}")


def docker_main(args: list[str]) -> int:
    log({"command": "docker", "args": args})
    images = state() / "images"
    images.mkdir(exist_ok=True)
    if args[0] == "login":
        host = args[-1]
        if sys.stdin.read().strip() != password_for(region_of_host(host)):
            return fail(f"Error response from daemon: login to {host} denied")
        (state() / "logins").mkdir(exist_ok=True)
        (state() / "logins" / host).touch()
        return 0
    if args[0] == "build":
        context = Path(args[-1])
        dockerfile = (context / "Dockerfile").read_bytes()
        (images / option(args, "--tag").replace("/", "%")).write_text(
            "sha256:" + hashlib.sha256(dockerfile).hexdigest()
        )
        return 0
    if args[0] == "tag":
        source, target = args[1], args[2]
        (images / target.replace("/", "%")).write_text((images / source.replace("/", "%")).read_text())
        return 0
    if args[0] == "push":
        reference = args[1]
        host, rest = reference.split("/", 1)
        repository, tag = rest.rsplit(":", 1)
        if not (state() / "logins" / host).exists():
            return fail(f"denied: not logged in to {host}")
        started = time.monotonic()
        time.sleep(PUSH_SECONDS)
        target = state() / "registry" / host / repository / tag
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text((images / reference.replace("/", "%")).read_text())
        log({"command": "push-interval", "reference": reference, "start": started, "end": time.monotonic()})
        return 0
    return fail(f"fake docker: unsupported {args[0]}")
