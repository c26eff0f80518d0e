"""The build stage's output matches every region, proven by running the synthesized buildspec offline."""

from __future__ import annotations

import itertools
import json
import os
import re
import subprocess
from collections.abc import Callable

import botocore.session
import pytest
import yaml
from botocore.validate import ParamValidator
from cfn_resolver import Resolver
from release_build import (
    BUILD_NUMBER,
    FAKES,
    SOURCE_VERSION,
    build_role_id,
    deployment_group_contract,
    run_build,
)
from template_queries import REGION_CODE, pipeline_stages, resources

from release import prepare_release

REGISTER_SHAPE = (
    botocore.session.get_session()
    .get_service_model("ecs")
    .operation_model("RegisterTaskDefinition")
    .input_shape
)
TAG = f"build-{BUILD_NUMBER}-{SOURCE_VERSION[:12]}"
DIGEST = re.compile(r"^sha256:[0-9a-f]{64}$")


@pytest.fixture(scope="session")
def build(synthesized, tmp_path_factory, iam_simulator):
    """The buildspec run once per configuration against the fake cloud."""
    run = run_build(synthesized, tmp_path_factory.mktemp("build"), simulator=iam_simulator)
    assert run.result.returncode == 0, run.result.stdout + run.result.stderr
    return run


def rendered(build, target: dict) -> dict:
    return json.loads((build.workdir / target["task_definition_file"]).read_text())


def production(build, region: str) -> dict:
    """The plan's production target in ``region``."""
    return next(t for t in build.plan["targets"] if t["task_definition_file"] == f"taskdef-{region}.json")


def regional_stack(synthesized, target: dict) -> tuple[str, dict]:
    """Name and template of the stack that registers the target's task-definition family."""
    (found,) = [
        (name, t)
        for name, t in synthesized.templates.items()
        if any(
            r["Properties"]["Family"] == target["task_definition_family"]
            for r in resources(t, "AWS::ECS::TaskDefinition").values()
        )
    ]
    return found


def foreign_references(task_definition: dict, region: str) -> list[str]:
    """Every region code in ``task_definition`` that is not ``region`` (ARNs, log groups, image hosts)."""
    found = set(REGION_CODE.findall(json.dumps(task_definition)))
    return sorted(found - {region})


# --- one source of truth ----------------------------------------------------


def test_every_target_of_every_environment_gets_files(synthesized, build):
    files = {t["task_definition_file"] for t in build.plan["targets"]}
    expected = {f"taskdef-{r}.json" for r in synthesized.config.regions}
    expected |= {f"taskdef-staging-{r}.json" for r in synthesized.config.staging_regions}
    assert files == expected


def test_task_definitions_are_valid_register_task_definition_input(build):
    for target in build.plan["targets"]:
        report = ParamValidator().validate(rendered(build, target), REGISTER_SHAPE)
        assert not report.has_errors(), f"{target['task_definition_file']}: {report.generate_report()}"


def test_only_the_image_differs_from_what_the_regional_stack_registered(build):
    for target in build.plan["targets"]:
        described = build.described[target["task_definition_family"]]
        registrable = {
            k: v
            for k, v in described.items()
            if k in REGISTER_SHAPE.members and v not in (None, False, [], {})
        }
        task_definition = rendered(build, target)
        for container in (*task_definition["containerDefinitions"], *registrable["containerDefinitions"]):
            container.pop("image")
        assert task_definition == registrable, target["task_definition_file"]
        assert set(described) - set(task_definition) == {
            # members with their default values are left out (the scratch volumes are not, with a read-only root)
            *(() if described["volumes"] else ("volumes",)),
            "placementConstraints",
            "enableFaultInjection",
            "taskDefinitionArn",
            "revision",
            "status",
            "compatibilities",
            "requiresAttributes",
            "registeredAt",
            "registeredBy",
        }


