"""The release plan of a synthesized app, read from cdk.out alone: a table and a Mermaid diagram.

    python tools/plan/release_plan.py [cdk.out] [--mermaid FILE] [--svg FILE]

What it shows is what will deploy: pipeline stages in order; for every deploy
action its region, run order (wave), engine, what it deploys (``codedeploy``:
the CodeDeploy deployment group; ``ecs``: the ECS service; each by its kind and
construct path), traffic shifting and the stack that owns them; which
locations each production region serves (tools/plan/routing_plan.py); the stacks in
deploy order with their account and region; and each stack's data stores,
where their data lives and whether anything sends it elsewhere
(tools/plan/data_stores.py). ``--mermaid`` and ``--svg`` draw it (``make plan``
writes them under cdk.out/, ``make plan-diagram`` the repository's
docs/release-plan.*).
"""

from __future__ import annotations

import argparse
import re
import sys
from dataclasses import replace
from pathlib import Path

if __package__ in (None, ""):  # run as a script: make the repository root importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from constructs.settings.rollout_settings import WAVE_BAKE_METADATA, TrafficShifting
from tools.cloud_assembly import AssemblyError, CloudAssembly, StackArtifact
from tools.plan import data_stores, time_budget
from tools.plan.cost_estimate import render_cost
from tools.plan.plan_model import (
    PRODUCTION,
    Bake,
    DeployAction,
    ReleasePlan,
    Stage,
    environment_of,
    wave_of_stage,
)
from tools.plan.routing_plan import render as render_routing
from tools.plan.routing_plan import routing_of

CODEDEPLOY_GROUP, ECS_SERVICE = "AWS::CodeDeploy::DeploymentGroup", "AWS::ECS::Service"
# What each engine's deploy action targets: (its kind, as the plan names it; its name property).
TARGETS = {
    CODEDEPLOY_GROUP: ("deployment group", "DeploymentGroupName"),
    ECS_SERVICE: ("ECS service", "ServiceName"),
}
# The production listener's port when it serves plain HTTP (HTTPS moves it to 443 and redirects 80).
PRODUCTION_PORT = 80
_PREDEFINED = re.compile(
    r"^CodeDeployDefault\.ECS(?:(AllAtOnce)|(Canary|Linear)(\d+)Percent(?:Every)?(\d+)Minutes?)$"
)


def _describe_traffic(stack: StackArtifact, group: dict) -> tuple[str, int]:
    """How a deployment group shifts traffic, and the least minutes its deployments take."""
    properties = group["Properties"]
    config = properties.get("DeploymentConfigName", "CodeDeployDefault.ECSAllAtOnce")
    shifting = None
    if isinstance(config, dict):
        routing = stack.resources[config["Ref"]]["Properties"]["TrafficRoutingConfig"]
        kind = routing["Type"].removeprefix("TimeBased")
        step = routing[routing["Type"]]
        percentage = step.get("CanaryPercentage", step.get("LinearPercentage"))
        minutes = step.get("CanaryInterval", step.get("LinearInterval"))
        shift, shifting = _shift(kind, percentage, minutes)
    else:
        match = _PREDEFINED.match(config)
        if not match:
            shift = config
        elif match[1]:
            shift, shifting = "all at once", TrafficShifting(mode="all_at_once")
        else:
            shift, shifting = _shift(match[2], int(match[3]), int(match[4]))
    wait = properties["BlueGreenDeploymentConfiguration"]["TerminateBlueInstancesOnDeploymentSuccess"]
    kept = wait.get("TerminationWaitTimeInMinutes", 0)
    least = (shifting.minimum_shift_minutes if shifting else 0) + kept
    return f"{shift}; blue kept {kept} min", least


def _describe_ecs_traffic(service: dict) -> tuple[str, int]:
    """How an ECS service shifts traffic, and the least minutes its deployments take."""
    configuration = service["Properties"]["DeploymentConfiguration"]
    strategy = configuration["Strategy"]
    shifting = TrafficShifting(mode="all_at_once")
    if strategy == "CANARY":
        steps = configuration["CanaryConfiguration"]
        shift, shifting = _shift("Canary", steps["CanaryPercent"], steps["CanaryBakeTimeInMinutes"])
    elif strategy == "LINEAR":
        steps = configuration["LinearConfiguration"]
        shift, shifting = _shift("Linear", steps["StepPercent"], steps["StepBakeTimeInMinutes"])
    else:
        shift = "all at once"
    bake = configuration["BakeTimeInMinutes"]
    return f"{shift}; bake {bake} min", shifting.minimum_shift_minutes + bake


