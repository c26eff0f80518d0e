"""Runs the synthesized buildspec offline, against stand-ins for `aws` and `docker`.

The stand-ins (tests/fakes) answer from the synthesized templates: each
region's ``DescribeTaskDefinition`` returns the task definition its regional
stack makes CloudFormation register, with the read-only fields ECS adds.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from pathlib import Path

from cfn_resolver import Resolver
from iam_policies import caller, trust_policy
from iam_simulator import IamSimulator
from template_queries import build_spec, only, props, resources, service_task_definition

FAKES = Path(__file__).resolve().parent / "fakes"
BUILD_NUMBER = "7"
SOURCE_VERSION = "3f2a9c1e7b40d6a8"
BUILD_ID = "8f6c1f0e-2b7d-4c1a-9d3e-5a4b6c7d8e9f"
# Maps whose keys are data (log options, labels), not CloudFormation property names.
_DATA_MAPS = {"Options", "DockerLabels"}


def cfn_to_api(value: object) -> object:
    """CloudFormation's PascalCase task-definition properties as the ECS API's camelCase members."""
    if isinstance(value, list):
        return [cfn_to_api(item) for item in value]
    if not isinstance(value, dict):
        return value
    return {
        key[0].lower() + key[1:]: (dict(item) if key in _DATA_MAPS else cfn_to_api(item))
        for key, item in value.items()
    }


def described_task_definition(resolver: Resolver, stack_name: str, template: dict) -> dict:
    """What `aws ecs describe-task-definition` returns for the family the regional stack registered."""
    stack = resolver.stacks[stack_name]
    registered = cfn_to_api(resolver.resolve(stack_name, service_task_definition(template)))
    return {
        # What ECS returns for members the template leaves out: their defaults.
        "volumes": [],
        "placementConstraints": [],
        "enableFaultInjection": False,
        **registered,
        "taskDefinitionArn": f"arn:aws:ecs:{stack.region}:{stack.account}:task-definition/{registered['family']}:3",
        "revision": 3,
        "status": "ACTIVE",
        "compatibilities": ["EC2", "FARGATE"],
        "requiresAttributes": [{"name": "com.amazonaws.ecs.capability.logging-driver.awslogs"}],
        "registeredAt": "2026-11-26T10:00:00+00:00",
        "registeredBy": f"arn:aws:sts::{stack.account}:assumed-role/cfn-exec/AWSCloudFormation",
    }


@dataclass(frozen=True)
class BuildRun:
    """The outcome of one build: exit status, output, working directory and the fake cloud's state."""

    result: subprocess.CompletedProcess[str]
    workdir: Path
    cloud: Path
    plan: dict
    described: dict[str, dict]  # by family
    artifact_files: list[str]

    def exported(self) -> dict[str, str]:
        """The variables the buildspec exports, as CodeBuild hands them to CodePipeline."""
        marked = [line for line in self.result.stdout.splitlines() if line.startswith("exported ")]
        return dict(line.removeprefix("exported ").split("=", 1) for line in marked)

    def events(self) -> list[dict]:
        path = self.cloud / "events.jsonl"
        return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []

    def registry_digest(self, repository_uri: str, tag: str) -> str:
        return (self.cloud / "registry" / repository_uri / tag).read_text()


def build_variables(synthesized) -> dict[str, str]:
    """The CodeBuild project's environment variables as CloudFormation would resolve them."""
    resolver = Resolver.from_synthesized(synthesized)
    project = props(synthesized.pipeline, "AWS::CodeBuild::Project")
    pipeline_stack = f"{synthesized.config.app_name}-pipeline"
    return {
        v["Name"]: resolver.resolve(pipeline_stack, v["Value"])
        for v in project["Environment"]["EnvironmentVariables"]
    }


def build_role_id(synthesized) -> str:
    """Logical id of the CodeBuild project's service role in the pipeline stack."""
    return props(synthesized.pipeline, "AWS::CodeBuild::Project")["ServiceRole"]["Fn::GetAtt"][0]