def test_task_definition_changes_in_code_reach_the_next_release(synth_cache, tmp_path, iam_simulator):
    run = run_build(synth_cache("resized"), tmp_path / "build", simulator=iam_simulator)
    assert run.result.returncode == 0, run.result.stderr
    for region in ("eu-west-2", "ap-southeast-1"):
        task_definition = rendered(run, production(run, region))
        assert (task_definition["cpu"], task_definition["memory"]) == ("1024", "4096")


# --- the image is in the region before its deploy starts --------------------


def test_each_region_runs_its_own_repositorys_image_pinned_by_digest(build):
    digests = set()
    for target in build.plan["targets"]:
        region, repository_uri = target["region"], target["repository_uri"]
        assert f".dkr.ecr.{region}.amazonaws.com/" in repository_uri
        (container,) = rendered(build, target)["containerDefinitions"]
        repository, digest = container["image"].split("@")
        assert repository == repository_uri
        assert DIGEST.match(digest)
        assert digest == build.registry_digest(repository_uri, TAG), (
            f"{region}: digest is what its registry holds"
        )
        digests.add(digest)
    assert len(digests) == 1, "every region runs the same image"
    repositories = [t["repository_uri"] for t in build.plan["targets"]]
    assert len(set(repositories)) == len(repositories), "each environment and region has its own repository"


def test_the_build_exports_the_released_images_digest_for_the_ledger(build, synthesized):
    """IMAGE_DIGEST, exported to CodePipeline with the build action's execution (make status's ledger): the
    digest the first target's registry holds for this release (every region's is the same, checked above)."""
    first = build.plan["targets"][0]
    assert build.exported() == {"IMAGE_DIGEST": build.registry_digest(first["repository_uri"], TAG)}
    (build_action,) = [
        a for stage in pipeline_stages(synthesized.pipeline) for a in stage["Actions"] if a["Name"] == "Build"
    ]
    assert build_action["Namespace"] == "Build"


def test_pushes_to_all_regions_run_concurrently(build):
    intervals = [(e["start"], e["end"]) for e in build.events() if e["command"] == "push-interval"]
    assert len(intervals) == len(build.plan["targets"])
    if len(intervals) < 2:
        return
    edges = sorted([(start, 1) for start, _ in intervals] + [(end, -1) for _, end in intervals])
    in_flight = peak = 0
    for _, change in edges:
        in_flight += change
        peak = max(peak, in_flight)
    # Each fake push waits until every push has started (fake_cloud.await_every_push): pushes run in
    # parallel all overlap, pushes run one after another never do, however busy the machine.
    assert peak == len(intervals), f"at most {peak} of {len(intervals)} pushes ran at once"


def builds(run) -> list[list[str]]:
    """The docker builds a build ran: ``docker build`` or ``docker buildx build``, each as its arguments."""
    return [
        e["args"]
        for e in run.events()
        if e["command"] == "docker" and (e["args"][0] == "build" or e["args"][:2] == ["buildx", "build"])
    ]


def test_the_image_is_built_once(build):
    assert len(builds(build)) == 1


def test_the_build_reads_and_writes_a_registry_cache_in_the_pipelines_own_repository(build, synthesized):
    cache = build.plan["cache_repository"]
    account, _, _, region = cache.split("/")[0].split(".")[:4]
    assert (account, region) == (synthesized.config.account, synthesized.config.home_region)
    assert cache not in {t["repository_uri"] for t in build.plan["targets"]}  # theirs have immutable tags
    created = [
        e["args"]
        for e in build.events()
        if e["command"] == "docker" and e["args"][:2] == ["buildx", "create"]
    ]
    assert created == [
        [
            "buildx",
            "create",
            "--name",
            "release-cache",
            "--driver",
            "docker-container",
            "--driver-opt",
            "image=moby/buildkit:buildx-stable-1",
            "--bootstrap",
        ]
    ]
    (args,) = builds(build)
    assert args[:5] == ["buildx", "build", "--builder", "release-cache", "--load"]
    ref = f"{cache}:buildcache"
    assert args[args.index("--cache-from") + 1] == f"type=registry,ref={ref}"
    assert args[args.index("--cache-to") + 1] == (
        f"type=registry,ref={ref},mode=max,image-manifest=true,oci-mediatypes=true,ignore-error=true"
    )
    # The first release finds no cache, builds anyway, and leaves one (the build role may write it).
    (imported,) = [e for e in build.events() if e["command"] == "cache-import"]
    (exported,) = [e for e in build.events() if e["command"] == "cache-export"]
    assert (imported["hit"], exported["written"]) == (False, True)