def _shift(kind: str, percentage: int, minutes: int) -> tuple[str, TrafficShifting]:
    shifting = TrafficShifting(mode=kind.lower(), percentage=percentage, interval_minutes=minutes)
    if kind == "Canary":
        return f"canary {percentage}%, rest after {minutes} min", shifting
    return f"linear {percentage}% every {minutes} min", shifting


def _name(assembly: CloudAssembly, value: object) -> tuple[str, str | None]:
    """A resource's name as the pipeline holds it, and the stack that owns it if the pipeline says."""
    if isinstance(value, str):
        return value, None
    output = value["Fn::GetStackOutput"]
    stack = assembly.stacks[output["StackName"]]
    reference = stack.template["Outputs"][output["OutputName"]]["Value"]
    # {"Ref": id} or, for an ECS service's name, {"Fn::GetAtt": [id, "Name"]}
    logical_id = reference["Ref"] if "Ref" in reference else reference["Fn::GetAtt"][0]
    return f"(generated) {logical_id}", stack.name


def _target(
    assembly: CloudAssembly, value: object, region: str, resource_type: str
) -> tuple[StackArtifact, str, dict]:
    """The resource a deploy action targets (owning stack, logical ID, resource), by the name the pipeline holds.

    The stack the pipeline names (a generated name, read through its output), else the region's stack that
    holds a resource of that name.
    """
    name, named_by = _name(assembly, value)
    candidates = [assembly.stacks[named_by]] if named_by else list(assembly.stacks.values())
    name_property = TARGETS[resource_type][1]
    for stack in candidates:
        for lid, resource in stack.of_type(resource_type).items():
            if stack.region == region and name in (
                resource["Properties"].get(name_property),
                f"(generated) {lid}",
            ):
                return stack, lid, resource
    raise AssemblyError(
        f"no stack in {assembly.directory} owns {TARGETS[resource_type][0]} {name}; run `make synth`"
    )


def described_target(stack: StackArtifact, logical_id: str) -> str:
    """What a deploy action deploys, for a reader: its kind and where it sits in the stack's constructs.

    ``deployment group BlueGreen/DeploymentGroup``, ``ECS service Service/Service``; the logical ID
    without path metadata. The names CloudFormation or CDK generate (``webapp-ap-southeast-1n...a082d1``)
    say neither.
    """
    kind = TARGETS[stack.resources[logical_id]["Type"]][0]
    return f"{kind} {stack.construct_path(logical_id) or logical_id}"


def _deploy_action(assembly: CloudAssembly, stage: str, action: dict, region: str) -> DeployAction | None:
    provider, configuration = action["ActionTypeId"]["Provider"], action["Configuration"]
    if provider == "CodeDeployToECS":
        stack, lid, group = _target(assembly, configuration["DeploymentGroupName"], region, CODEDEPLOY_GROUP)
        engine, (traffic, least) = "codedeploy", _describe_traffic(stack, group)
    elif provider == "ECS":
        stack, lid, service = _target(assembly, configuration["ServiceName"], region, ECS_SERVICE)
        engine, (traffic, least) = "ecs", _describe_ecs_traffic(service)
    else:
        return None
    target = described_target(stack, lid)
    return DeployAction(
        stage=stage,
        name=action["Name"],
        region=region,
        run_order=action.get("RunOrder", 1),
        engine=engine,
        target=target,
        traffic=traffic,
        stack=stack.name,
        minimum_minutes=least,
    )


def read_plan(directory: str | Path = "cdk.out") -> ReleasePlan:
    return plan_of(CloudAssembly.read(directory))


def plan_of(assembly: CloudAssembly) -> ReleasePlan:
    """The release plan of a synthesized app: its stages, each deploy action with the stack it deploys."""
    pipeline_stack, pipeline = assembly.pipeline()
    stages, deploy_actions, waved, bakes = [], [], [], []
    for stage in pipeline["Properties"]["Stages"]:
        names, stage_deploys = [], []
        for action in sorted(stage["Actions"], key=lambda a: a.get("RunOrder", 1)):
            names.append(f"{action['Name']} [{action['ActionTypeId']['Provider']}]")
            region = action.get("Region", pipeline_stack.region)
            deploy_action = _deploy_action(assembly, stage["Name"], action, region)
            if deploy_action:
                stage_deploys.append(deploy_action)
        orders = sorted({a.run_order for a in stage_deploys})
        own_wave = wave_of_stage(stage["Name"])
        deploy_actions += [replace(a, wave=own_wave or orders.index(a.run_order) + 1) for a in stage_deploys]
        if own_wave is not None:
            waved.append((stage["Name"], own_wave, tuple(a.region for a in stage_deploys)))
        stages.append(Stage.of(stage, tuple(names)))
    # A baked wave's regions keep blue (the ECS engine: bake) that long; every production wave but the last.
    bake_minutes = pipeline.get("Metadata", {}).get(WAVE_BAKE_METADATA)
    production_waves = [w for w in waved if environment_of(w[0]) == PRODUCTION]
    if bake_minutes:
        bakes = [Bake(stage, wave, bake_minutes, regions) for stage, wave, regions in production_waves[:-1]]
    production = [assembly.stacks[a.stack] for a in deploy_actions if a.environment == PRODUCTION]
    return ReleasePlan(
        pipeline_stack,
        tuple(stages),
        tuple(deploy_actions),
        tuple(assembly.deploy_order()),
        tuple(data_stores.data_stores(assembly)),
        routing_of(production),
        pipeline["Properties"].get("ExecutionMode", "SUPERSEDED"),  # CodePipeline's default
        tuple(bakes),
    )