def run_build(
    synthesized,
    root: Path,
    *,
    simulator: IamSimulator,
    unreachable_regions: tuple[str, ...] = (),
    dockerfile: bool | str = True,
    files: Mapping[str, str] | None = None,
    edit_policies: Callable[[dict], dict] | None = None,
    edit_world: Callable[[dict], None] | None = None,
    registry: Path | None = None,
    env: dict[str, str] | None = None,
) -> BuildRun:
    """Run the synthesized buildspec; every AWS call is authorized against the build role's policies.

    ``edit_policies`` changes each of the role's policy documents first (to show what a missing
    or misdirected permission does); ``edit_world`` changes what the stand-ins know of the other
    accounts (a repository policy, a reader role's trust) the same way. ``registry``: the registries an
    earlier build left (``<cloud>/registry``); ``env``: more of the build's environment (the stand-ins' switches).
    ``dockerfile``: the source's Dockerfile (``True``: one line, ``FROM`` busybox; ``False``: none), ``files``:
    the source's other files by name.
    """
    resolver = Resolver.from_synthesized(synthesized)
    variables = build_variables(synthesized)
    plan = json.loads(variables["RELEASE_PLAN"])
    described = {}
    for stack_name, template in synthesized.templates.items():
        if resources(template, "AWS::ECS::TaskDefinition"):
            task_definition = described_task_definition(resolver, stack_name, template)
            described[task_definition["family"]] = task_definition
    cloud, workdir = root / "cloud", root / "source"
    cloud.mkdir(parents=True)
    workdir.mkdir(parents=True)
    if registry is not None:  # what an earlier build left in the registries (its images, its cache)
        shutil.copytree(registry, cloud / "registry")
    pipeline_stack = f"{synthesized.config.app_name}-pipeline"
    build_role = caller(resolver, pipeline_stack, build_role_id(synthesized), f"AWSCodeBuild-{BUILD_ID}")
    if edit_policies:
        build_role = replace(build_role, policies=tuple(edit_policies(p) for p in build_role.policies))
    world = {
        "caller": build_role.to_json(),
        "task_definitions": {task_definition_key(td): td for td in described.values()},
        "roles": assumable_roles(resolver, synthesized),
        "repository_policies": repository_policies(resolver, synthesized),
        "unreachable_regions": list(unreachable_regions),
    }
    if edit_world:
        edit_world(world)
    (cloud / "world.json").write_text(json.dumps(world))
    if dockerfile:
        text = (
            dockerfile
            if isinstance(dockerfile, str)
            else "FROM public.ecr.aws/docker/library/busybox:stable\n"
        )
        (workdir / "Dockerfile").write_text(text)
    for name, content in (files or {}).items():
        (workdir / name).write_text(content)

    spec = build_spec(synthesized.pipeline)
    assert spec["env"]["shell"] == "bash"
    environ = {
        **{k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "CODEBUILD_"))},
        **variables,
        "PATH": f"{FAKES}{os.pathsep}{os.environ['PATH']}",
        "FAKE_CLOUD_DIR": str(cloud),
        # Every region's push is expected at once (see fake_cloud.await_every_push).
        "FAKE_PUSHES_AT_ONCE": str(len(plan["targets"])),
        "FAKE_IAM_SOCKET": simulator.socket_path,
        "CODEBUILD_BUILD_NUMBER": BUILD_NUMBER,
        "CODEBUILD_RESOLVED_SOURCE_VERSION": SOURCE_VERSION,
        **(env or {}),
    }
    # CodeBuild runs a phase's commands in order in one shell and stops at the first failure, then reads the
    # exported variables from that shell.
    exports = [f'printf "exported %s=%s\\n" {name} "${name}"' for name in spec["env"]["exported-variables"]]
    script = "\n".join(["set -e", *spec["phases"]["build"]["commands"], *exports])
    result = subprocess.run(
        ["bash", "-c", script],
        cwd=workdir,
        env=environ,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    return BuildRun(result, workdir, cloud, plan, described, spec["artifacts"]["files"])


def task_definition_key(described: dict) -> str:
    """``<account>/<region>/<family>``: a family names a task definition of the caller's account and region."""
    _, _, _, region, account, _ = described["taskDefinitionArn"].split(":", 5)
    return f"{account}/{region}/{described['family']}"


def assumable_roles(resolver: Resolver, synthesized) -> dict[str, dict]:
    """Every reader role of the regional stacks (in other accounts): its session's policies and its trust."""
    return {
        resolver.arn(resolver.stacks[stack], role_id): {
            "caller": caller(resolver, stack, role_id).to_json(),
            "trust": trust_policy(resolver, stack, role_id),
        }
        for stack, template in synthesized.templates.items()
        for role_id in resources(template, "AWS::IAM::Role")
        if role_id.startswith("ReleaseReaderRole")
    }


def repository_policies(resolver: Resolver, synthesized) -> dict[str, dict]:
    """The policy of every ECR repository that has one, by repository ARN."""
    return {
        resolver.arn(resolver.stacks[stack], repository_id): resolver.resolve(
            stack, repository["Properties"]["RepositoryPolicyText"]
        )
        for stack, template in synthesized.templates.items()
        for repository_id, repository in resources(template, "AWS::ECR::Repository").items()
        if "RepositoryPolicyText" in repository["Properties"]
    }


def deployment_group_contract(template: dict) -> dict:
    """Container name and port behind the deployment group's target groups, read from the regional template."""
    group = props(template, "AWS::CodeDeploy::DeploymentGroup")
    (pair,) = group["LoadBalancerInfo"]["TargetGroupPairInfoList"]
    group_ids = {tg["Name"]["Fn::GetAtt"][0] for tg in pair["TargetGroups"]}
    service_id, service = only(template, "AWS::ECS::Service")
    assert group["ECSServices"][0]["ServiceName"] == {"Fn::GetAtt": [service_id, "Name"]}
    (registration,) = [
        lb for lb in service["Properties"]["LoadBalancers"] if lb["TargetGroupArn"]["Ref"] in group_ids
    ]
    ports = {template["Resources"][gid]["Properties"]["Port"] for gid in group_ids}
    return {
        "container_name": registration["ContainerName"],
        "container_port": registration["ContainerPort"],
        "target_group_ports": ports,
    }
