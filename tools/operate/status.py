"""Status: what runs where. Per region the address, serving revision and image, last deployment and alarms.

    python tools/operate/status.py [cdk.out]

For every regional copy (staging too): its address (the stack's ``ServiceUrl``
output), the task definition revision serving production and the full digest
of the image its tasks run, the last deployment with its result and time, each
alarm that is not OK, and its notification topic's subscriptions with each one
still waiting for confirmation (or gone: SNS deletes a subscription left
unconfirmed for 48 hours); then the pipeline's last executions, whether it is
halted (``make halt``) and why, each deployment window with when it opens and
whether a release waits for it, and the dashboard's URL. A stack that is not deployed is said so. Without credentials,
or with the placeholder account, it refuses with one line.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path

if __package__ in (None, ""):  # run as a script: make the repository root importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from tools.cloud_assembly import CloudAssembly, StackArtifact
from tools.operate.accounts import operator_aws
from tools.operate.aws_access import utc_minute
from tools.operate.cdk_commands import one_line_errors, ready_assembly
from tools.operate.halt import halt_lines
from tools.operate.patient_aws import Aws
from tools.operate.regional_state import (
    StackResources,
    alarm_states,
    last_deployment,
    running,
    service_url,
    stack_outputs,
)
from tools.operate.release_ledger import ledger_line
from tools.operate.release_progress import FINISHED_PIPELINE
from tools.operate.window_waits import window_lines
from tools.plan.plan_model import Stage
from tools.plan.release_plan import plan_of

EXECUTIONS_SHOWN = 5

# Every AWS call the command makes, as IAM actions (the tests refuse any other; docs/operating.md lists them).
PERMISSIONS = (
    "cloudformation:DescribeStacks",
    "cloudformation:ListStackResources",
    "cloudwatch:DescribeAlarms",
    "codedeploy:GetDeploymentGroup",
    "codepipeline:GetPipelineState",
    "codepipeline:ListActionExecutions",
    "codepipeline:ListPipelineExecutions",
    "ecs:DescribeServices",
    "ecs:DescribeTasks",
    "ecs:ListServiceDeployments",
    "ecs:ListTasks",
    "sns:ListSubscriptionsByTopic",
)
# What ListSubscriptionsByTopic gives as the ARN of a subscription not confirmed yet, and of one its
# subscriber ended (the unsubscribe link of an email).
PENDING, DELETED = "PendingConfirmation", "Deleted"


def region_lines(aws: Aws, stack: StackArtifact) -> list[str]:
    resources = StackResources.deployed(aws, stack)
    if resources is None:
        return [f"{stack.name} ({stack.region}): not deployed"]
    serving = running(aws, stack.region, resources.cluster, resources.service)
    states = alarm_states(aws, resources)
    firing = sorted(name for name, state in states.items() if state != "OK")
    alarms = f"{len(states) - len(firing)} of {len(states)} OK" + "".join(
        f"\n    ! {name}: {states[name]}" for name in firing
    )
    return [
        f"{stack.name} ({stack.region})",
        f"    address     {service_url(aws, stack)}",
        f"    serving     task definition {serving.task_definition}, {serving.running} task(s)",
        f"    image       {serving.digest}",
        f"    deployment  {last_deployment(aws, resources).describe()}",
        f"    alarms      {alarms}",
        *subscription_lines(aws, resources),
    ]


def subscription_lines(aws: Aws, resources: StackResources) -> list[str]:
    """Each notification topic's subscriptions: how many are confirmed, and each that is not (or is gone)."""
    stack, lines = resources.stack, []
    for topic_id in stack.of_type("AWS::SNS::Topic"):
        arn = resources.physical.get(topic_id)
        if arn is None:
            continue
        found = aws.pages(
            "sns", stack.region, "list_subscriptions_by_topic", "Subscriptions", "NextToken", TopicArn=arn
        )
        confirmed = [s for s in found if s["SubscriptionArn"] not in (PENDING, DELETED)]
        lines.append(f"    topic       {arn.rsplit(':', 1)[-1]}: {len(confirmed)} confirmed subscription(s)")
        for subscription in found:
            shown = f"    ! {subscription['Endpoint']} ({subscription['Protocol']})"
            if subscription["SubscriptionArn"] == PENDING:
                lines.append(
                    f"{shown}: waiting for confirmation (the link in AWS's mail; SNS deletes it after 48 h)"
                )
            elif subscription["SubscriptionArn"] == DELETED:
                lines.append(f"{shown}: unsubscribed by its subscriber")
        listed = {(s["Protocol"], s["Endpoint"]) for s in found}
        for protocol, endpoint in templated_subscriptions(stack, topic_id):
            if (protocol, endpoint) not in listed:
                lines.append(
                    f"    ! {endpoint} ({protocol}): not subscribed: left unconfirmed for 48 h or unsubscribed "
                    "(subscribe it again: docs/observability.md#notifications)"
                )
    return lines


