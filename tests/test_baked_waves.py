"""Bakes between production waves: each wave but the last is a stage that ends by watching its alarms.

With more than one production wave, each wave is a stage of its own (``Deploy_to_Production_wave_<n>``),
and every wave's stage but the last ends with a ``Bake-wave-<n>`` Lambda invoke action
(release/hooks/bake_wave.py, here against botocore's Stubber): it fails the stage, which rolls back, when
one of the wave's deployment alarms is in ALARM before ``wave_bake_minutes`` have passed.
"""

from __future__ import annotations

import json

import pytest
from botocore.stub import Stubber
from conftest import offline_client, synthesize
from template_queries import pipeline_stages, resources

from release.hooks import bake_wave
from tools.plan.release_plan import read_plan, render_release_time

JOB = "1a2b3c4d-5e6f-4a7b-8c9d-0e1f2a3b4c5d"
GROUP = {"region": "eu-west-2", "application": "webapp-app", "group": "webapp-group"}
SERVICE = {"region": "ap-southeast-1", "cluster": "ap-cluster", "service": "ap-service"}
ALARMS = {"eu-west-2": ["eu-Target5xx", "eu-Latency"], "ap-southeast-1": ["ap-Target5xx"]}


# --- the pipeline ------------------------------------------------------------------------------


def deploy_stages(synthesized) -> list[dict]:
    return [s for s in pipeline_stages(synthesized.pipeline) if s["Name"].startswith("Deploy_to_Production")]


@pytest.mark.parametrize("name", ["staged", "ecs"])
def test_each_wave_is_a_stage_and_each_but_the_last_ends_with_its_bake(synth_cache, name):
    synthesized = synth_cache(name)
    stages = deploy_stages(synthesized)
    waves = synthesized.config.production_waves
    assert [s["Name"] for s in stages] == [f"Deploy_to_Production_wave_{n}" for n in range(1, len(waves) + 1)]
    for number, (stage, wave) in enumerate(zip(stages, waves, strict=True), start=1):
        assert stage["OnFailure"] == {"Result": "ROLLBACK"}
        deploys = [a for a in stage["Actions"] if a["Name"].startswith("Deploy-")]
        assert sorted(a.get("Region", synthesized.config.home_region) for a in deploys) == sorted(wave)
        bakes = [a for a in stage["Actions"] if a["Name"].startswith("Bake-wave-")]
        if number == len(waves):
            assert bakes == []
            continue
        (bake,) = bakes
        assert bake["Name"] == f"Bake-wave-{number}"
        assert bake["ActionTypeId"]["Provider"] == "Lambda"
        assert bake["RunOrder"] == max(a["RunOrder"] for a in stage["Actions"] if a is not bake) + 1
        assert "InputArtifacts" not in bake
        text = json.dumps(bake["Configuration"]["UserParameters"])
        assert '{\\"minutes\\":30,' in text
        assert text.count('\\"region\\"') == len(wave)
        kind = '\\"group\\"' if synthesized.config.rollout.engine == "codedeploy" else '\\"service\\"'
        assert text.count(kind) == len(wave)


def test_one_wave_keeps_one_production_stage_without_a_bake(default_synth):
    (stage,) = deploy_stages(default_synth)
    assert stage["Name"] == "Deploy_to_Production"
    assert not any(a["Name"].startswith("Bake-") for a in stage["Actions"])


def test_no_bake_when_wave_bake_minutes_is_zero(tmp_path):
    synthesized = synthesize(
        tmp_path / "out",
        {"waves": "eu-west-2;ap-southeast-1", "wave_bake_minutes": "0", "allow_plain_http": "true"},
    )
    stages = deploy_stages(synthesized)
    assert [s["Name"] for s in stages] == ["Deploy_to_Production_wave_1", "Deploy_to_Production_wave_2"]
    assert not any(a["Name"].startswith("Bake-") for s in stages for a in s["Actions"])
    assert not any("BakedWaves" in lid for lid in resources(synthesized.pipeline, "AWS::Lambda::Function"))


