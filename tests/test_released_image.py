"""The ECS engine's released image: a `cdk deploy` registers the task definition with the image the service serves.

The task definition's image is the ``Image`` of ``Custom::ReleasedImage``, which asks ECS (through the
function in release/hooks/released_image.py, run here against botocore's Stubber) which task definition
the cluster's service serves: the bootstrap image before the service exists, the image a release or a
rollback left, and a refusal while a deployment runs. It is read again whenever the task definition's
template changes, and only then.
"""

from __future__ import annotations

import json

import pytest
from botocore.stub import Stubber
from conftest import offline_client
from release_build import run_build
from template_queries import only, resources, service_task_definition

from constructs.engines.released_image import RESOURCE_TYPE
from release.hooks import cfn_response, released_image

REGION = "eu-west-2"
CLUSTER = "webapp-eu-west-2-ServiceCluster572F72F1-AbCdEf"
SERVICE = f"arn:aws:ecs:{REGION}:111111111111:service/{CLUSTER}/webapp-eu-west-2-Service-XyZ"
DEPLOYMENT = f"arn:aws:ecs:{REGION}:111111111111:service-deployment/{CLUSTER}/svc/abc"
REVISION = f"arn:aws:ecs:{REGION}:111111111111:service-revision/{CLUSTER}/svc/7"
OLD_REVISION = f"arn:aws:ecs:{REGION}:111111111111:service-revision/{CLUSTER}/svc/6"
TASK_DEFINITION = f"arn:aws:ecs:{REGION}:111111111111:task-definition/webapp-eu-west-2-web:7"
OLD_TASK_DEFINITION = TASK_DEFINITION.replace(":7", ":6")
RELEASED = "111111111111.dkr.ecr.eu-west-2.amazonaws.com/webapp@sha256:" + "ab" * 32
BOOTSTRAP = "public.ecr.aws/nginx/nginx:stable-alpine"


def released_image_resource(template: dict) -> tuple[str, dict]:
    ((lid, resource),) = [(lid, r) for lid, r in template["Resources"].items() if r["Type"] == RESOURCE_TYPE]
    return lid, resource["Properties"]


# --- the template ------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["ecs", "domain_geolocation", "ecs_alone"])
def test_the_task_definition_takes_its_image_from_the_released_image_resource(synth_cache, name):
    synthesized = synth_cache(name)
    for stack_name, template in synthesized.regional_templates.items():
        resource_id, properties = released_image_resource(template)
        (container,) = service_task_definition(template)["ContainerDefinitions"]
        assert container["Image"] == {"Fn::GetAtt": [resource_id, "Image"]}, stack_name
        cluster_id, _ = only(template, "AWS::ECS::Cluster")
        assert properties["Cluster"] == {"Ref": cluster_id}
        assert properties["Container"] == container["Name"]
        # The project's bootstrap image, a Docker image asset in the CDK bootstrap stack's repository.
        assert "cdk-hnb659fds-container-assets-" in json.dumps(properties["BootstrapImage"])
        # No dynamic reference anywhere: nothing is resolved when the change set is made.
        assert "{{resolve:" not in json.dumps(template), stack_name
        assert not resources(template, "AWS::SSM::Parameter")


def test_it_is_read_again_when_the_task_definition_changes_and_only_then(synth_cache):
    def fingerprint(name: str) -> str:
        (template,) = synth_cache(name).regional_templates.values()
        return released_image_resource(template)[1]["TaskDefinition"]

    assert fingerprint("ecs_resized") != fingerprint("ecs_alone"), "a bigger task: a new revision, read again"
    assert fingerprint("ecs_unrelated") == fingerprint("ecs_alone"), "alarms, WAF, e-mail: not read again"


def test_the_codedeploy_engine_has_no_released_image(default_synth):
    for template in default_synth.regional_templates.values():
        assert not [r for r in template["Resources"].values() if r["Type"] == RESOURCE_TYPE]


# --- the function, against ECS's API model ------------------------------------------------------------


class Ecs:
    """A stubbed ECS, queued with the answers of one request, and what the function answered."""

    def __init__(self) -> None:
        self.client = offline_client("ecs", REGION)
        self.stub = Stubber(self.client)
        self.answers: list[dict] = []

    def services(self, *arns: str) -> None:
        self.stub.add_response("list_services", {"serviceArns": list(arns)}, {"cluster": CLUSTER})

    def service(self, **fields) -> None:
        described = {"serviceArn": SERVICE, "taskDefinition": OLD_TASK_DEFINITION, **fields}
        self.stub.add_response(
            "describe_services", {"services": [described]}, {"cluster": CLUSTER, "services": [SERVICE]}
        )

    def deployment(self, status: str, **fields) -> None:
        deployment = {"serviceDeploymentArn": DEPLOYMENT, "status": status, **fields}
        self.stub.add_response(
            "describe_service_deployments",
            {"serviceDeployments": [deployment]},
            {"serviceDeploymentArns": [DEPLOYMENT]},
        )

    def revision(self, arn: str, task_definition: str) -> None:
        self.stub.add_response(
            "describe_service_revisions",
            {"serviceRevisions": [{"serviceRevisionArn": arn, "taskDefinition": task_definition}]},
            {"serviceRevisionArns": [arn]},
        )

    def task_definition(self, arn: str, image: str) -> None:
        self.stub.add_response(
            "describe_task_definition",
            {
                "taskDefinition": {
                    "taskDefinitionArn": arn,
                    "containerDefinitions": [{"name": "web", "image": image}],
                }
            },
            {"taskDefinition": arn},
        )

    def send(self, request_type: str = "Update", properties: dict | None = None) -> dict:
        event = {
            "RequestType": request_type,
            "ResponseURL": "https://cloudformation-custom-resource-response.example/answer",
            "StackId": f"arn:aws:cloudformation:{REGION}:111111111111:stack/webapp-eu-west-2/1",
            "RequestId": "r-1",
            "LogicalResourceId": "ServiceReleasedImage3A4A4407",
            "PhysicalResourceId": "released-image",
            "ResourceProperties": properties
            or {"Cluster": CLUSTER, "Container": "web", "BootstrapImage": BOOTSTRAP, "TaskDefinition": "f"},
        }
        with self.stub:
            released_image.on_event(
                event,
                None,
                ecs=self.client,
                respond=lambda *a, **k: cfn_response.respond(
                    *a, **k, put=lambda _url, body: self.answers.append(json.loads(body))
                ),
            )
            self.stub.assert_no_pending_responses()
        (answer,) = self.answers
        return answer