# A source whose dependencies are one step and its code another, as sample/Dockerfile has them.
LAYERED = (
    "FROM public.ecr.aws/docker/library/python:3.12-slim\n"
    "RUN pip install --no-cache-dir -r /dev/null\n"
    "COPY . /app\n"
)


def built_layers(run) -> list[str]:
    """The layers of the image the build made, in order."""
    return json.loads((run.cloud / "images" / f"release-candidate:{TAG}.layers").read_text())


def sent(run) -> dict[str, list[str]]:
    """The layers each push sent (those its repository did not hold yet), by pushed reference."""
    return {e["reference"]: e["sent"] for e in run.events() if e["command"] == "push-interval"}


def test_the_next_release_pushes_only_its_changed_layer_to_every_region_at_once(
    default_synth, tmp_path, iam_simulator
):
    """The first release sends every layer to each region; the next, with only the code changed, finds the
    dependency step in the cache the first wrote, so its layer is the one the regions hold and only the code's
    is sent, to every region at once. Built without the cache (no builder), the dependency step makes a new layer, sent
    again everywhere."""
    app = default_synth
    regions = len(app.config.regions)
    first = run_build(
        app, tmp_path / "first", simulator=iam_simulator, dockerfile=LAYERED, files={"app.py": "v1"}
    )
    assert first.result.returncode == 0, first.result.stderr
    assert [len(layers) for layers in sent(first).values()] == [3] * regions

    def release(name: str, **env: str):
        run = run_build(
            app,
            tmp_path / name,
            simulator=iam_simulator,
            dockerfile=LAYERED,
            files={"app.py": "v2"},
            registry=first.cloud / "registry",
            env=env,
        )
        assert run.result.returncode == 0, run.result.stderr
        return run

    again = release("again")
    (imported,) = [e for e in again.events() if e["command"] == "cache-import"]
    assert imported["hit"] is True  # the cache the first release wrote
    base, dependencies, _ = built_layers(first)
    code = built_layers(again)
    assert code[:2] == [base, dependencies]
    assert code[2] not in (base, dependencies)
    assert list(sent(again).values()) == [[code[2]]] * regions
    test_pushes_to_all_regions_run_concurrently(again)
    without_cache = release("without_cache", FAKE_BUILDX_FAILS="ERROR: toomanyrequests")
    rebuilt = built_layers(without_cache)
    assert rebuilt[0] == base
    assert rebuilt[1] != dependencies
    assert list(sent(without_cache).values()) == [rebuilt[1:]] * regions


def test_without_a_builder_for_the_cache_the_build_goes_on_without_it(default_synth, tmp_path, iam_simulator):
    why = "ERROR: failed to pull moby/buildkit:buildx-stable-1: toomanyrequests"
    run = run_build(default_synth, tmp_path, simulator=iam_simulator, env={"FAKE_BUILDX_FAILS": why})
    assert run.result.returncode == 0, run.result.stderr
    assert builds(run) == [["build", "--tag", f"release-candidate:{TAG}", str(run.workdir)]]
    assert f"==> building without the cache: docker buildx create failed (1): {why}" in run.result.stdout


def test_build_fails_and_writes_no_deploy_files_when_a_region_lacks_the_image(
    default_synth, tmp_path, iam_simulator
):
    lost = default_synth.config.regions[-1]
    run = run_build(default_synth, tmp_path, simulator=iam_simulator, unreachable_regions=(lost,))
    assert run.result.returncode != 0
    assert (
        f"release failed: aws ecr get-login-password failed (255): Could not connect to the endpoint URL for {lost}"
        in (run.result.stderr)
    )
    assert not list(run.workdir.glob("taskdef-*.json"))
    assert not list(run.workdir.glob("appspec-*.yaml"))


