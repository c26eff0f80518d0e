"""Break glass: one region released with its alarm check off, restored afterwards (botocore Stubber, offline)."""

from __future__ import annotations

import botocore.session
import pytest
from botocore.stub import Stubber
from conftest import for_account, offline_client, tool, without_credentials

from tools.cloud_assembly import CloudAssembly
from tools.operate.break_glass import BreakGlass, regional_stack
from tools.operate.cdk_commands import OperatorError

APPLICATION = "webapp-ap-southeast-1greenapplication9f0648fcb6feeee63cc5"
GROUP = "webapp-ap-southeast-1ndeploymentgroupa082d1ba750eee1c1fd3"
HOTFIX = "d-HOTFIX123"
NEW = "d-BREAKGLASS"
ALARMS = {
    "enabled": True,
    "ignorePollAlarmFailure": False,
    "alarms": [{"name": "webapp-ap-southeast-1-Green5xx"}, {"name": "webapp-ap-southeast-1-BlueUnhealthy"}],
}
REVISION_REF = {"revisionType": "AppSpecContent", "appSpecContent": {"sha256": "ab" * 32}}
REVISION = {
    "revisionType": "AppSpecContent",
    "appSpecContent": {"content": "version: 0.0\nResources: []\n", "sha256": "ab" * 32},
}


class Cloud:
    """Stubbed CodeDeploy and CloudFormation of one region, with the calls every break-glass run starts with."""

    def __init__(self, stack) -> None:
        self.codedeploy = offline_client("codedeploy", stack.region)
        self.cloudformation = offline_client("cloudformation", stack.region)
        self.deploy, self.cfn = Stubber(self.codedeploy), Stubber(self.cloudformation)
        for resource_type, physical in (
            ("AWS::CodeDeploy::Application", APPLICATION),
            ("AWS::CodeDeploy::DeploymentGroup", GROUP),
        ):
            (logical_id,) = stack.of_type(resource_type)
            self.cfn.add_response(
                "describe_stack_resource",
                {
                    "StackResourceDetail": {
                        "LogicalResourceId": logical_id,
                        "PhysicalResourceId": physical,
                        "ResourceType": resource_type,
                        "LastUpdatedTimestamp": "2026-11-27T00:00:00Z",
                        "ResourceStatus": "UPDATE_COMPLETE",
                    }
                },
                {"StackName": stack.name, "LogicalResourceId": logical_id},
            )
        group = {"applicationName": APPLICATION, "deploymentGroupName": GROUP}
        self.deploy.add_response(
            "get_deployment_group",
            {
                "deploymentGroupInfo": {
                    **group,
                    "alarmConfiguration": ALARMS,
                    "lastAttemptedDeployment": {"deploymentId": HOTFIX, "status": "Stopped"},
                }
            },
            group,
        )
        self.deploy.add_response(
            "get_deployment",
            {"deploymentInfo": {"deploymentId": HOTFIX, "revision": REVISION_REF}},
            {"deploymentId": HOTFIX},
        )
        self.deploy.add_response(
            "get_application_revision",
            {"applicationName": APPLICATION, "revision": REVISION},
            {"applicationName": APPLICATION, "revision": REVISION_REF},
        )

    def alarm_check(self, configuration: dict) -> None:
        self.deploy.add_response(
            "update_deployment_group",
            {},
            {
                "applicationName": APPLICATION,
                "currentDeploymentGroupName": GROUP,
                "alarmConfiguration": configuration,
            },
        )

    def create(self) -> None:
        self.deploy.add_response(
            "create_deployment",
            {"deploymentId": NEW},
            {
                "applicationName": APPLICATION,
                "deploymentGroupName": GROUP,
                "revision": REVISION,
                "description": f"break glass: revision of {HOTFIX}, alarm check off",
            },
        )

    def status(self, status: str, error: str | None = None) -> None:
        info = {"deploymentId": NEW, "status": status}
        if error:
            info["errorInformation"] = {"code": "HEALTH_CONSTRAINTS", "message": error}
        self.deploy.add_response("get_deployment", {"deploymentInfo": info}, {"deploymentId": NEW})

    def run(self, stack, *, sleep=lambda _: None, **options) -> tuple[int, list[str]]:
        """Run break glass against the stubbed cloud; every queued call must have been made, also on an error.

        Not inside the Stubbers' ``with`` block: an exception raised there skips the check that every
        expected call (the restore) was made (DESIGN trap 25).
        """
        self.said = []
        glass = BreakGlass(
            stack,
            codedeploy=self.codedeploy,
            cloudformation=self.cloudformation,
            say=self.said.append,
            sleep=sleep,
        )
        self.deploy.activate()
        self.cfn.activate()
        try:
            code = glass.run(**options)
        finally:
            self.deploy.deactivate()
            self.cfn.deactivate()
            self.deploy.assert_no_pending_responses()
            self.cfn.assert_no_pending_responses()
        return code, self.said


@pytest.fixture(scope="module")
def stack(default_synth):
    return regional_stack(CloudAssembly.read(default_synth.outdir), "ap-southeast-1", None)