def serves_plain_http(stack: StackArtifact) -> bool:
    """Whether the stack's load balancer forwards plain HTTP from the internet (not only redirects it)."""
    return any(
        listener["Properties"].get("Protocol") == "HTTP"
        and listener["Properties"].get("Port") == PRODUCTION_PORT
        and any(action["Type"] == "forward" for action in listener["Properties"].get("DefaultActions", []))
        for listener in stack.of_type("AWS::ElasticLoadBalancingV2::Listener").values()
    )


def render_plain_http(plan: ReleasePlan) -> list[str]:
    """The copies that serve plain HTTP on the internet, said once, or nothing when every copy has HTTPS."""
    plain = [
        action.label
        for action in plan.deploy_actions
        if serves_plain_http(next(s for s in plan.deploy_order if s.name == action.stack))
    ]
    if not plain:
        return []
    return [
        "",
        f"Plain HTTP on the internet (allow_plain_http, for trying the app out; staging copies may): {', '.join(plain)}",
    ]


# How the pipeline handles a release started while another runs (execution_mode; docs/operating.md).
EXECUTION_MODES = {
    "QUEUED": "releases queued",
    "SUPERSEDED": "newer releases supersede waiting ones",
}


def render_table(plan: ReleasePlan) -> str:
    pipeline = plan.pipeline_stack
    lines = [
        f"Release pipeline in {pipeline.name} ({pipeline.account}/{pipeline.region}), "
        f"{EXECUTION_MODES.get(plan.execution_mode, plan.execution_mode)}",
        "",
        "Stages:",
    ]
    lines += [
        f"  {n}. {stage.name}: {', '.join(stage.actions)}"
        + (f"; enters only inside its deployment window, {stage.window}" if stage.window else "")
        for n, stage in enumerate(plan.stages, start=1)
    ]
    columns = (
        "Stage",
        "Action",
        "Region",
        "Wave",
        "Engine",
        "Deploys",
        "Traffic shifting",
        "Stack",
    )
    rows = [
        (a.stage, a.name, a.region, str(a.wave), a.engine, a.target, a.traffic, a.stack)
        for a in plan.deploy_actions
    ]
    widths = [max(len(row[i]) for row in (columns, *rows)) for i in range(len(columns))]
    lines += ["", "Deploy actions:"]
    for row in (columns, tuple("-" * w for w in widths), *rows):
        lines.append(
            "  " + "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip()
        )
    lines += render_plain_http(plan)
    if plan.routing:
        lines += ["", *render_routing(plan.routing)]
    lines += ["", *render_release_time(plan)]
    lines += ["", *render_cost(plan)]
    lines += ["", "Stacks in deploy order:"]
    lines += [f"  {n}. {s.name} ({s.account}/{s.region})" for n, s in enumerate(plan.deploy_order, start=1)]
    return "\n".join(lines) + "\n\n" + data_stores.render(list(plan.data_stores))


def render_release_time(plan: ReleasePlan) -> list[str]:
    """The release's time budget (tools/plan/time_budget.py), from the plan's own stacks."""
    return time_budget.render(plan, {stack.name: stack for stack in plan.deploy_order})


def _node(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9_]", "_", text)


def render_mermaid(plan: ReleasePlan) -> str:
    """Pipeline stages (the way into a stage with a deployment window says so), the parallel deploys of each
    stage by wave, and the regional stacks they deploy to."""
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
                lines.append(f'    {action_node}["{action.name}<br/>wave {action.wave}"]')
            lines.append("  end")
        else:
            lines.append(f'  {stage_node}["{stage.name}"]')
        if previous:
            window = f'|"only inside {stage.window}"|' if stage.window else ""
            lines.append(f"  {previous} -->{window} {stage_node}")
        previous = stage_node
    for stage_name, actions in actions_by_stage.items():
        for action in actions:
            stack = next(s for s in plan.deploy_order if s.name == action.stack)
            lines.append(
                f'  {_node(f"{stage_name}_{action.name}")} --> {_node(stack.name)}[("{stack.name}<br/>{stack.region}")]'
            )
    return "\n".join(lines) + "\n"