def test_build_without_a_dockerfile_fails_with_a_clear_message(default_synth, tmp_path, iam_simulator):
    run = run_build(default_synth, tmp_path, simulator=iam_simulator, dockerfile=False)
    assert run.result.returncode != 0
    assert "release failed: the source has no Dockerfile at its root" in run.result.stderr


# --- every call is authorized as AWS would -----------------------------------


def dropping(action: str) -> Callable[[dict], dict]:
    """A policy edit that takes ``action`` out of every statement."""

    def edit(policy: dict) -> dict:
        statements = []
        for statement in policy["Statement"]:
            actions = statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
            if [a for a in actions if a != action]:
                statements.append({**statement, "Action": [a for a in actions if a != action]})
        return {**policy, "Statement": statements}

    return edit


def test_a_call_the_build_role_may_not_make_fails_the_build_as_aws_fails_it(
    default_synth, tmp_path, iam_simulator
):
    run = run_build(
        default_synth, tmp_path, simulator=iam_simulator, edit_policies=dropping("ecr:DescribeImages")
    )
    assert run.result.returncode == 1
    role = (
        f"arn:aws:sts::111111111111:assumed-role/webapp-pipeline-{build_role_id(default_synth)}/AWSCodeBuild-"
    )
    (message,) = [line for line in run.result.stderr.splitlines() if line.startswith("release failed:")]
    assert re.fullmatch(
        r"release failed: aws ecr describe-images failed \(254\): An error occurred \(AccessDeniedException\) "
        r"when calling the DescribeImages operation: User: "
        + re.escape(role)
        + r"\S+ is not authorized to perform: ecr:DescribeImages on resource: "
        r"arn:aws:ecr:(eu-west-2|ap-southeast-1):111111111111:repository/\S+ because no identity-based policy "
        r"allows the ecr:DescribeImages action",
        message,
    ), message
    assert not list(run.workdir.glob("taskdef-*.json"))


def test_a_grant_on_another_regions_repository_does_not_let_the_build_push(
    default_synth, tmp_path, iam_simulator
):
    def other_region(policy: dict) -> dict:
        text = json.dumps(policy).replace(":ecr:ap-southeast-1:", ":ecr:us-east-1:")
        return json.loads(text)

    run = run_build(default_synth, tmp_path, simulator=iam_simulator, edit_policies=other_region)
    assert run.result.returncode == 1
    assert "failed (1): denied: User: arn:aws:sts::111111111111:assumed-role/" in run.result.stderr
    assert (
        "is not authorized to perform: ecr:BatchCheckLayerAvailability on resource: "
        "arn:aws:ecr:ap-southeast-1:111111111111:repository/"
    ) in run.result.stderr


def test_every_registry_is_logged_in_before_any_push_starts(build):
    logins = sorted((e["start"], e["end"]) for e in build.events() if e["command"] == "login-interval")
    pushes = [(e["start"], e["end"]) for e in build.events() if e["command"] == "push-interval"]
    hosts = {t["repository_uri"].split("/")[0] for t in build.plan["targets"]}
    hosts.add(build.plan["cache_repository"].split("/")[0])
    assert len(logins) == len(hosts), "one login per registry, the cache's too"
    assert all(end <= start for (_, end), (start, _) in itertools.pairwise(logins)), "one login at a time"
    assert max(end for _, end in logins) <= min(start for start, _ in pushes)
    # Before the build too: it reads the cache.
    events = build.events()
    first_build = next(
        n for n, e in enumerate(events) if e["command"] == "docker" and e["args"][0] == "buildx"
    )
    assert not [e for e in events[first_build:] if e["command"] == "docker" and e["args"][0] == "login"]


