"""Status: what runs where. Per region the serving revision and image, last deployment and alarms.

    python tools/status.py [cdk.out]

For every regional copy (staging too): the task definition revision serving
production and the image digest its tasks run, the last deployment with its
result and time, and each alarm that is not OK; then the pipeline's last
executions and the dashboard's URL. A stack that is not deployed is said so.
Without credentials, or with the placeholder account, it refuses with one line.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from pathlib import Path

if __package__ in (None, ""):  # run as a script: make the repository root importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from botocore.exceptions import ClientError

from tools.cloud_assembly import AssemblyError, CloudAssembly, StackArtifact
from tools.operate import AWS_ERRORS, OperatorError, aws_client, check_ready, has_credentials
from tools.patient_aws import Aws
from tools.regional_state import (
    StackResources,
    alarm_states,
    last_deployment,
    pipeline_stack,
    regional_stacks,
    running,
    stack_outputs,
)

EXECUTIONS_SHOWN = 5


def not_deployed(error: ClientError) -> bool:
    return "does not exist" in str(error)


def region_lines(aws: Aws, stack: StackArtifact) -> list[str]:
    try:
        resources = StackResources.read(aws, stack)
    except ClientError as error:
        if not_deployed(error):
            return [f"{stack.name} ({stack.region}): not deployed"]
        raise
    serving = running(aws, stack.region, resources.cluster, resources.service)
    states = alarm_states(aws, resources)
    firing = sorted(name for name, state in states.items() if state != "OK")
    alarms = f"{len(states) - len(firing)} of {len(states)} OK" + "".join(
        f"\n    ! {name}: {states[name]}" for name in firing
    )
    return [
        f"{stack.name} ({stack.region})",
        f"    serving     task definition {serving.task_definition}, {serving.running} task(s), image {serving.digest}",
        f"    deployment  {last_deployment(aws, resources).describe()}",
        f"    alarms      {alarms}",
    ]


def pipeline_lines(aws: Aws, stack: StackArtifact) -> list[str]:
    try:
        resources = StackResources.read(aws, stack)
    except ClientError as error:
        if not_deployed(error):
            return [f"{stack.name} ({stack.region}): not deployed"]
        raise
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
        lines.append(
            f"    {execution['pipelineExecutionId']}  {execution['status']:<11}"
            f"{f' started {started:%Y-%m-%d %H:%M} UTC' if started else ''}"
            f"{f'  source {revision}' if revision else ''}"
        )
    url = stack_outputs(aws, stack).get("DashboardUrl")
    if url:
        lines.append(f"dashboard: {url}")
    return lines


def status(assembly: CloudAssembly, aws: Aws, say: Callable[[str], None] = print) -> int:
    for stack in regional_stacks(assembly.stacks.values()):
        for line in region_lines(aws, stack):
            say(line)
    for line in pipeline_lines(aws, pipeline_stack(assembly.stacks.values())):
        say(line)
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("assembly", nargs="?", default="cdk.out")
    args = parser.parse_args(argv)
    try:
        assembly = CloudAssembly.read(args.assembly)
        check_ready(assembly, credentials=has_credentials())
        return status(assembly, Aws(aws_client))
    except (AssemblyError, OperatorError, *AWS_ERRORS) as error:
        print(f"error: {error}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
