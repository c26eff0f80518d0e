"""Record hook (Amazon ECS engine only): remember the image production now runs.

ECS calls ``ecs_handler`` at POST_PRODUCTION_TRAFFIC_SHIFT, once all production
traffic reaches the new service revision. It writes that revision's image
(the released repository@digest) to the RELEASED_IMAGE parameter, which the
service's task definition reads whenever CloudFormation registers a revision:
a later ``cdk deploy`` then runs this release, never the bootstrap image or an
older one. The release itself does not depend on the record: a failure is
logged and the hook still answers SUCCEEDED.
"""

import os


def boto3_client(name):
    import boto3  # noqa: PLC0415 (in Lambda's runtime; tests pass stubbed clients)

    return boto3.client(name)


def released_image(ecs, revision_arn):
    (revision,) = ecs.describe_service_revisions(serviceRevisionArns=[revision_arn])["serviceRevisions"]
    described = ecs.describe_task_definition(taskDefinition=revision["taskDefinition"])["taskDefinition"]
    container = os.environ["CONTAINER"]
    (image,) = [c["image"] for c in described["containerDefinitions"] if c["name"] == container]
    return image


def ecs_handler(event, context, *, ecs=None, ssm=None):
    try:
        ecs, ssm = ecs or boto3_client("ecs"), ssm or boto3_client("ssm")
        image = released_image(ecs, event["executionDetails"]["targetServiceRevisionArn"])
        name = os.environ["RELEASED_IMAGE"]
        ssm.put_parameter(Name=name, Value=image, Type="String", Overwrite=True)
        print(f"recorded {image} in {name}", flush=True)
    except Exception as error:  # the release is fine; only the record is missing
        print(f"ERROR: the released image was not recorded: {error!r}", flush=True)
    return {"hookStatus": "SUCCEEDED"}