def test_logins_side_by_side_lose_credentials_as_dockers_own_do(tmp_path):
    """The stand-in rewrites its credential file as docker does, so concurrent logins in the build would fail a test."""
    hosts = [
        f"111111111111.dkr.ecr.{region}.amazonaws.com" for region in ("eu-west-2", "us-east-1", "sa-east-1")
    ]
    # A wide window between reading and writing the file, so that the three logins surely overlap.
    environ = {**os.environ, "FAKE_CLOUD_DIR": str(tmp_path), "FAKE_DOCKER_LOGIN_SECONDS": "1.5"}
    logins = [
        subprocess.Popen(
            [str(FAKES / "docker"), "login", "--username", "AWS", "--password-stdin", host],
            stdin=subprocess.PIPE,
            stdout=subprocess.DEVNULL,
            env=environ,
            text=True,
        )
        for host in hosts
    ]
    for login, host in zip(logins, hosts, strict=True):
        login.stdin.write(f"ecr-password-{host.split('.')[3]}")
        login.stdin.close()
    assert [login.wait(timeout=30) for login in logins] == [0] * len(hosts)
    remembered = json.loads((tmp_path / "docker-config.json").read_text())["auths"]
    assert len(remembered) < len(hosts)


# --- no region's files reference another region -----------------------------


def test_no_task_definition_references_another_region(synthesized, build):
    for target in build.plan["targets"]:
        region = target["region"]
        task_definition = rendered(build, target)
        assert foreign_references(task_definition, region) == []
        (container,) = task_definition["containerDefinitions"]
        options = container["logConfiguration"]["options"]
        assert options["awslogs-region"] == region
        for role in ("executionRoleArn", "taskRoleArn"):
            assert task_definition[role].startswith(f"arn:aws:iam::{synthesized.config.account}:role/")


def test_foreign_reference_check_catches_each_kind_of_leak(build):
    task_definition = rendered(build, production(build, "eu-west-2"))
    (container,) = task_definition["containerDefinitions"]
    leaks = {
        "image": container["image"].replace(".eu-west-2.", ".ap-southeast-1."),
        "log group": {**container["logConfiguration"]["options"], "awslogs-region": "us-east-1"},
        "role": "arn:aws:iam::111111111111:role/webapp-sa-east-1-TaskRole",
    }
    for kind, value in leaks.items():
        leaked = json.loads(json.dumps(task_definition))
        if kind == "image":
            leaked["containerDefinitions"][0]["image"] = value
        elif kind == "log group":
            leaked["containerDefinitions"][0]["logConfiguration"]["options"] = value
        else:
            leaked["taskRoleArn"] = value
        assert foreign_references(leaked, "eu-west-2"), kind


# --- the appspec matches the deployment group -------------------------------


def test_appspec_targets_the_deployment_groups_container_and_port(synthesized, build):
    resolver = Resolver.from_synthesized(synthesized)
    for target in build.plan["targets"]:
        stack_name, template = regional_stack(synthesized, target)
        contract = deployment_group_contract(template)
        appspec = yaml.safe_load((build.workdir / target["appspec_file"]).read_text())
        assert appspec["version"] == 0.0
        (resource,) = appspec["Resources"]
        service = resource["TargetService"]
        assert service["Type"] == "AWS::ECS::Service"
        assert service["Properties"]["TaskDefinition"] == "<TASK_DEFINITION>"
        info = service["Properties"]["LoadBalancerInfo"]
        assert info == {
            "ContainerName": contract["container_name"],
            "ContainerPort": contract["container_port"],
        }
        assert contract["target_group_ports"] == {info["ContainerPort"]}
        container_names = [c["name"] for c in rendered(build, target)["containerDefinitions"]]
        assert info["ContainerName"] in container_names
        # Each hook function's description names its lifecycle event ("CodeDeploy AfterInstall: ...").
        hook_functions = {
            function["Properties"]["Description"].split()[1].rstrip(":"): resolver.ref(
                resolver.stacks[stack_name], lid
            )
            for lid, function in resources(template, "AWS::Lambda::Function").items()
            if function["Properties"].get("Description", "").startswith("CodeDeploy ")
        }
        expected_hooks = [
            {event: hook_functions[event]}
            for event in ("AfterInstall", "AfterAllowTestTraffic")
            if event in hook_functions
        ]
        assert appspec.get("Hooks", []) == expected_hooks
        assert bool(expected_hooks) == (synthesized.config.rollout.test_traffic_check_path is not None)


