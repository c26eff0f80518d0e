"""`make diff` / `make deploy` name the changes CloudFormation cannot apply to a CODE_DEPLOY service."""

from __future__ import annotations

import json

import botocore.session
import pytest
from botocore.stub import Stubber
from conftest import for_account, offline_client
from template_queries import resources

from tools.cloud_assembly import CloudAssembly
from tools.guards.code_deploy_blockers import ADVICE, FROZEN_SERVICE_PROPERTIES, blocked_changes
from tools.operate import cdk_commands as operate
from tools.operate.cdk_commands import OperatorError

UPDATE_SERVICE_RULE = (
    "If the network configuration, platform version, task definition, or load balancer need to be updated, "
    "create a new CodeDeploy deployment"
)


@pytest.fixture(scope="module")
def changed(synth_cache):
    """The default app synthesized again with one kind of change each."""
    return {
        "port": synth_cache("port_8080"),
        "zones": synth_cache("named_zones"),
        "allowed": synth_cache("resized"),
    }


@pytest.mark.parametrize(("before", "after"), [("default", "ecs"), ("ecs", "default")])
def test_switching_a_deployed_region_to_the_other_engine_is_refused_with_the_supported_path(
    synth_cache, before, after
):
    deployed, synthesized = synth_cache(before), synth_cache(after)
    for region in deployed.config.regions:
        stack = f"webapp-{region}"
        lines = blocked_changes(stack, deployed.regional(region), synthesized.regional(region))
        (service_id,) = resources(deployed.regional(region), "AWS::ECS::Service")
        old, new = deployed.config.rollout.engine, synthesized.config.rollout.engine
        assert lines == [
            f"{stack}: deployment_engine cannot change on a deployed region ({service_id}: {old} -> {new}); "
            "deploy the new engine as a second copy (another app_name), move traffic to it, then delete this "
            "copy (docs/deployment-engines.md: Moving a running app from codedeploy to ecs)"
        ]


def test_a_new_container_port_is_named_once_per_regional_stack(default_synth, changed):
    for region in default_synth.config.regions:
        stack = f"webapp-{region}"
        lines = blocked_changes(stack, default_synth.regional(region), changed["port"].regional(region))
        assert len(lines) == 1
        assert lines[0].startswith(
            f"{stack}: container_port cannot change on a running CODE_DEPLOY service ("
        )
        assert ": 80 -> 8080); " in lines[0]
        template = default_synth.regional(region)
        named = [
            f"{kind} {props[name]}"
            for kind, resource_type, name in (
                ("ECR repository", "AWS::ECR::Repository", "RepositoryName"),
                ("S3 bucket", "AWS::S3::Bucket", "BucketName"),
            )
            for props in (r.get("Properties", {}) for r in resources(template, resource_type).values())
            if name in props
        ]
        # The home region's repository and buckets get names from CloudFormation; elsewhere two are fixed.
        assert len(named) == (0 if region == default_synth.config.home_region else 2)
        retained = f", then its retained {' and '.join(named)}," if named else ""
        assert lines[0].endswith(ADVICE.format(retained=retained))


def test_new_zones_are_named_for_the_region_that_changes(default_synth, changed):
    region = "ap-southeast-1"
    lines = blocked_changes("s", default_synth.regional(region), changed["zones"].regional(region))
    assert [line.split(" (")[0] for line in lines] == [
        "s: availability_zones cannot change on a running CODE_DEPLOY service"
    ]
    assert (
        blocked_changes("s", default_synth.regional("eu-west-2"), changed["zones"].regional("eu-west-2"))
        == []
    )


def test_changes_ecs_can_apply_are_not_blocked(default_synth, changed):
    for region in default_synth.config.regions:
        assert blocked_changes("s", default_synth.regional(region), changed["allowed"].regional(region)) == []
        assert blocked_changes("s", default_synth.regional(region), default_synth.regional(region)) == []


def test_frozen_service_properties_are_what_ecs_documents():
    model = botocore.session.get_session().get_service_model("ecs")
    assert UPDATE_SERVICE_RULE in model.operation_model("UpdateService").documentation
    assert FROZEN_SERVICE_PROPERTIES == (
        "LoadBalancers",
        "NetworkConfiguration",
        "PlatformVersion",
        "TaskDefinition",
    )


def stubbed_templates(templates: dict[str, dict], missing: tuple[str, ...] = ()):
    """A `fetch` that reads each deployed template through operate.deployed_template from a stubbed CloudFormation."""

    def fetch(stack):
        client = offline_client("cloudformation", stack.region)
        expected = {"StackName": stack.name, "TemplateStage": "Original"}
        with Stubber(client) as stubber, pytest.MonkeyPatch.context() as patch:
            if stack.name in missing:
                message = f"Stack with id {stack.name} does not exist"
                stubber.add_client_error(
                    "get_template", "ValidationError", message, 400, expected_params=expected
                )
            else:
                stubber.add_response(
                    "get_template", {"TemplateBody": json.dumps(templates[stack.name])}, expected
                )
            patch.setattr(operate, "aws_client", lambda service, region: client)
            return operate.deployed_template(stack)

    return fetch


class Ran:
    """Records the CDK command instead of running it."""

    def __init__(self) -> None:
        self.commands: list[list[str]] = []

    def __call__(self, command, **_):
        self.commands.append(command)
        return type("Done", (), {"returncode": 0})()


def test_diff_names_them_then_runs_cdk_diff(default_synth, changed, capsys, tmp_path):
    ran = Ran()
    code = operate.run(
        "diff",
        str(for_account(changed["port"].outdir, tmp_path / "assembly")),
        credentials=True,
        fetch=stubbed_templates(default_synth.templates, missing=("webapp-pipeline",)),
        execute=ran,
    )
    assert code == 0
    assert [command[1] for command in ran.commands] == ["diff"]
    blocked = [line for line in capsys.readouterr().err.splitlines() if line.startswith("blocked: ")]
    assert sorted(line.split(" cannot")[0] for line in blocked) == [
        "blocked: webapp-ap-southeast-1: container_port",
        "blocked: webapp-eu-west-2: container_port",
    ]


def test_deploy_stops_before_deploying(default_synth, changed, tmp_path):
    ran = Ran()
    with pytest.raises(OperatorError, match=r"^2 change\(s\) above cannot be deployed"):
        operate.run(
            "deploy",
            str(for_account(changed["port"].outdir, tmp_path / "assembly")),
            interactive=True,
            credentials=True,
            fetch=stubbed_templates(default_synth.templates),
            execute=ran,
        )
    assert ran.commands == []


def test_a_stack_that_is_not_deployed_yet_has_nothing_to_compare(default_synth):
    assembly = CloudAssembly.read(default_synth.outdir)
    fetch = stubbed_templates({}, missing=tuple(assembly.stacks))
    assert operate.blocked(assembly, fetch) == []
