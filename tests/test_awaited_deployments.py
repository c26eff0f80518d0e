"""The ECS engine's pipeline waits for every region's service deployment itself, wave by wave.

What CodePipeline's ECS action waits for during an ECS blue/green deployment is not documented, so after
each wave's ECS actions an ``Await-wave-<n>`` Lambda invoke action (release/hooks/await_deployments.py,
here against botocore's Stubber) asks each region's service for its current deployment and fails the
stage unless it ended SUCCESSFUL with the release's image.
"""

from __future__ import annotations

import io
import json
import sys
import types
import zipfile

import pytest
from botocore.response import StreamingBody
from botocore.stub import Stubber
from conftest import expect_assume_role, offline_client
from template_queries import pipeline_stages

from release.hooks import await_deployments
from tools.plan.plan_model import wave_of_stage

JOB = "0f1e2d3c-4b5a-6978-8a9b-0c1d2e3f4a5b"
BUCKET, KEY = "webapp-pipeline-artifacts", "webapp-pipeline/build_outp/AbCdEfG"
IMAGE = "111111111111.dkr.ecr.{region}.amazonaws.com/webapp@sha256:" + "ab" * 32
OLD_IMAGE = "111111111111.dkr.ecr.{region}.amazonaws.com/webapp@sha256:" + "cd" * 32
REGIONS = [
    {
        "region": "eu-west-2",
        "cluster": "eu-cluster",
        "service": "eu-service",
        "file": "imagedefinitions-eu-west-2.json",
    },
    {
        "region": "ap-southeast-1",
        "cluster": "ap-cluster",
        "service": "ap-service",
        "file": "imagedefinitions-ap-southeast-1.json",
    },
]


# --- the pipeline ------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["ecs", "domain_geolocation"])
def test_every_wave_of_ecs_actions_is_followed_by_a_wait_for_exactly_its_regions(synth_cache, name):
    synthesized = synth_cache(name)
    for stage in pipeline_stages(synthesized.pipeline):
        if not stage["Name"].startswith("Deploy_to_"):
            continue
        deploys = [a for a in stage["Actions"] if a["ActionTypeId"]["Provider"] == "ECS"]
        waits = {a["RunOrder"]: a for a in stage["Actions"] if a["Name"].startswith("Await-")}
        assert deploys
        assert len(deploys) + len(waits) == len(stage["Actions"])
        orders = sorted({a["RunOrder"] for a in deploys})
        assert sorted(waits) == [order + 1 for order in orders], stage["Name"]
        own_wave = wave_of_stage(stage["Name"])  # a wave that is a stage of its own keeps its number
        for wave, order in enumerate(orders, start=own_wave or 1):
            wait = waits[order + 1]
            assert wait["Name"] == f"Await-wave-{wave}"
            assert wait["InputArtifacts"] == [{"Name": "build_output"}]
            regions = json.loads(
                json.dumps(
                    wait["Configuration"]["UserParameters"]
                )  # a string, or Fn::Join around the home region
            )
            wave_actions = [a for a in deploys if a["RunOrder"] == order]
            text = json.dumps(regions)
            for action in wave_actions:
                region = action.get("Region", synthesized.config.home_region)
                assert f'\\"region\\":\\"{region}\\"' in text, (stage["Name"], region)
                assert action["Configuration"]["FileName"] in text
                for key in ("ClusterName", "ServiceName"):
                    name_text = json.dumps(action["Configuration"][key])
                    assert name_text.strip('"') in text, (region, key)
            assert text.count('\\"region\\"') == len(wave_actions)


def test_the_codedeploy_engine_needs_no_wait(synth_cache):
    for name in ("default", "staged"):
        providers = {
            a["ActionTypeId"]["Provider"]
            for s in pipeline_stages(synth_cache(name).pipeline)
            for a in s["Actions"]
        }
        assert "Lambda" not in providers


# --- the function ------------------------------------------------------------------------------