# --- file names --------------------------------------------------------------


def test_every_deploy_actions_files_are_in_the_build_output(synthesized, build):
    deploy_actions = [
        action
        for stage in pipeline_stages(synthesized.pipeline)
        for action in stage["Actions"]
        if action["ActionTypeId"]["Provider"] == "CodeDeployToECS"
    ]
    assert len(deploy_actions) == len(build.plan["targets"])
    for action in deploy_actions:
        configuration = action["Configuration"]
        for key in ("TaskDefinitionTemplatePath", "AppSpecTemplatePath"):
            name = configuration[key]
            assert name in build.artifact_files, f"{action['Name']}: {name} is not kept as an artifact"
            assert (build.workdir / name).is_file(), f"{action['Name']}: the build did not write {name}"


def test_build_output_is_exactly_one_pair_per_target(build):
    # The digest file is the buildspec's to export (IMAGE_DIGEST), not part of the artifact.
    assert prepare_release.DIGEST_FILE not in build.artifact_files
    written = sorted(
        p.name for p in build.workdir.iterdir() if p.name not in ("Dockerfile", prepare_release.DIGEST_FILE)
    )
    expected = sorted(
        f for t in build.plan["targets"] for f in (t["task_definition_file"], t["appspec_file"])
    )
    assert written == expected
    assert sorted(build.artifact_files) == expected


# --- the script's own rules --------------------------------------------------


def test_script_keeps_exactly_the_register_task_definition_members():
    assert set(prepare_release.REGISTER_TASK_DEFINITION_KEYS) <= set(REGISTER_SHAPE.members)
    missing = set(REGISTER_SHAPE.members) - set(prepare_release.REGISTER_TASK_DEFINITION_KEYS)
    assert missing == {"tags"}, "tags are not returned by describe-task-definition without --include TAGS"


def test_image_tag_is_unique_per_build_and_valid_for_ecr():
    tag = prepare_release.image_tag(
        {"CODEBUILD_BUILD_NUMBER": "12", "CODEBUILD_RESOLVED_SOURCE_VERSION": "a.b_c/d"}
    )
    assert tag == "build-12-abcd"
    assert prepare_release.image_tag({"CODEBUILD_BUILD_NUMBER": "3"}) == "build-3"


def test_render_refuses_a_task_definition_without_the_container():
    with pytest.raises(prepare_release.ReleaseError, match="has no container 'web'"):
        prepare_release.render_task_definition(
            {"family": "f", "containerDefinitions": [{"name": "other"}]}, container_name="web", image="x"
        )


def test_an_ecs_target_gets_image_definitions_with_its_regions_image(tmp_path):
    """What CodePipeline's ECS deploy action reads: the container's image, pinned by digest."""
    digest = "sha256:" + "a" * 64
    target = {
        "region": "eu-west-2",
        "repository_uri": "123456789012.dkr.ecr.eu-west-2.amazonaws.com/shop",
        "container_name": "web",
        "kind": "ecs",
        "image_definitions_file": "imagedefinitions-eu-west-2.json",
    }
    prepare_release.write_deploy_files(target, digest, tmp_path)
    assert json.loads((tmp_path / "imagedefinitions-eu-west-2.json").read_text()) == [
        {"name": "web", "imageUri": f"123456789012.dkr.ecr.eu-west-2.amazonaws.com/shop@{digest}"}
    ]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["imagedefinitions-eu-west-2.json"]


def test_an_unknown_deploy_kind_fails_the_build_with_one_line(tmp_path):
    with pytest.raises(
        prepare_release.ReleaseError,
        match=r"^eu-west-2: unknown deploy kind 'lambda'; expected one of \['codedeploy', 'ecs'\]$",
    ):
        prepare_release.write_deploy_files({"region": "eu-west-2", "kind": "lambda"}, "sha256:x", tmp_path)


def test_the_buildspec_exports_the_file_the_script_writes():
    from constructs.pipeline import release_build_project

    assert release_build_project.DIGEST_FILE == prepare_release.DIGEST_FILE
