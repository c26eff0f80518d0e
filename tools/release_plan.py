"""The release plan of a synthesized app, read from cdk.out alone: a table and a Mermaid diagram.

    python tools/release_plan.py [cdk.out] [--mermaid FILE]

What it shows is what will deploy: pipeline stages in order; for every deploy
action its region, run order (wave), CodeDeploy application and deployment
group, traffic shifting and the stack that owns them; the stacks in deploy
order with their account and region.
"""

from __future__ import annotations

import argparse
import re
import sys
from dataclasses import dataclass
from pathlib import Path

if __package__ in (None, ""):  # run as a script: make the repository root importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tools.cloud_assembly import AssemblyError, CloudAssembly, StackArtifact

_PREDEFINED = re.compile(
    r"^CodeDeployDefault\.ECS(?:(AllAtOnce)|(Canary|Linear)(\d+)Percent(?:Every)?(\d+)Minutes?)$"
)


@dataclass(frozen=True)
class DeployAction:
    stage: str
    name: str
    region: str
    run_order: int
    application: str
    deployment_group: str
    traffic: str
    stack: str


@dataclass(frozen=True)
class Stage:
    name: str
    actions: tuple[str, ...]  # "name [provider]"


@dataclass(frozen=True)
class ReleasePlan:
    pipeline_stack: StackArtifact
    stages: tuple[Stage, ...]
    deploy_actions: tuple[DeployAction, ...]
    deploy_order: tuple[StackArtifact, ...]


def _pipeline_stack(assembly: CloudAssembly) -> tuple[StackArtifact, dict]:
    found = [
        (s, r) for s in assembly.stacks.values() for r in s.of_type("AWS::CodePipeline::Pipeline").values()
    ]
    if len(found) != 1:
        raise AssemblyError(
            f"expected one pipeline in {assembly.directory}, found {len(found)}; run `make synth`"
        )
    return found[0]


def _describe_traffic(stack: StackArtifact, group: dict) -> str:
    properties = group["Properties"]
    config = properties.get("DeploymentConfigName", "CodeDeployDefault.ECSAllAtOnce")
    if isinstance(config, dict):
        routing = stack.resources[config["Ref"]]["Properties"]["TrafficRoutingConfig"]
        kind = routing["Type"].removeprefix("TimeBased")
        step = routing[routing["Type"]]
        percentage = step.get("CanaryPercentage", step.get("LinearPercentage"))
        minutes = step.get("CanaryInterval", step.get("LinearInterval"))
        shift = _shift(kind, percentage, minutes)
    else:
        match = _PREDEFINED.match(config)
        shift = config if not match else ("all at once" if match[1] else _shift(match[2], match[3], match[4]))
    wait = properties["BlueGreenDeploymentConfiguration"]["TerminateBlueInstancesOnDeploymentSuccess"]
    return f"{shift}; blue kept {wait.get('TerminationWaitTimeInMinutes', 0)} min"


def _shift(kind: str, percentage: object, minutes: object) -> str:
    if kind == "Canary":
        return f"canary {percentage}%, rest after {minutes} min"
    return f"linear {percentage}% every {minutes} min"


def _name(assembly: CloudAssembly, value: object) -> tuple[str, str | None]:
    """A CodeDeploy name as the pipeline holds it, and the stack that owns it if the pipeline says."""
    if isinstance(value, str):
        return value, None
    output = value["Fn::GetStackOutput"]
    stack = assembly.stacks[output["StackName"]]
    reference = stack.template["Outputs"][output["OutputName"]]["Value"]
    return f"(generated) {reference['Ref']}", stack.name


def _owning_stack(
    assembly: CloudAssembly, group_name: str, named_by: str | None, region: str
) -> tuple[StackArtifact, dict]:
    """The stack and deployment group a deploy action targets: the stack the pipeline names, else by name."""
    candidates = [assembly.stacks[named_by]] if named_by else list(assembly.stacks.values())
    for stack in candidates:
        for lid, group in stack.of_type("AWS::CodeDeploy::DeploymentGroup").items():
            properties = group["Properties"]
            if stack.region == region and group_name in (
                properties.get("DeploymentGroupName"),
                f"(generated) {lid}",
            ):
                return stack, group
    raise AssemblyError(
        f"no stack in {assembly.directory} owns deployment group {group_name}; run `make synth`"
    )