def test_releases_the_last_attempted_revision_with_alarms_off_and_restores_them(stack):
    cloud = Cloud(stack)
    cloud.alarm_check({**ALARMS, "enabled": False})
    cloud.create()
    cloud.status("InProgress")
    cloud.status("Succeeded")
    cloud.alarm_check(ALARMS)
    code, said = cloud.run(stack)
    assert code == 0
    assert (
        said[0] == f"==> webapp-ap-southeast-1 (ap-southeast-1): redeploy the revision of {HOTFIX} to {GROUP}"
    )
    assert "webapp-ap-southeast-1-Green5xx, webapp-ap-southeast-1-BlueUnhealthy" in said[1]
    assert said[-1] == f"==> alarm check of {GROUP} restored (enabled: true)"


def test_a_failed_deployment_still_restores_the_alarm_check(stack):
    cloud = Cloud(stack)
    cloud.alarm_check({**ALARMS, "enabled": False})
    cloud.create()
    cloud.status("Failed", "tasks failed their health checks")
    cloud.alarm_check(ALARMS)
    code, said = cloud.run(stack)
    assert code == 1
    assert f"==> {NEW}: Failed (tasks failed their health checks)" in said


def test_a_deployment_that_cannot_start_still_restores_the_alarm_check(stack):
    cloud = Cloud(stack)
    cloud.alarm_check({**ALARMS, "enabled": False})
    cloud.deploy.add_client_error("create_deployment", "DeploymentLimitExceededException", "one at a time")
    cloud.alarm_check(ALARMS)
    with pytest.raises(botocore.exceptions.ClientError, match="DeploymentLimitExceeded"):
        cloud.run(stack)
    # Cloud.run checked that the restore (the last queued call) was made before the error reached here.
    assert cloud.said[-1] == f"==> alarm check of {GROUP} restored (enabled: true)"


def test_an_error_while_waiting_still_restores_the_alarm_check(stack):
    cloud = Cloud(stack)
    cloud.alarm_check({**ALARMS, "enabled": False})
    cloud.create()
    cloud.status("InProgress")
    cloud.deploy.add_client_error("get_deployment", "AccessDeniedException", "not allowed")
    cloud.alarm_check(ALARMS)
    with pytest.raises(botocore.exceptions.ClientError, match="AccessDenied"):
        cloud.run(stack)
    assert cloud.said[-1] == f"==> alarm check of {GROUP} restored (enabled: true)"


def test_ctrl_c_while_waiting_still_restores_the_alarm_check(stack):
    def interrupted(_seconds: float) -> None:
        raise KeyboardInterrupt

    cloud = Cloud(stack)
    cloud.alarm_check({**ALARMS, "enabled": False})
    cloud.create()
    cloud.status("InProgress")
    cloud.alarm_check(ALARMS)
    with pytest.raises(KeyboardInterrupt):
        cloud.run(stack, sleep=interrupted)
    assert cloud.said[-1] == f"==> alarm check of {GROUP} restored (enabled: true)"


def test_a_restore_that_fails_says_how_to_turn_the_check_back_on(stack):
    cloud = Cloud(stack)
    cloud.alarm_check({**ALARMS, "enabled": False})
    cloud.create()
    cloud.status("Succeeded")
    cloud.deploy.add_client_error("update_deployment_group", "ThrottlingException", "slow down")
    with pytest.raises(botocore.exceptions.ClientError, match="Throttling"):
        cloud.run(stack)
    assert cloud.said[-1].startswith(
        f"!!! the alarm check of {GROUP} is still OFF; turn it back on with: aws deploy"
    )


def test_nothing_changes_when_the_operator_does_not_confirm(stack):
    cloud = Cloud(stack)
    with pytest.raises(OperatorError, match="not confirmed; nothing was changed"):
        cloud.run(stack, confirm=lambda region: False)


def test_the_staging_stack_of_a_region_is_chosen_by_name(synth_cache):
    assembly = CloudAssembly.read(synth_cache("staged").outdir)
    assert regional_stack(assembly, "eu-west-2", None).name == "webapp-eu-west-2"
    assert (
        regional_stack(assembly, "eu-west-2", "webapp-staging-eu-west-2").name == "webapp-staging-eu-west-2"
    )
    with pytest.raises(OperatorError, match=r"region 'us-east-1' has no deployment group of this app"):
        regional_stack(assembly, "us-east-1", None)


def test_an_app_on_the_ecs_engine_is_refused_with_one_line(synth_cache):
    assembly = CloudAssembly.read(synth_cache("ecs").outdir)
    with pytest.raises(
        OperatorError,
        match=r"^break glass releases through a CodeDeploy deployment group; this app uses deployment_engine ecs",
    ):
        regional_stack(assembly, "eu-west-2", None)


def test_refuses_without_credentials_with_one_line(tmp_path, default_synth):
    outdir = for_account(default_synth.outdir, tmp_path / "assembly")
    result = tool(
        "operate/break_glass.py", "ap-southeast-1", str(outdir), "--yes", env=without_credentials(tmp_path)
    )
    assert result.returncode == 1
    assert result.stderr.splitlines() == [
        "error: no AWS credentials found; configure them (aws configure, AWS_PROFILE or "
        "AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY) and run the command again"
    ]
    assert result.stdout == ""


def test_refuses_the_placeholder_account_with_one_line(default_synth):
    result = tool("operate/break_glass.py", "ap-southeast-1", str(default_synth.outdir), "--yes")
    assert result.returncode == 1
    assert result.stderr.splitlines()[0].startswith("error: the account is the placeholder 111111111111")
