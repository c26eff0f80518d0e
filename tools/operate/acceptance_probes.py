"""Checks of the ECS engine that ``integ_ecs_engine``'s post-deploy hooks make between its steps.

    python tools/operate/acceptance_probes.py first-deployment ASSEMBLY
    python tools/operate/acceptance_probes.py waited ASSEMBLY
    python tools/operate/acceptance_probes.py keeps-traffic ASSEMBLY --expect unchanged|redeployed -- DEPLOY...

An assertion stack runs after every hook, so what must hold *between* two steps of the test (before the first
release, after one release, across one ``cdk deploy``) is read here, with the operator's credentials, from the
same ECS, ELB, Lambda, CloudWatch Logs and CodePipeline answers ``make status`` reads. Each prints one line per
region and exits 1 with the first failure as its last line (the acceptance report quotes it).
"""

from __future__ import annotations

import argparse
import functools
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

if __package__ in (None, ""):  # run as a script: make the repository root importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from tools.cloud_assembly import CloudAssembly
from tools.guards.ecs_traffic_blockers import references
from tools.operate.cdk_commands import OperatorError, aws_client, one_line_errors, serving
from tools.operate.patient_aws import Aws
from tools.operate.regional_state import (
    StackResources,
    described_service,
    described_tasks,
    newest_service_deployment,
    running,
    service_deployments,
)

AWAIT_PREFIX = "Await-wave-"
RECENT_EXECUTIONS = 10
MIGRATION_STARTED_BY = "migration-"
# How long a probe waits for AWS to settle (a deployment's bake time, a target's health, a metric's arrival)
# before it fails.
SETTLE_SECONDS, POLL_SECONDS = 1800, 15
METRIC_PERIOD_SECONDS = 300  # GetMetricStatistics returns at most 1,440 datapoints: 5 days of these


class ProbeError(OperatorError):
    """A check between two steps of the test does not hold; the message says where and what."""


def regions(aws: Aws, assembly: CloudAssembly) -> list[StackResources]:
    """Each production or staging copy's deployed resources."""
    return [StackResources.read(aws, stack) for stack in assembly.service_stacks()]


def where(resources: StackResources) -> str:
    return f"{resources.stack.name} ({resources.stack.region})"


def first_deployment(
    aws: Aws,
    assembly: CloudAssembly,
    *,
    clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    sleep: Callable[[float], None] = time.sleep,
    say: Callable[[str], None] = print,
) -> None:
    """Before any release: each service has had one deployment, the one that created it, it succeeded, and ECS
    invoked every lifecycle hook of the service since it began."""
    for resources in regions(aws, assembly):
        region = resources.stack.region
        problem = settle(functools.partial(creation_problem, aws, resources), sleep)
        if problem:
            raise ProbeError(f"{where(resources)}: {problem}")
        service = described_service(aws, resources.stack.region, resources.cluster, resources.service)
        hooks = [
            hook
            for hook in service["deploymentConfiguration"].get("lifecycleHooks", [])
            if hook.get("targetType", "AWS_LAMBDA") == "AWS_LAMBDA"
        ]
        if not hooks:
            raise ProbeError(f"{where(resources)}: the service has no Lambda lifecycle hooks to check")
        for hook in hooks:
            # Lambda's metrics arrive a few minutes after the invocation.
            problem = settle(
                functools.partial(never_invoked, aws, region, hook, service["createdAt"], clock), sleep
            )
            if problem:
                raise ProbeError(f"{where(resources)}: {problem}")
        say(f"==> {where(resources)}: created by one SUCCESSFUL deployment; {len(hooks)} hook(s) invoked")