def read_plan(directory: str | Path = "cdk.out") -> ReleasePlan:
    assembly = CloudAssembly.read(directory)
    pipeline_stack, pipeline = _pipeline_stack(assembly)
    stages, deploy_actions = [], []
    for stage in pipeline["Properties"]["Stages"]:
        names = []
        for action in stage["Actions"]:
            provider = action["ActionTypeId"]["Provider"]
            names.append(f"{action['Name']} [{provider}]")
            if provider != "CodeDeployToECS":
                continue
            region = action.get("Region", pipeline_stack.region)
            application, _ = _name(assembly, action["Configuration"]["ApplicationName"])
            group_name, named_by = _name(assembly, action["Configuration"]["DeploymentGroupName"])
            stack, group = _owning_stack(assembly, group_name, named_by, region)
            deploy_actions.append(
                DeployAction(
                    stage=stage["Name"],
                    name=action["Name"],
                    region=region,
                    run_order=action.get("RunOrder", 1),
                    application=application,
                    deployment_group=group_name,
                    traffic=_describe_traffic(stack, group),
                    stack=stack.name,
                )
            )
        stages.append(Stage(stage["Name"], tuple(names)))
    return ReleasePlan(pipeline_stack, tuple(stages), tuple(deploy_actions), tuple(assembly.deploy_order()))


def render_table(plan: ReleasePlan) -> str:
    pipeline = plan.pipeline_stack
    lines = [f"Release pipeline in {pipeline.name} ({pipeline.account}/{pipeline.region})", "", "Stages:"]
    lines += [
        f"  {n}. {stage.name}: {', '.join(stage.actions)}" for n, stage in enumerate(plan.stages, start=1)
    ]
    columns = (
        "Stage",
        "Action",
        "Region",
        "Wave",
        "Application",
        "Deployment group",
        "Traffic shifting",
        "Stack",
    )
    rows = [
        (a.stage, a.name, a.region, str(a.run_order), a.application, a.deployment_group, a.traffic, a.stack)
        for a in plan.deploy_actions
    ]
    widths = [max(len(row[i]) for row in (columns, *rows)) for i in range(len(columns))]
    lines += ["", "Deploy actions:"]
    for row in (columns, tuple("-" * w for w in widths), *rows):
        lines.append(
            "  " + "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip()
        )
    lines += ["", "Stacks in deploy order:"]
    lines += [f"  {n}. {s.name} ({s.account}/{s.region})" for n, s in enumerate(plan.deploy_order, start=1)]
    return "\n".join(lines) + "\n"


def _node(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9_]", "_", text)


def render_mermaid(plan: ReleasePlan) -> str:
    """Pipeline stages, the parallel deploys of each stage by wave, and the regional stacks they deploy to."""
    lines = ["flowchart LR"]
    previous = None
    actions_by_stage: dict[str, list[DeployAction]] = {}
    for action in plan.deploy_actions:
        actions_by_stage.setdefault(action.stage, []).append(action)
    for stage in plan.stages:
        stage_node = _node(stage.name)
        if stage.name in actions_by_stage:
            lines.append(f'  subgraph {stage_node}["{stage.name}"]')
            for action in actions_by_stage[stage.name]:
                action_node = _node(f"{stage.name}_{action.name}")
                lines.append(f'    {action_node}["{action.name}<br/>wave {action.run_order}"]')
            lines.append("  end")
        else:
            lines.append(f'  {stage_node}["{stage.name}"]')
        if previous:
            lines.append(f"  {previous} --> {stage_node}")
        previous = stage_node
    for stage_name, actions in actions_by_stage.items():
        for action in actions:
            stack = next(s for s in plan.deploy_order if s.name == action.stack)
            lines.append(
                f'  {_node(f"{stage_name}_{action.name}")} --> {_node(stack.name)}[("{stack.name}<br/>{stack.region}")]'
            )
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("assembly", nargs="?", default="cdk.out")
    parser.add_argument("--mermaid", metavar="FILE", help="also write the Mermaid diagram to FILE")
    args = parser.parse_args(argv)
    try:
        plan = read_plan(args.assembly)
    except AssemblyError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    print(render_table(plan), end="")
    if args.mermaid:
        Path(args.mermaid).parent.mkdir(parents=True, exist_ok=True)
        Path(args.mermaid).write_text(render_mermaid(plan))
        print(f"\nDiagram written to {args.mermaid}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