def test_before_the_service_exists_the_bootstrap_image():
    ecs = Ecs()
    ecs.services()
    answer = ecs.send("Create")
    assert (answer["Status"], answer["Data"]) == ("SUCCESS", {"Image": BOOTSTRAP})


def test_after_a_release_the_image_of_its_revision():
    ecs = Ecs()
    ecs.services(SERVICE)
    ecs.service(currentServiceDeployment=DEPLOYMENT)
    ecs.deployment("SUCCESSFUL", targetServiceRevision={"arn": REVISION})
    ecs.revision(REVISION, TASK_DEFINITION)
    ecs.task_definition(TASK_DEFINITION, RELEASED)
    answer = ecs.send()
    assert (answer["Status"], answer["Data"]) == ("SUCCESS", {"Image": RELEASED})
    assert answer["PhysicalResourceId"] == "released-image"


def test_after_a_rollback_the_image_it_went_back_to():
    ecs = Ecs()
    ecs.services(SERVICE)
    ecs.service(currentServiceDeployment=DEPLOYMENT)
    ecs.deployment(
        "ROLLBACK_SUCCESSFUL",
        targetServiceRevision={"arn": REVISION},
        rollback={"reason": "alarm", "serviceRevisionArn": OLD_REVISION},
    )
    ecs.revision(OLD_REVISION, OLD_TASK_DEFINITION)
    ecs.task_definition(OLD_TASK_DEFINITION, "old-image")
    assert ecs.send()["Data"] == {"Image": "old-image"}


def test_a_service_without_a_recorded_deployment_serves_its_task_definition():
    ecs = Ecs()
    ecs.services(SERVICE)
    ecs.service()
    ecs.task_definition(OLD_TASK_DEFINITION, "old-image")
    assert ecs.send()["Data"] == {"Image": "old-image"}


@pytest.mark.parametrize(
    "status", ["IN_PROGRESS", "PENDING", "ROLLBACK_IN_PROGRESS", "STOPPED", "ROLLBACK_FAILED"]
)
def test_while_a_deployment_runs_or_after_one_that_did_not_end_cleanly_the_update_fails(status):
    ecs = Ecs()
    ecs.services(SERVICE)
    ecs.service(currentServiceDeployment=DEPLOYMENT)
    ecs.deployment(status, targetServiceRevision={"arn": REVISION})
    answer = ecs.send()
    assert answer["Status"] == "FAILED"
    assert f"is {status}; run cdk deploy once it has ended" in answer["Reason"]


def test_delete_calls_nothing():
    assert Ecs().send("Delete")["Status"] == "SUCCESS"


# --- one release, then a cdk deploy --------------------------------------------------------------


@pytest.fixture(scope="module")
def ecs_build(synth_cache, tmp_path_factory, iam_simulator):
    run = run_build(synth_cache("ecs"), tmp_path_factory.mktemp("ecs-build"), simulator=iam_simulator)
    assert run.result.returncode == 0, run.result.stdout + run.result.stderr
    return run


def test_after_a_release_cdk_deploy_registers_the_released_image(synth_cache, ecs_build):
    """Build → the ECS action's revision → the service's deployment → the image the next cdk deploy registers."""
    synthesized = synth_cache("ecs")
    for target in ecs_build.plan["targets"]:
        (definition,) = json.loads((ecs_build.workdir / target["image_definitions_file"]).read_text())
        released = definition["imageUri"]
        assert "container-assets" not in released
        (template,) = [
            t
            for t in synthesized.regional_templates.values()
            if service_task_definition(t)["Family"] == target["task_definition_family"]
        ]
        _, properties = released_image_resource(template)
        (container,) = service_task_definition(template)["ContainerDefinitions"]
        # The ECS action registered the service's task definition with the file's image (the name matches).
        assert definition["name"] == container["Name"] == properties["Container"]
        ecs = Ecs()
        ecs.services(SERVICE)
        ecs.service(currentServiceDeployment=DEPLOYMENT)
        ecs.deployment("SUCCESSFUL", targetServiceRevision={"arn": REVISION})
        ecs.revision(REVISION, TASK_DEFINITION)
        ecs.task_definition(TASK_DEFINITION, released)
        answer = ecs.send(properties={**properties, "Cluster": CLUSTER})
        assert answer["Data"] == {"Image": released}, target["region"]
