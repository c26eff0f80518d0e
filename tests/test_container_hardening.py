"""The container runs with a read-only root filesystem (writable scratch volumes) and, if asked, as a non-root user."""

from __future__ import annotations

import re

import botocore.session
import pytest
from conftest import CONFIGURATIONS, ROOT
from template_queries import resources, service_task_definition
from test_config import config_error

from constructs.region.regional_service import UNPRIVILEGED_PORT_SYSCTL
from constructs.settings.service_settings import DEFAULT_CONTAINER_USER, DEFAULT_SCRATCH_PATHS


def container(synthesized, region: str = "eu-west-2") -> tuple[dict, dict]:
    task_definition = service_task_definition(synthesized.regional(region))
    (found,) = task_definition["ContainerDefinitions"]
    return task_definition, found


def test_by_default_a_non_root_user_runs_on_a_read_only_root_with_a_scratch_tmp(default_synth):
    task_definition, web = container(default_synth)
    assert web["ReadonlyRootFilesystem"] is True
    assert web["User"] == DEFAULT_CONTAINER_USER == "10001"
    volumes = [v["Name"] for v in task_definition["Volumes"]]
    assert all(set(v) == {"Name"} for v in task_definition["Volumes"]), "task storage, no host paths"
    assert web["MountPoints"] == [
        {"ContainerPath": path, "SourceVolume": volume, "ReadOnly": False}
        for path, volume in zip(DEFAULT_SCRATCH_PATHS, volumes, strict=True)
    ]
    assert DEFAULT_SCRATCH_PATHS == ("/tmp",)


# Control Tower's CT.ECS.PR.3 (@cdklabs/cdk-validator-cfnguard, ct-ecs-pr-3.guard): every container definition
# names a User, and not one of these.
ROOT_USER_PATTERNS = (
    re.compile(r"^0$"),
    re.compile(r"^root$"),
    re.compile(r"^0:.*$"),
    re.compile(r"^root:.*$"),
)


@pytest.mark.parametrize("name", sorted(CONFIGURATIONS))
def test_no_container_runs_as_root(synth_cache, name):
    for stack_name, template in synth_cache(name).templates.items():
        for definition in resources(template, "AWS::ECS::TaskDefinition").values():
            for container_definition in definition["Properties"]["ContainerDefinitions"]:
                user = container_definition.get("User")
                assert isinstance(user, str), (stack_name, container_definition["Name"])
                assert not any(p.match(user) for p in ROOT_USER_PATTERNS), (stack_name, user)


@pytest.mark.parametrize("name", sorted(CONFIGURATIONS))
def test_every_container_has_a_memory_hard_limit_within_its_task(synth_cache, name):
    """Control Tower's CT.ECS.PR.7: a container-level Memory in every container definition."""
    for stack_name, template in synth_cache(name).templates.items():
        for definition in resources(template, "AWS::ECS::TaskDefinition").values():
            task_memory = int(definition["Properties"]["Memory"])
            for container_definition in definition["Properties"]["ContainerDefinitions"]:
                memory = container_definition.get("Memory")
                assert isinstance(memory, int), (stack_name, container_definition["Name"])
                assert 0 < memory <= task_memory, (stack_name, memory, task_memory)


def test_a_port_below_1024_is_open_to_a_non_root_user_through_a_network_sysctl(default_synth, synth_cache):
    _, web = container(default_synth)
    assert default_synth.config.service.container_port == 80
    assert web["SystemControls"] == [{"Namespace": UNPRIVILEGED_PORT_SYSCTL, "Value": "0"}]
    _, high = container(synth_cache("port_8080"))
    assert "SystemControls" not in high


def test_ecs_takes_network_sysctls_on_fargate():
    """What the sysctl rests on, in ECS's API model: net.* sysctls are valid and Fargate (1.4.0+) takes them."""
    model = botocore.session.Session().get_service_model("ecs")
    shape = model.shape_for("SystemControl")
    value = re.sub(r"<[^>]+>", "", shape.members["value"].documentation)
    assert 'Valid network namespace values: Sysctls that start with "net.*"' in value
    assert "All of these values are supported by Fargate." in value
    assert "platform version 1.4.0 or later (Linux)" in re.sub(r"<[^>]+>", "", shape.documentation)
    assert UNPRIVILEGED_PORT_SYSCTL.startswith("net.")


def test_a_team_image_may_run_as_its_own_user_with_a_writable_root(synth_cache):
    task_definition, web = container(synth_cache("own_user"))
    assert web["User"] == "10001:10001"
    assert "ReadonlyRootFilesystem" not in web or web["ReadonlyRootFilesystem"] is False
    assert "MountPoints" not in web or web["MountPoints"] == []
    assert not task_definition.get("Volumes")


def test_the_sample_runs_as_a_non_root_user_with_a_writable_tmp():
    dockerfile = (ROOT / "sample" / "Dockerfile").read_text()
    (user,) = re.findall(r"^USER (\S+)$", dockerfile, re.MULTILINE)
    assert user not in ("0", "root")
    assert f"adduser -D -H -u {user} app" in dockerfile
    # ECS copies a VOLUME's content and mode into the scratch volume mounted there (otherwise root-only).
    assert re.search(r'^VOLUME \["/tmp"\]$', dockerfile, re.MULTILINE)
    assert "/tmp" in DEFAULT_SCRATCH_PATHS
    assert "PYTHONDONTWRITEBYTECODE=1" in dockerfile, "no bytecode written next to the code"


@pytest.mark.parametrize(
    ("context", "expected"),
    [
        (
            {"container_user": "root", "bootstrap_image": "x/y:1"},
            "container_user: 'root' is not allowed; it is root",
        ),
        (
            {"container_user": "0:0", "bootstrap_image": "x/y:1"},
            "container_user: '0:0' is not allowed; it is root",
        ),
        ({"container_user": "a b", "bootstrap_image": "x/y:1"}, "expected uid, uid:gid, user or user:group"),
        (
            {"readonly_root_filesystem": "yes"},
            "readonly_root_filesystem: 'yes' is not allowed; expected true or false",
        ),
        (
            {"scratch_paths": "tmp"},
            "scratch_paths: 'tmp' is not allowed; expected an absolute directory path",
        ),
        ({"scratch_paths": "/tmp,/tmp"}, "scratch_paths: '/tmp' is not allowed; it is listed twice"),
        ({"scratch_paths": ",".join(f"/d{i}" for i in range(11))}, "expected a list of at most 10 paths"),
    ],
)
def test_bad_container_settings_are_refused_with_one_line(context, expected):
    assert expected in config_error(**context)