def templated_subscriptions(stack: StackArtifact, topic_id: str) -> list[tuple[str, str]]:
    """(protocol, endpoint) of each subscription the stack's template makes to its topic ``topic_id``."""
    return [
        (properties["Protocol"], properties["Endpoint"])
        for subscription in stack.of_type("AWS::SNS::Subscription").values()
        if (properties := subscription["Properties"]).get("TopicArn") == {"Ref": topic_id}
    ]


def pipeline_lines(
    aws: Aws,
    stack: StackArtifact,
    deploys: Sequence[tuple[str, str, str]] = (),
    stages: Sequence[Stage] = (),
    now: datetime | None = None,
) -> list[str]:
    """The pipeline's last executions (the release ledger: each one's image and, for ``deploys``, (stage,
    action, label) of every deploy action, each region's outcome), whether it is halted, when the deployment
    windows of ``stages`` open (at ``now``) and whether a release waits for one, and the dashboard."""
    now = now or datetime.now(UTC)
    resources = StackResources.deployed(aws, stack)
    if resources is None:
        return [f"{stack.name} ({stack.region}): not deployed"]
    pipeline = resources.one("AWS::CodePipeline::Pipeline")
    executions = aws.call(
        "codepipeline",
        stack.region,
        "list_pipeline_executions",
        pipelineName=pipeline,
        maxResults=EXECUTIONS_SHOWN,
    )["pipelineExecutionSummaries"]
    lines = [f"{pipeline} ({stack.region}): last {len(executions)} execution(s)"]
    for execution in executions:
        revision = next(iter(execution.get("sourceRevisions", ())), {}).get("revisionId", "")
        started = execution.get("startTime")
        # A finished execution's last change is its end (the API calls it lastUpdateTime).
        ended = execution.get("lastUpdateTime") if execution["status"] in FINISHED_PIPELINE else None
        lines.append(
            f"    {execution['pipelineExecutionId']}  {execution['status']:<11}"
            f"{f' started {utc_minute(started)}' if started else ''}"
            f"{f', ended {utc_minute(ended)}' if ended else ''}"
            f"{f'  source {revision}' if revision else ''}"
        )
        if deploys:
            lines.append(ledger_line(aws, stack.region, pipeline, execution, deploys))
    states = aws.call("codepipeline", stack.region, "get_pipeline_state", name=pipeline)["stageStates"]
    lines += halt_lines(states)
    lines += window_lines(stages, states, now)
    url = stack_outputs(aws, stack).get("DashboardUrl")
    if url:
        lines.append(f"dashboard: {url}")
    return lines


def status(
    assembly: CloudAssembly,
    aws: Aws,
    say: Callable[[str], None] = print,
    clock: Callable[[], datetime] = lambda: datetime.now(UTC),
) -> int:
    for stack in assembly.service_stacks():
        for line in region_lines(aws.of(stack.account), stack):
            say(line)
    pipeline = assembly.pipeline()[0]
    plan = plan_of(assembly)
    deploys = [(a.stage, a.name, a.label) for a in plan.deploy_actions]
    for line in pipeline_lines(aws.of(pipeline.account), pipeline, deploys, plan.stages, clock()):
        say(line)
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("assembly", nargs="?", default="cdk.out")
    args = parser.parse_args(argv)

    def run() -> int:
        assembly = ready_assembly(args.assembly)
        return status(assembly, operator_aws(assembly, os.environ))

    return one_line_errors(run)


if __name__ == "__main__":
    sys.exit(main())