def test_make_plan_counts_the_bake_in_the_release_time(synth_cache):
    synthesized = synth_cache("staged")
    lines = render_release_time(read_plan(synthesized.outdir))
    assert (
        "  Deploy_to_Production_wave_1, its bake: 30 min [setting: wave_bake_minutes; the alarms of eu-west-2]"
        in lines
    )
    # staging 23.5, wave 1 23.5, its bake 30, wave 2 23.5 (tests/test_release_time.py works 23.5 by hand).
    assert lines[-1] == "  Total: 100.5 min, and what is not counted"


def test_the_bake_may_read_only_alarms_and_where_the_deployment_names_them(synth_cache):
    template = synth_cache("staged").pipeline
    roles = resources(template, "AWS::IAM::Policy")
    (policy,) = [p for lid, p in roles.items() if lid.startswith("ReleaseBakedWavesRole")]
    actions = sorted(
        {a for s in policy["Properties"]["PolicyDocument"]["Statement"] for a in _listed(s["Action"])}
    )
    assert actions == [
        "cloudwatch:DescribeAlarms",
        "codedeploy:GetDeploymentGroup",
        "codepipeline:PutJobFailureResult",
        "codepipeline:PutJobSuccessResult",
        "logs:CreateLogStream",
        "logs:PutLogEvents",
    ]
    alarms = [
        s
        for s in policy["Properties"]["PolicyDocument"]["Statement"]
        if s["Action"] == "cloudwatch:DescribeAlarms"
    ]
    assert [s["Resource"] for s in alarms] == ["arn:aws:cloudwatch:eu-west-2:111111111111:alarm:*"]


def _listed(actions: str | list[str]) -> list[str]:
    return [actions] if isinstance(actions, str) else actions


# --- the function ------------------------------------------------------------------------------


class Cloud:
    """Stubbed CodePipeline, and CodeDeploy, ECS and CloudWatch per region; a clock that sleeping moves."""

    def __init__(self, regions: list[dict]) -> None:
        self.regions = regions
        self.pipeline = offline_client("codepipeline", "eu-west-2")
        self.clients, self.stubs = {}, {}
        for region in regions:
            for service in ("codedeploy", "ecs", "cloudwatch"):
                client = offline_client(service, region["region"])
                self.clients[service, region["region"]] = client
                self.stubs[service, region["region"]] = Stubber(client)
        self.pipeline_stub = Stubber(self.pipeline)
        self.now = 1_000_000.0
        self.asked: list[tuple[str, str, str | None]] = []

    def client(self, service: str, region: str, role_arn: str | None = None):
        self.asked.append((service, region, role_arn))
        return self.clients[service, region]

    def sleep(self, seconds: float) -> None:
        self.now += seconds

    def names(self, region: dict) -> None:
        """Where the region's deployment names its alarms."""
        alarms = ALARMS[region["region"]]
        if "group" in region:
            self.stubs["codedeploy", region["region"]].add_response(
                "get_deployment_group",
                {
                    "deploymentGroupInfo": {
                        "alarmConfiguration": {"enabled": True, "alarms": [{"name": n} for n in alarms]}
                    }
                },
                {"applicationName": region["application"], "deploymentGroupName": region["group"]},
            )
        else:
            self.stubs["ecs", region["region"]].add_response(
                "describe_services",
                {
                    "services": [
                        {
                            "serviceName": region["service"],
                            "deploymentConfiguration": {
                                "alarms": {"alarmNames": alarms, "enable": True, "rollback": True}
                            },
                        }
                    ]
                },
                {"cluster": region["cluster"], "services": [region["service"]]},
            )

    def states(self, region: dict, firing: str | None = None) -> None:
        alarms = [
            {
                "AlarmName": name,
                "StateValue": "ALARM" if name == firing else "OK",
                "StateReason": "Threshold Crossed: 1 datapoint [7.0] >= 5.0",
            }
            for name in ALARMS[region["region"]]
        ]
        self.stubs["cloudwatch", region["region"]].add_response(
            "describe_alarms",
            {"MetricAlarms": alarms},
            {"AlarmNames": ALARMS[region["region"]], "AlarmTypes": ["MetricAlarm", "CompositeAlarm"]},
        )

    def result(self, operation: str, **params) -> None:
        self.pipeline_stub.add_response(operation, {}, {"jobId": JOB, **params})

    def run(self, minutes: int, token: str | None = None) -> None:
        data = {
            "actionConfiguration": {
                "configuration": {"UserParameters": json.dumps({"minutes": minutes, "regions": self.regions})}
            }
        }
        if token:
            data["continuationToken"] = token
        stubs = [self.pipeline_stub, *self.stubs.values()]
        for stub in stubs:
            stub.activate()
        bake_wave.on_job(
            {"CodePipeline.job": {"id": JOB, "data": data}},
            None,
            clients=self.client,
            pipeline=self.pipeline,
            sleep=self.sleep,
            clock=lambda: self.now,
        )
        for stub in stubs:
            stub.assert_no_pending_responses()