def build_output(images: dict[str, str]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for region in REGIONS:
            definition = [{"name": "web", "imageUri": images[region["region"]]}]
            archive.writestr(region["file"], json.dumps(definition))
        archive.writestr("appspec-unused.yaml", "not read")
    return buffer.getvalue()


class World:
    """Stubbed S3, CodePipeline and one ECS per region; every queued answer must be asked for."""

    def __init__(self) -> None:
        self.s3 = offline_client("s3", "eu-west-2")
        self.pipeline = offline_client("codepipeline", "eu-west-2")
        self.ecs = {r["region"]: offline_client("ecs", r["region"]) for r in REGIONS}
        self.stubs = [Stubber(c) for c in (self.s3, self.pipeline, *self.ecs.values())]
        self.ecs_stubs = dict(zip(self.ecs, self.stubs[2:], strict=True))
        body = build_output({r["region"]: IMAGE.format(region=r["region"]) for r in REGIONS})
        self.stubs[0].add_response(
            "get_object",
            {"Body": StreamingBody(io.BytesIO(body), len(body))},
            {"Bucket": BUCKET, "Key": KEY},
        )
        self.slept: list[float] = []
        self.asked: list[tuple[str, str, str | None]] = []

    def client(self, service: str, region: str, role_arn: str | None = None):
        self.asked.append((service, region, role_arn))
        return self.ecs[region]

    def deployment(self, region: str, status: str, image: str | None = None, reason: str = "") -> None:
        stub, settings = self.ecs_stubs[region], next(r for r in REGIONS if r["region"] == region)
        arn = f"arn:aws:ecs:{region}:111111111111:service-deployment/{settings['cluster']}/{settings['service']}/d1"
        revision = f"arn:aws:ecs:{region}:111111111111:service-revision/{settings['cluster']}/{settings['service']}/8"
        stub.add_response(
            "describe_services",
            {"services": [{"serviceName": settings["service"], "currentServiceDeployment": arn}]},
            {"cluster": settings["cluster"], "services": [settings["service"]]},
        )
        deployment = {
            "serviceDeploymentArn": arn,
            "status": status,
            "targetServiceRevision": {"arn": revision},
        }
        if reason:
            deployment["statusReason"] = reason
        stub.add_response(
            "describe_service_deployments",
            {"serviceDeployments": [deployment]},
            {"serviceDeploymentArns": [arn]},
        )
        if status == "SUCCESSFUL":
            definition = f"arn:aws:ecs:{region}:111111111111:task-definition/web:8"
            stub.add_response(
                "describe_service_revisions",
                {"serviceRevisions": [{"serviceRevisionArn": revision, "taskDefinition": definition}]},
                {"serviceRevisionArns": [revision]},
            )
            image = image or IMAGE.format(region=region)
            stub.add_response(
                "describe_task_definition",
                {
                    "taskDefinition": {
                        "taskDefinitionArn": definition,
                        "containerDefinitions": [{"name": "web", "image": image}],
                    }
                },
                {"taskDefinition": definition},
            )

    def answers(self, operation: str, expected: dict) -> None:
        self.stubs[1].add_response(operation, {}, {"jobId": JOB, **expected})

    def run(
        self,
        *,
        token: str | None = None,
        clock_steps: list[float] | None = None,
        regions: list[dict] = REGIONS,
    ) -> None:
        data = {
            "actionConfiguration": {"configuration": {"UserParameters": json.dumps(regions)}},
            "inputArtifacts": [
                {
                    "name": "build_output",
                    "location": {"type": "S3", "s3Location": {"bucketName": BUCKET, "objectKey": KEY}},
                }
            ],
        }
        if token:
            data["continuationToken"] = token
        times = iter(clock_steps or [1000.0] * 50)
        for stub in self.stubs:
            stub.activate()
        try:
            await_deployments.on_job(
                {"CodePipeline.job": {"id": JOB, "data": data}},
                None,
                clients=self.client,
                s3=self.s3,
                pipeline=self.pipeline,
                sleep=self.slept.append,
                clock=lambda: next(times),
            )
        finally:
            for stub in self.stubs:
                stub.deactivate()
                stub.assert_no_pending_responses()


def test_every_region_ended_successful_with_the_release_succeeds_the_job():
    world = World()
    world.deployment("eu-west-2", "SUCCESSFUL")
    world.deployment("ap-southeast-1", "SUCCESSFUL")
    world.answers("put_job_success_result", {})
    world.run()
    assert world.slept == []


def test_a_running_deployment_is_looked_at_again_until_it_ends():
    world = World()
    world.deployment("eu-west-2", "SUCCESSFUL")
    world.deployment("ap-southeast-1", "IN_PROGRESS")
    world.deployment("eu-west-2", "SUCCESSFUL")
    world.deployment("ap-southeast-1", "SUCCESSFUL")
    world.answers("put_job_success_result", {})
    world.run()
    assert world.slept == [await_deployments.POLL_SECONDS]


def test_a_rolled_back_region_fails_the_job_with_its_reason():
    world = World()
    world.deployment("eu-west-2", "SUCCESSFUL")
    world.deployment("ap-southeast-1", "ROLLBACK_SUCCESSFUL", reason="alarm webapp-ap-Green5xx in ALARM")
    world.answers(
        "put_job_failure_result",
        {
            "failureDetails": {
                "type": "JobFailed",
                "message": "ap-southeast-1: deployment arn:aws:ecs:ap-southeast-1:111111111111:service-deployment/"
                "ap-cluster/ap-service/d1 ended ROLLBACK_SUCCESSFUL: alarm webapp-ap-Green5xx in ALARM",
            }
        },
    )
    world.run()


def test_after_its_invocation_time_the_job_hands_back_a_continuation_token():
    world = World()
    world.deployment("eu-west-2", "IN_PROGRESS")
    world.deployment("ap-southeast-1", "IN_PROGRESS")
    start = 1000.0
    world.answers("put_job_success_result", {"continuationToken": json.dumps({"since": start})})
    world.run(clock_steps=[start, start, start + await_deployments.INVOCATION_SECONDS])


def test_the_previous_release_still_current_is_waited_for_then_fails_the_job():
    old = OLD_IMAGE.format(region="eu-west-2")
    world = World()
    world.deployment("eu-west-2", "SUCCESSFUL", image=old)
    world.deployment("ap-southeast-1", "SUCCESSFUL")
    world.answers("put_job_success_result", {"continuationToken": json.dumps({"since": 1000.0})})
    # A later invocation, past STALE_SECONDS from the first look (the token carries it): the job fails.
    world.run(clock_steps=[1000.0, 1000.0, 1000.0 + await_deployments.INVOCATION_SECONDS])
    late = World()
    late.deployment("eu-west-2", "SUCCESSFUL", image=old)
    late.deployment("ap-southeast-1", "SUCCESSFUL")
    late.answers(
        "put_job_failure_result",
        {
            "failureDetails": {
                "type": "JobFailed",
                "message": f"eu-west-2: the current deployment serves {old}, not this release's "
                f"{IMAGE.format(region='eu-west-2')}",
            }
        },
    )
    late.run(token=json.dumps({"since": 1000.0}), clock_steps=[1000.0 + await_deployments.STALE_SECONDS] * 3)


def test_any_error_fails_the_job_rather_than_leaving_it_to_time_out():
    world = World()
    world.ecs_stubs["eu-west-2"].add_client_error("describe_services", "AccessDeniedException", "no")
    world.stubs[1].add_response(
        "put_job_failure_result",
        {},
        {
            "jobId": JOB,
            "failureDetails": {
                "type": "JobFailed",
                "message": "AccessDeniedException: An error occurred (AccessDeniedException) when calling the "
                "DescribeServices operation: no",
            },
        },
    )
    world.run()


READER = "arn:aws:iam::333333333333:role/webapp-ap-southeast-1eleasereaderrole"


def test_a_region_in_another_account_is_read_as_its_reader_role_once_per_invocation():
    world = World()
    world.deployment("eu-west-2", "IN_PROGRESS")
    world.deployment("ap-southeast-1", "SUCCESSFUL")
    world.deployment("eu-west-2", "SUCCESSFUL")
    world.deployment("ap-southeast-1", "SUCCESSFUL")
    world.answers("put_job_success_result", {})
    regions = [dict(r, reader_role_arn=READER) if r["region"] == "ap-southeast-1" else r for r in REGIONS]
    world.run(regions=regions)
    # Asked once per region for the invocation, though looked at twice.
    assert sorted(world.asked) == [("ecs", "ap-southeast-1", READER), ("ecs", "eu-west-2", None)]


def test_the_default_client_of_a_reader_role_uses_the_credentials_sts_returns(monkeypatch):
    """Lambda's runtime has boto3; here a stand-in module hands out a stubbed STS and records the ECS client."""
    sts = offline_client("sts", "ap-southeast-1")
    made: list[tuple[str, dict]] = []

    def client(name, **options):
        if name == "sts":
            return sts
        made.append((name, options))
        return None

    monkeypatch.setitem(sys.modules, "boto3", types.SimpleNamespace(client=client))
    with Stubber(sts) as stub:
        credentials = expect_assume_role(stub, READER, "await-deployments")
        await_deployments.boto3_client("ecs", "ap-southeast-1", READER)
    assert made == [("ecs", {"region_name": "ap-southeast-1", **credentials})]
