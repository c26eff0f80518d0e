"""Pipeline action (Amazon ECS engine): wait until every region of a wave has ended its service deployment.

CodePipeline's ECS deploy action starts a region's deployment, but AWS does not document what it waits
for during an ECS blue/green deployment (hooks, traffic steps, bake time) or how it reports a rollback.
This function runs as a Lambda invoke action after the wave's ECS actions and decides from ECS's own
answers, region by region (UserParameters, a JSON list of {region, cluster, service, file}, and
``reader_role_arn`` for a region in another account, whose read-only role the function assumes):

- the service's current deployment (DescribeServices ``currentServiceDeployment``, DescribeServiceDeployments)
  still running: look again (every POLL_SECONDS within one invocation; then a continuation token, so that
  CodePipeline invokes the function again: "Invoke an AWS Lambda function in a pipeline");
- ended SUCCESSFUL with this release's image (the region's imagedefinitions file in the build output, read
  from the input artifact with the job's artifact credentials, the action role's): that region is done;
- ended any other way (rolled back, stopped, failed): the job fails with the region's reason, so the
  stage fails and CodePipeline rolls it back;
- SUCCESSFUL with another image: the deployment of this release is not the service's current one yet
  (waited for up to STALE_SECONDS from the job's first look, then the job fails).

The job succeeds once every region is done.
"""

from __future__ import annotations

import functools
import io
import json
import time
import zipfile

RUNNING = ("PENDING", "IN_PROGRESS", "STOP_REQUESTED", "ROLLBACK_REQUESTED", "ROLLBACK_IN_PROGRESS")
SUCCESSFUL = "SUCCESSFUL"
POLL_SECONDS = 15
# Look again within one invocation for this long; CodePipeline's 20-minute reply timer restarts each time.
INVOCATION_SECONDS = 10 * 60
# How long a region may still show the previous release as its current deployment after its ECS action.
STALE_SECONDS = 5 * 60


def boto3_client(name, region=None, role_arn=None):
    """A client of the function's own role, or, with ``role_arn``, of that role (another account's reader role)."""
    import boto3  # noqa: PLC0415 (in Lambda's runtime; tests pass stubbed clients)

    if role_arn is None:
        return boto3.client(name, region_name=region)
    credentials = boto3.client("sts", region_name=region).assume_role(
        RoleArn=role_arn, RoleSessionName="await-deployments"
    )["Credentials"]
    return boto3.client(
        name,
        region_name=region,
        aws_access_key_id=credentials["AccessKeyId"],
        aws_secret_access_key=credentials["SecretAccessKey"],
        aws_session_token=credentials["SessionToken"],
    )


def ecs_client(clients, region: dict):
    """ECS of ``region``: as its reader role when the region is in another account (ECS reads no other account)."""
    role_arn = region.get("reader_role_arn")
    return clients("ecs", region["region"], role_arn) if role_arn else clients("ecs", region["region"])


def artifact_client(credentials: dict):
    """S3 with the job's artifact credentials: CodePipeline grants the action's role, not the function's, the artifacts."""
    import boto3  # noqa: PLC0415 (in Lambda's runtime; tests pass a stubbed client)

    return boto3.client(
        "s3",
        aws_access_key_id=credentials["accessKeyId"],
        aws_secret_access_key=credentials["secretAccessKey"],
        aws_session_token=credentials["sessionToken"],
    )


def released_images(s3, artifact: dict) -> dict[str, str]:
    """File name -> the image (repository@digest) of each imagedefinitions file in the build output."""
    location = artifact["location"]["s3Location"]
    body = s3.get_object(Bucket=location["bucketName"], Key=location["objectKey"])["Body"].read()
    images = {}
    with zipfile.ZipFile(io.BytesIO(body)) as archive:
        for name in archive.namelist():
            if name.startswith("imagedefinitions-") and name.endswith(".json"):
                (definition,) = json.loads(archive.read(name))
                images[name] = definition["imageUri"]
    return images


def image_of_revision(ecs, revision_arn: str) -> str:
    (revision,) = ecs.describe_service_revisions(serviceRevisionArns=[revision_arn])["serviceRevisions"]
    described = ecs.describe_task_definition(taskDefinition=revision["taskDefinition"])["taskDefinition"]
    return " ".join(c["image"] for c in described["containerDefinitions"])


def region_state(ecs, region: dict, image: str) -> tuple[str, str]:
    """("running" | "stale" | "done" | "failed", what to say) for one region's current service deployment."""
    (service,) = ecs.describe_services(cluster=region["cluster"], services=[region["service"]])["services"]
    deployment_arn = service.get("currentServiceDeployment")
    if not deployment_arn:
        return "failed", f"{region['region']}: the service has no current deployment"
    (deployment,) = ecs.describe_service_deployments(serviceDeploymentArns=[deployment_arn])[
        "serviceDeployments"
    ]
    status, reason = deployment["status"], deployment.get("statusReason", "")
    if status in RUNNING:
        return "running", f"{region['region']}: {status}"
    if status != SUCCESSFUL:
        return "failed", f"{region['region']}: deployment {deployment_arn} ended {status}: {reason}".rstrip(
            ": "
        )
    served = image_of_revision(ecs, deployment["targetServiceRevision"]["arn"])
    if image not in served.split():
        return (
            "stale",
            f"{region['region']}: the current deployment serves {served}, not this release's {image}",
        )
    return "done", f"{region['region']}: {SUCCESSFUL}"


def check(
    regions: list[dict], images: dict[str, str], clients, *, stale_fails: bool
) -> tuple[list[str], list[str], list[str]]:
    """The regions still running, done and failed (each with its line); a stale one fails once ``stale_fails``."""
    running, done, failed = [], [], []
    for region in regions:
        state, line = region_state(ecs_client(clients, region), region, images[region["file"]])
        if state == "stale":
            state = "failed" if stale_fails else "running"
        {"running": running, "done": done, "failed": failed}[state].append(line)
    return running, done, failed


def on_job(event, context, *, clients=None, s3=None, pipeline=None, sleep=time.sleep, clock=time.time):
    job = event["CodePipeline.job"]
    pipeline = pipeline or boto3_client("codepipeline")
    # One client per region (and role) for the invocation: an assumed role's session outlasts it.
    clients = functools.cache(clients or boto3_client)
    try:
        data = job["data"]
        regions = json.loads(data["actionConfiguration"]["configuration"]["UserParameters"])
        (artifact,) = data["inputArtifacts"]
        images = released_images(s3 or artifact_client(data["artifactCredentials"]), artifact)
        started = clock()
        first_look = json.loads(data.get("continuationToken") or "{}").get("since", started)
        while True:
            running, done, failed = check(
                regions, images, clients, stale_fails=clock() - first_look >= STALE_SECONDS
            )
            print("; ".join(failed + running + done), flush=True)
            if failed:
                message = "; ".join(failed)[:5000]
                pipeline.put_job_failure_result(
                    jobId=job["id"], failureDetails={"type": "JobFailed", "message": message}
                )
                return
            if not running:
                pipeline.put_job_success_result(jobId=job["id"])
                return
            if clock() - started >= INVOCATION_SECONDS:
                # Still running: CodePipeline invokes the function again with this token.
                token = json.dumps({"since": first_look})
                pipeline.put_job_success_result(jobId=job["id"], continuationToken=token)
                return
            sleep(POLL_SECONDS)
    except Exception as error:  # the job must always hear back, or it waits for its timeout
        pipeline.put_job_failure_result(
            jobId=job["id"],
            failureDetails={"type": "JobFailed", "message": f"{type(error).__name__}: {error}"[:5000]},
        )