def test_a_bake_that_stays_ok_hands_back_a_token_then_succeeds_once_its_minutes_have_passed():
    cloud = Cloud([GROUP, SERVICE])
    # First invocation: 10 minutes of looks, every 30 seconds (21 looks, the last at 10:00), then a token.
    for region in (GROUP, SERVICE):
        cloud.names(region)
    for _ in range(21):
        for region in (GROUP, SERVICE):
            cloud.states(region)
    started = cloud.now
    token = json.dumps({"since": started})
    cloud.result("put_job_success_result", continuationToken=token)
    cloud.run(15)
    assert cloud.now - started == 600
    # Second invocation, with the token: five more minutes (11 looks), then success.
    for region in (GROUP, SERVICE):
        cloud.names(region)
    for _ in range(11):
        for region in (GROUP, SERVICE):
            cloud.states(region)
    cloud.result("put_job_success_result")
    cloud.run(15, token)
    assert cloud.now - started == 900


def test_an_alarm_that_fires_during_the_bake_fails_the_stage_naming_it():
    cloud = Cloud([GROUP, SERVICE])
    for region in (GROUP, SERVICE):
        cloud.names(region)
    for _ in range(4):
        for region in (GROUP, SERVICE):
            cloud.states(region)
    cloud.states(GROUP)
    cloud.states(SERVICE, firing="ap-Target5xx")
    message = (
        "ap-southeast-1: ap-Target5xx in ALARM (Threshold Crossed: 1 datapoint [7.0] >= 5.0), 2 of 30 minutes into "
        "the bake: the wave's stage fails and rolls back"
    )
    cloud.result("put_job_failure_result", failureDetails={"type": "JobFailed", "message": message})
    cloud.run(30)


def test_a_region_whose_deployment_names_no_alarm_fails_the_bake():
    cloud = Cloud([SERVICE])
    cloud.stubs["ecs", "ap-southeast-1"].add_response(
        "describe_services",
        {"services": [{"serviceName": "ap-service", "deploymentConfiguration": {}}]},
        {"cluster": "ap-cluster", "services": ["ap-service"]},
    )
    message = "LookupError: the deployments of ap-southeast-1 name no alarm: a bake would watch nothing"
    cloud.result("put_job_failure_result", failureDetails={"type": "JobFailed", "message": message})
    cloud.run(30)


def test_a_region_in_another_account_is_read_as_its_reader_role():
    reader = "arn:aws:iam::222222222222:role/webapp-ap-southeast-1-reader"
    region = {**SERVICE, "reader_role_arn": reader}
    cloud = Cloud([region])
    cloud.names(region)
    cloud.states(region)
    cloud.result("put_job_success_result")
    cloud.run(0)
    assert cloud.asked == [("ecs", "ap-southeast-1", reader), ("cloudwatch", "ap-southeast-1", reader)]


def test_an_error_still_answers_the_job():
    cloud = Cloud([GROUP])
    cloud.stubs["codedeploy", "eu-west-2"].add_client_error(
        "get_deployment_group", service_error_code="AccessDeniedException", service_message="not allowed"
    )
    cloud.pipeline_stub.add_response("put_job_failure_result", {})
    cloud.run(30)