_BOX_W, _BOX_H, _COL_GAP, _ROW_H, _MARGIN = 210, 40, 50, 52, 20


def render_svg(plan: ReleasePlan) -> str:
    """The diagram as a standalone SVG: stage columns, their deploy actions, the stacks they deploy to."""
    columns: list[list[str]] = []
    by_stage: dict[str, list[DeployAction]] = {}
    for action in plan.deploy_actions:
        by_stage.setdefault(action.stage, []).append(action)
    for stage in plan.stages:
        actions = by_stage.get(stage.name)
        columns.append([f"{a.name}|wave {a.wave}" for a in actions] if actions else [stage.name])
    stacks = [a.stack for a in plan.deploy_actions]
    columns.append(
        [f"{name}|{next(s.region for s in plan.deploy_order if s.name == name)}" for name in stacks]
    )
    rows = max(len(column) for column in columns)
    width = _MARGIN * 2 + len(columns) * _BOX_W + (len(columns) - 1) * _COL_GAP
    height = _MARGIN * 2 + 24 + rows * _ROW_H

    def box(column: int, row: int, count: int) -> tuple[float, float]:
        top = _MARGIN + 24 + (rows - count) * _ROW_H / 2 + row * _ROW_H
        return _MARGIN + column * (_BOX_W + _COL_GAP), top

    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height:.0f}" '
        f'font-family="sans-serif" font-size="12">',
        f'<rect width="{width}" height="{height:.0f}" fill="white"/>',
    ]
    titles = [stage.name for stage in plan.stages] + ["Stacks"]
    for index, title in enumerate(titles):
        x = _MARGIN + index * (_BOX_W + _COL_GAP) + _BOX_W / 2
        out.append(
            f'<text x="{x:.0f}" y="{_MARGIN + 12}" text-anchor="middle" font-weight="bold">{title}</text>'
        )
    centers: list[list[tuple[float, float]]] = []
    for index, column in enumerate(columns):
        centers.append([])
        for row, label in enumerate(column):
            x, y = box(index, row, len(column))
            fill = "#eef6ff" if index < len(columns) - 1 else "#f3f3f3"
            out.append(
                f'<rect x="{x:.0f}" y="{y:.0f}" width="{_BOX_W}" height="{_BOX_H}" rx="6" fill="{fill}" stroke="#333"/>'
            )
            lines = label.split("|")
            for number, line in enumerate(lines):
                baseline = y + _BOX_H / 2 + 4 + (number - (len(lines) - 1) / 2) * 14
                out.append(
                    f'<text x="{x + _BOX_W / 2:.0f}" y="{baseline:.0f}" text-anchor="middle">{line}</text>'
                )
            centers[-1].append((x, y + _BOX_H / 2))

    def arrow(start: tuple[float, float], end: tuple[float, float]) -> str:
        return (
            f'<line x1="{start[0] + _BOX_W:.0f}" y1="{start[1]:.0f}" x2="{end[0]:.0f}" y2="{end[1]:.0f}" '
            'stroke="#555" marker-end="url(#head)"/>'
        )

    out.insert(
        2,
        '<defs><marker id="head" markerWidth="8" markerHeight="8" refX="8" refY="4" orient="auto">'
        '<path d="M0,0 L8,4 L0,8 z" fill="#555"/></marker></defs>',
    )
    stage_count = len(plan.stages)
    for index in range(stage_count - 1):
        for start in centers[index]:
            for end in centers[index + 1]:
                if len(centers[index]) == 1 or len(centers[index + 1]) == 1:
                    out.append(arrow(start, end))
    row_of_action = 0
    for index in range(stage_count):
        if plan.stages[index].name in by_stage:
            for start in centers[index]:
                out.append(arrow(start, centers[-1][row_of_action]))
                row_of_action += 1
    out.append("</svg>")
    return "\n".join(out) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("assembly", nargs="?", default="cdk.out")
    parser.add_argument("--mermaid", metavar="FILE", help="also write the Mermaid diagram to FILE")
    parser.add_argument("--svg", metavar="FILE", help="also write the diagram as SVG to FILE")
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
    if args.svg:
        Path(args.svg).parent.mkdir(parents=True, exist_ok=True)
        Path(args.svg).write_text(render_svg(plan))
        print(f"Picture written to {args.svg}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