def creation_problem(aws: Aws, resources: StackResources) -> str | None:
    """Unless the service has had exactly one deployment, the create (no source revision), ended SUCCESSFUL:
    what it has."""
    briefs = service_deployments(aws, resources)
    if len(briefs) != 1 or briefs[0]["status"] != "SUCCESSFUL":
        found = ", ".join(b["status"] for b in briefs) or "none"
        return f"expected the create's one SUCCESSFUL deployment, found {found}"
    (deployment,) = aws.call(
        "ecs",
        resources.stack.region,
        "describe_service_deployments",
        serviceDeploymentArns=[briefs[0]["serviceDeploymentArn"]],
    )["serviceDeployments"]
    if deployment.get("sourceServiceRevisions"):
        return "the only deployment has a source revision; it is not the create"
    return None


def settle(problem: Callable[[], str | None], sleep: Callable[[float], None]) -> str | None:
    """Ask ``problem()`` every POLL_SECONDS until it answers None or SETTLE_SECONDS pass; its last answer."""
    for _ in range(SETTLE_SECONDS // POLL_SECONDS):
        found = problem()
        if found is None:
            return None
        sleep(POLL_SECONDS)
    return problem()


def never_invoked(
    aws: Aws, region: str, hook: dict, since: datetime, clock: Callable[[], datetime]
) -> str | None:
    """Unless Lambda ran the hook's function since ``since`` (its ``Invocations`` metric, summed), why not.

    Not its log streams: the migration's function writes into the service's own log group.
    """
    function_arn = hook["hookTargetArn"]
    answer = aws.call(
        "cloudwatch",
        region,
        "get_metric_statistics",
        Namespace="AWS/Lambda",
        MetricName="Invocations",
        Dimensions=[{"Name": "FunctionName", "Value": function_arn.split(":")[6]}],
        StartTime=since,
        EndTime=clock(),
        Period=METRIC_PERIOD_SECONDS,
        Statistics=["Sum"],
    )
    if sum(point["Sum"] for point in answer["Datapoints"]) > 0:
        return None
    return (
        f"ECS never invoked the hook {function_arn} ({', '.join(hook['lifecycleStages'])}) in the deployment "
        "that created the service (AWS/Lambda Invocations since then: 0)"
    )


def waited(aws: Aws, assembly: CloudAssembly, say: Callable[[str], None] = print) -> None:
    """After a release: the newest execution succeeded, each wave's wait action succeeded only after every
    region of the release ended its service deployment SUCCESSFUL, and the migration's task exited 0 during it."""
    pipeline_stack, _ = assembly.pipeline()
    home = pipeline_stack.region
    pipeline = StackResources.read(aws, pipeline_stack).one("AWS::CodePipeline::Pipeline")
    # The newest by its start: ListPipelineExecutions documents no order.
    summaries = aws.call(
        "codepipeline", home, "list_pipeline_executions", pipelineName=pipeline, maxResults=RECENT_EXECUTIONS
    )["pipelineExecutionSummaries"]
    if not summaries:
        raise ProbeError(f"{pipeline}: no execution yet")
    newest = max(summaries, key=lambda summary: summary["startTime"])
    if newest["status"] != "Succeeded":
        raise ProbeError(
            f"{pipeline}: the newest execution {newest['pipelineExecutionId']} is {newest['status']}"
        )
    actions = aws.pages(
        "codepipeline",
        home,
        "list_action_executions",
        "actionExecutionDetails",
        "nextToken",
        pipelineName=pipeline,
        filter={"pipelineExecutionId": newest["pipelineExecutionId"]},
    )
    waits = [a for a in actions if a["actionName"].startswith(AWAIT_PREFIX)]
    if not waits or any(a["status"] != "Succeeded" for a in waits):
        raise ProbeError(f"{pipeline}: the waves' wait actions did not all succeed: {summary(waits)}")
    last_wait = max(a["lastUpdateTime"] for a in waits)
    for resources in regions(aws, assembly):
        deployment = newest_service_deployment(aws, resources)
        if deployment is None or deployment["status"] != "SUCCESSFUL":
            raise ProbeError(
                f"{where(resources)}: the release's service deployment is {deployment and deployment['status']}"
            )
        if deployment["startedAt"] < newest["startTime"]:
            raise ProbeError(f"{where(resources)}: its newest service deployment began before the release")
        if deployment["finishedAt"] > last_wait:
            raise ProbeError(
                f"{where(resources)}: the wave's wait succeeded at {last_wait:%H:%M:%S}, before the service "
                f"deployment ended at {deployment['finishedAt']:%H:%M:%S}"
            )
        migration_exit(aws, resources, since=deployment["startedAt"])
        say(
            f"==> {where(resources)}: deployment SUCCESSFUL at {deployment['finishedAt']:%H:%M:%S}, migrated, then the wave's wait ended"
        )


def summary(actions: Sequence[dict]) -> str:
    return ", ".join(f"{a['actionName']} {a['status']}" for a in actions) or "none ran"


def migration_exit(aws: Aws, resources: StackResources, *, since: datetime) -> None:
    """The migration's one-off task ran after ``since`` and exited 0: a stopped task of the cluster that the hook
    started (``startedBy`` ``migration-<hook execution>``: release/hooks/run_migration.py). Not by its family:
    the hook deregisters the family's revisions once the task is done."""
    region = resources.stack.region
    stopped = aws.pages(
        "ecs",
        region,
        "list_tasks",
        "taskArns",
        "nextToken",
        cluster=resources.cluster,
        desiredStatus="STOPPED",
    )
    tasks = described_tasks(aws, region, resources.cluster, stopped)
    ran = [
        task
        for task in tasks
        if task.get("startedBy", "").startswith(MIGRATION_STARTED_BY)
        and task.get("startedAt")
        and task["startedAt"] >= since
    ]
    if not ran:
        raise ProbeError(f"{where(resources)}: no migration task ran in the release's deployment")
    codes = [c.get("exitCode") for t in ran for c in t["containers"]]
    if any(code != 0 for code in codes):
        raise ProbeError(f"{where(resources)}: the migration task exited {codes}")


UNCHANGED, REDEPLOYED = "unchanged", "redeployed"


@dataclass(frozen=True)
class Before:
    """A region as the deploy found it: where production went, the revision and the images it ran."""

    rule: set[str]
    task_definition: str
    digests: tuple[str, ...]


def keeps_traffic(
    aws: Aws,
    assembly: CloudAssembly,
    command: Sequence[str],
    *,
    expect: str,
    run: Callable[..., subprocess.CompletedProcess] = subprocess.run,
    clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    sleep: Callable[[float], None] = time.sleep,
    say: Callable[[str], None] = print,
) -> None:
    """Run ``command`` (a ``cdk deploy``); afterwards each region's production rule sends all traffic to the one
    target group whose healthy targets are exactly the service's running tasks, and those run the images they
    ran before (the last release's, never the bootstrap image).

    ``expect``: ``unchanged`` (the deploy left the service alone: no service deployment began, the rule did not
    move) or ``redeployed`` (it deployed a new task definition: a service deployment that began after the
    command did ended SUCCESSFUL, on a new revision, and ECS moved production to the other target group).
    """
    copies = regions(aws, assembly)
    before = {}
    for resources in copies:
        now = running(aws, resources.stack.region, resources.cluster, resources.service)
        before[resources.stack.name] = Before(rule_serving(aws, resources), now.task_definition, now.digests)
    began = clock()
    done = run(list(command))
    if done.returncode:
        raise ProbeError(f"{' '.join(command)} exited {done.returncode}")
    for resources in copies:
        found = before[resources.stack.name]
        problem = settle(functools.partial(traffic_problem, aws, resources, found, expect, began), sleep)
        if problem:
            raise ProbeError(f"{where(resources)}: {problem}")
        say(
            f"==> {where(resources)}: {expect}; production traffic where ECS put it, on {', '.join(found.digests)}"
        )


def production_rule(resources: StackResources) -> str:
    """The production listener rule the stack's ECS service names (its physical ID is the rule's ARN)."""
    for service in resources.stack.of_type("AWS::ECS::Service").values():
        for balancer in service["Properties"].get("LoadBalancers", []):
            advanced = balancer.get("AdvancedConfiguration")
            if advanced:
                return resources.physical[next(references(advanced["ProductionListenerRule"]))]
    raise ProbeError(
        f"{where(resources)}: the service has no production listener rule (is it on the ECS engine?)"
    )


def rule_serving(aws: Aws, resources: StackResources) -> set[str]:
    (rule,) = aws.call(
        "elbv2", resources.stack.region, "describe_rules", RuleArns=[production_rule(resources)]
    )["Rules"]
    return serving(rule["Actions"])


def traffic_problem(
    aws: Aws, resources: StackResources, before: Before, expect: str, began: datetime
) -> str | None:
    """What keeps production traffic from being where ECS put it, as ``expect`` says, or None."""
    region = resources.stack.region
    deployment = newest_service_deployment(aws, resources)
    if deployment is None or deployment["status"] != "SUCCESSFUL":
        return f"the newest service deployment is {deployment and deployment['status']}"
    new = deployment["createdAt"] >= began
    if new != (expect == REDEPLOYED):
        return f"a service deployment {'began' if new else 'did not begin'} during the deploy ({expect} expected)"
    groups = rule_serving(aws, resources)
    if (groups != before.rule) != (expect == REDEPLOYED):
        return f"the production rule forwards to {sorted(groups)}, before the deploy {sorted(before.rule)}"
    if len(groups) != 1:
        return f"the production rule forwards to {sorted(groups)}, not one target group"
    (group,) = groups
    health = aws.call("elbv2", region, "describe_target_health", TargetGroupArn=group)[
        "TargetHealthDescriptions"
    ]
    healthy = {t["Target"]["Id"] for t in health if t["TargetHealth"]["State"] == "healthy"}
    now = running(aws, region, resources.cluster, resources.service)
    if not healthy or healthy != set(now.addresses):
        return f"production's target group {group} has healthy {sorted(healthy)}, the service runs {sorted(now.addresses)}"
    if (now.task_definition != before.task_definition) != (expect == REDEPLOYED):
        return f"the service runs {now.task_definition}, before the deploy {before.task_definition}"
    if now.digests != before.digests:
        return f"the service runs {', '.join(now.digests)} where it ran {', '.join(before.digests)}"
    return None


def parse(argv: Sequence[str]) -> tuple[argparse.Namespace, list[str]]:
    """The probe's arguments, and the deploy command: everything after ``--``."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("probe", choices=("first-deployment", "waited", "keeps-traffic"))
    parser.add_argument("assembly", type=Path)
    parser.add_argument(
        "--expect",
        choices=(UNCHANGED, REDEPLOYED),
        help="keeps-traffic: the deploy leaves the service alone, or deploys a new task definition",
    )
    argv = list(argv)
    split = argv.index("--") if "--" in argv else len(argv)
    args, command = parser.parse_args(argv[:split]), argv[split + 1 :]
    traffic = args.probe == "keeps-traffic"
    if (traffic and not (command and args.expect)) or (not traffic and (command or args.expect)):
        parser.error("keeps-traffic, and only it, takes --expect and the deploy command after --")
    return args, command


def main(argv: list[str] | None = None) -> int:
    args, command = parse(sys.argv[1:] if argv is None else argv)

    def probe() -> int:
        assembly, aws = CloudAssembly.read(args.assembly), Aws(aws_client)
        if args.probe == "first-deployment":
            first_deployment(aws, assembly)
        elif args.probe == "waited":
            waited(aws, assembly)
        else:
            keeps_traffic(aws, assembly, command, expect=args.expect)
        return 0

    return one_line_errors(probe)


if __name__ == "__main__":
    sys.exit(main())
