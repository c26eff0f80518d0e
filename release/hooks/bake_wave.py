"""Pipeline action: bake a production wave, watching its regions' deployment alarms before the next wave.

It runs as a Lambda invoke action, last in a wave's stage, once the wave has deployed. UserParameters:
``{"minutes": N, "regions": [...]}``, each region ``{region, application, group}`` (CodeDeploy) or
``{region, cluster, service}`` (ECS), and ``reader_role_arn`` for a region in another account, whose
read-only role the function assumes. Each region's alarms are the ones its deployment watches, read when the
bake runs: the deployment group's alarm configuration (GetDeploymentGroup) or the service's deployment
alarms (DescribeServices ``deploymentConfiguration.alarms``).

- an alarm in ALARM (DescribeAlarms ``StateValue``): the job fails naming it, so the stage fails and
  CodePipeline rolls the wave back; the next wave never starts;
- a region whose deployment names no alarm: the job fails (a bake would watch nothing there);
- otherwise it looks again every POLL_SECONDS until ``minutes`` have passed since the bake's first look,
  then succeeds. Within one invocation it watches for INVOCATION_SECONDS at most, then hands CodePipeline a
  continuation token carrying the first look's time, so that CodePipeline invokes it again ("Invoke an AWS
  Lambda function in a pipeline"). OK and INSUFFICIENT_DATA (no traffic: the alarms treat missing data as
  not breaching) pass.
"""

from __future__ import annotations

import functools
import json
import time

try:
    from . import await_deployments
except ImportError:  # in Lambda, the hooks are top-level modules
    import await_deployments

POLL_SECONDS = 30
# Watch within one invocation for this long; CodePipeline's 20-minute reply timer restarts each time.
INVOCATION_SECONDS = 10 * 60
# DescribeAlarms takes at most 100 names.
NAMES_PER_CALL = 100


def client(clients, service: str, region: dict):
    """``service`` in ``region``: as its reader role when the region is in another account."""
    role_arn = region.get("reader_role_arn")
    return clients(service, region["region"], role_arn) if role_arn else clients(service, region["region"])


def alarm_names(clients, region: dict) -> list[str]:
    """The alarms the region's deployment watches: its deployment group's, or its service's."""
    if "group" in region:
        info = client(clients, "codedeploy", region).get_deployment_group(
            applicationName=region["application"], deploymentGroupName=region["group"]
        )["deploymentGroupInfo"]
        return [alarm["name"] for alarm in info.get("alarmConfiguration", {}).get("alarms", [])]
    (service,) = client(clients, "ecs", region).describe_services(
        cluster=region["cluster"], services=[region["service"]]
    )["services"]
    return list(service.get("deploymentConfiguration", {}).get("alarms", {}).get("alarmNames", []))


def firing(clients, region: dict, names: list[str]) -> list[str]:
    """``<region>: <alarm> in ALARM (<reason>)`` for each of ``names`` in ALARM."""
    cloudwatch = client(clients, "cloudwatch", region)
    found = []
    for start in range(0, len(names), NAMES_PER_CALL):
        answer = cloudwatch.describe_alarms(
            AlarmNames=names[start : start + NAMES_PER_CALL], AlarmTypes=["MetricAlarm", "CompositeAlarm"]
        )
        found += answer.get("MetricAlarms", []) + answer.get("CompositeAlarms", [])
    return [
        f"{region['region']}: {alarm['AlarmName']} in ALARM ({alarm.get('StateReason', 'no reason given')})"
        for alarm in found
        if alarm["StateValue"] == "ALARM"
    ]


def on_job(event, context, *, clients=None, pipeline=None, sleep=time.sleep, clock=time.time):
    job = event["CodePipeline.job"]
    pipeline = pipeline or await_deployments.boto3_client("codepipeline")
    # One client per region (and role) for the invocation: an assumed role's session outlasts it.
    clients = functools.cache(clients or await_deployments.boto3_client)
    try:
        data = job["data"]
        parameters = json.loads(data["actionConfiguration"]["configuration"]["UserParameters"])
        regions, seconds = parameters["regions"], parameters["minutes"] * 60
        started = clock()
        first_look = json.loads(data.get("continuationToken") or "{}").get("since", started)
        names = {region["region"]: alarm_names(clients, region) for region in regions}
        unwatched = [region for region, found in names.items() if not found]
        if unwatched:
            raise LookupError(
                f"the deployments of {', '.join(unwatched)} name no alarm: a bake would watch nothing"
            )
        while True:
            fired = [line for region in regions for line in firing(clients, region, names[region["region"]])]
            watched = clock() - first_look
            if fired:
                message = (
                    f"{'; '.join(fired)}, {watched / 60:.0f} of {parameters['minutes']} minutes into the bake: "
                    "the wave's stage fails and rolls back"
                )
                print(message, flush=True)
                await_deployments.job_failed(pipeline, job["id"], message)
                return
            if watched >= seconds:
                print(f"baked {parameters['minutes']} minutes: every alarm OK", flush=True)
                pipeline.put_job_success_result(jobId=job["id"])
                return
            if clock() - started >= INVOCATION_SECONDS:
                await_deployments.job_continues(pipeline, job["id"], first_look)
                return
            sleep(min(POLL_SECONDS, seconds - watched))
    except Exception as error:  # the job must always hear back, or it waits for its timeout
        await_deployments.job_failed(pipeline, job["id"], f"{type(error).__name__}: {error}")
