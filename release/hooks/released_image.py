"""Custom resource (Amazon ECS engine): the image the region's service serves now, for its task definition.

CloudFormation owns the service's task definition, so a `cdk deploy` that registers a new revision must
give it the image the region serves, never the bootstrap image or an older release. This resource is read
while the stack deploys, before the task definition (which takes its ``Image`` attribute), every time the
task definition's template changes (its ``TaskDefinition`` property is a fingerprint of it):

- no service in the cluster yet (the stack's first create): ``BootstrapImage``;
- the service's current deployment (DescribeServices ``currentServiceDeployment``) ended SUCCESSFUL: the
  image of its target revision; ended ROLLBACK_SUCCESSFUL: of the revision it rolled back to
  (``rollback.serviceRevisionArn``); no deployment recorded: of the service's task definition;
- a deployment still running (a release, a rollback), or one that ended otherwise: FAILED, naming it: the
  stack's update rolls back, and `cdk deploy` can run again once the deployment has ended.

Every step is an ECS API answer (ECS API reference: DescribeServices, DescribeServiceDeployments,
DescribeServiceRevisions, DescribeTaskDefinition); nothing waits on a value written elsewhere.
"""

from __future__ import annotations

try:  # a module of the package here (tests); at the top of the function's code in Lambda
    from . import cfn_response
except ImportError:
    import cfn_response

PHYSICAL_ID = "released-image"
ENDED_WITH_TARGET = "SUCCESSFUL"
ROLLED_BACK = "ROLLBACK_SUCCESSFUL"


class DeploymentNotEndedError(RuntimeError):
    """The service's current deployment is running or did not end cleanly; the message says what to do."""


def boto3_client(name):
    import boto3  # noqa: PLC0415 (in Lambda's runtime; tests pass a stubbed client)

    return boto3.client(name)


def serving_task_definition(ecs, cluster: str) -> str | None:
    """The task definition the cluster's one service serves now; None when there is no service yet."""
    services = ecs.list_services(cluster=cluster)["serviceArns"]
    if not services:
        return None
    (service,) = ecs.describe_services(cluster=cluster, services=services)["services"]
    deployment_arn = service.get("currentServiceDeployment")
    if not deployment_arn:
        return service["taskDefinition"]
    (deployment,) = ecs.describe_service_deployments(serviceDeploymentArns=[deployment_arn])[
        "serviceDeployments"
    ]
    status = deployment["status"]
    if status == ENDED_WITH_TARGET:
        revision = deployment["targetServiceRevision"]["arn"]
    elif status == ROLLED_BACK:
        revision = deployment["rollback"]["serviceRevisionArn"]
    else:
        raise DeploymentNotEndedError(
            f"the service's deployment {deployment_arn} is {status}; run cdk deploy once it has ended "
            "(a release or rollback in progress), or after a release that succeeds (one that ended otherwise)"
        )
    (described,) = ecs.describe_service_revisions(serviceRevisionArns=[revision])["serviceRevisions"]
    return described["taskDefinition"]


def image_of(ecs, task_definition: str, container: str) -> str:
    described = ecs.describe_task_definition(taskDefinition=task_definition)["taskDefinition"]
    (image,) = [c["image"] for c in described["containerDefinitions"] if c["name"] == container]
    return image


def on_event(event, context, *, ecs=None, respond=cfn_response.respond):
    try:
        if event["RequestType"] == "Delete":
            respond(
                event,
                cfn_response.SUCCESS,
                physical_id=event["PhysicalResourceId"],
                reason="nothing to delete",
            )
            return
        properties = event["ResourceProperties"]
        ecs = ecs or boto3_client("ecs")
        task_definition = serving_task_definition(ecs, properties["Cluster"])
        if task_definition is None:
            image, source = properties["BootstrapImage"], "no service yet: the bootstrap image"
        else:
            image, source = (
                image_of(ecs, task_definition, properties["Container"]),
                f"served by {task_definition}",
            )
    except Exception as error:  # CloudFormation must always hear back, or it waits an hour
        respond(
            event,
            cfn_response.FAILED,
            physical_id=event.get("PhysicalResourceId", PHYSICAL_ID),
            reason=f"{type(error).__name__}: {error}",
        )
        return
    respond(
        event,
        cfn_response.SUCCESS,
        physical_id=PHYSICAL_ID,
        reason=f"{image} ({source})",
        data={"Image": image},
    )
