"""`make plan`'s release time budget: the least each phase of a release takes, and where each figure comes from.

Every figure has a source: ``[setting]`` (the configuration: traffic shifting, keeping blue or the ECS bake
time, which a baked wave's regions stretch to ``wave_bake_minutes``) or ``[template]`` (the synthesized
stacks: a new task is healthy after ``HealthyThresholdCount`` passing health checks ``HealthCheckIntervalSeconds``
apart, counted here as that many intervals; ELB does not say when the first check runs after a target
registers, so it is an estimate of the template's figures). AWS documents no duration
for the others (the source's event, CodeBuild's queue and provisioning, the docker build and pushes, Fargate
starting tasks and pulling the image, the hooks), so they are named, not counted: ``make status`` shows each
release's start and end on a real account.
"""

from __future__ import annotations

from dataclasses import dataclass

from tools.cloud_assembly import StackArtifact
from tools.plan.plan_model import PRODUCTION, DeployAction, ReleasePlan, environment_of, wave_of_stage

TARGET_GROUP = "AWS::ElasticLoadBalancingV2::TargetGroup"
# ELB's defaults where a target group does not set them (ELB user guide, "Health checks for your target
# groups": HealthCheckIntervalSeconds 30 for an instance or IP target, HealthyThresholdCount 5).
DEFAULT_INTERVAL_SECONDS, DEFAULT_HEALTHY_THRESHOLD = 30, 5
NOT_COUNTED_BEFORE = "the upload's event, CodeBuild's queue and provisioning, the docker build, the pushes"
NOT_COUNTED_IN_WAVES = (
    "tasks starting (Fargate's launch, the image pull) and the hooks (test-traffic check, migration)"
)


@dataclass(frozen=True)
class RegionBudget:
    action: DeployAction
    health_seconds: int  # about until a new task is healthy: checks x interval

    @property
    def minutes(self) -> float:
        return self.health_seconds / 60 + self.action.minimum_minutes


def _slowest(stack: StackArtifact) -> tuple[int, int] | None:
    """(checks, seconds between them) of the stack's target group that takes longest to call a target healthy."""
    found = [
        (
            group["Properties"].get("HealthyThresholdCount", DEFAULT_HEALTHY_THRESHOLD),
            group["Properties"].get("HealthCheckIntervalSeconds", DEFAULT_INTERVAL_SECONDS),
        )
        for group in stack.of_type(TARGET_GROUP).values()
    ]
    return max(found, key=lambda pair: pair[0] * pair[1]) if found else None


def health_seconds(stack: StackArtifact) -> int:
    """About the seconds until a new target is healthy in the stack's slowest target group."""
    slowest = _slowest(stack)
    return slowest[0] * slowest[1] if slowest else 0


def checks(stack: StackArtifact) -> str:
    slowest = _slowest(stack)
    return f"{slowest[0]} checks {slowest[1]} s apart" if slowest else "no target group"


def figure(minutes: float) -> str:
    """Minutes as the plan prints them: whole where they are, else to a tenth."""
    return f"{minutes:g}" if minutes == int(minutes) else f"{minutes:.1f}"


def waves(plan: ReleasePlan, stacks: dict[str, StackArtifact]) -> list[tuple[str, int, list[RegionBudget]]]:
    """(stage, wave, each region's budget) in release order."""
    found = []
    for stage in plan.stages:
        actions = [a for a in plan.deploy_actions if a.stage == stage.name]
        for wave in sorted({a.wave for a in actions}):
            members = [RegionBudget(a, health_seconds(stacks[a.stack])) for a in actions if a.wave == wave]
            found.append((stage.name, wave, members))
    return found


def render(plan: ReleasePlan, stacks: dict[str, StackArtifact]) -> list[str]:
    """The budget: each wave with its regions' phases, each bake, what is not counted, and the total."""
    bakes = {(bake.stage, bake.wave): bake for bake in plan.bakes}
    repositories = len(plan.deploy_actions)  # each copy has its own repository
    lines = [
        "Release time, at least, phase by phase ([setting]: your configuration; [template]: the synthesized "
        "stacks; AWS documents no duration for what is not counted, so make status shows each release's start "
        "and end):",
        f"  Source, build and push: not counted ({NOT_COUNTED_BEFORE} to {repositories} repositories)",
    ]
    total = 0.0
    approvals = [stage.name for stage in plan.stages if any(a.endswith("[Manual]") for a in stage.actions)]
    windows = {stage.name: stage.window for stage in plan.stages if stage.window}
    for stage, wave, members in waves(plan, stacks):
        if approvals and environment_of(stage) == PRODUCTION:
            lines.append(f"  {approvals.pop()}: not counted (the time a person takes to approve)")
        if stage in windows:
            lines.append(
                f"  {stage}'s entry: not counted (a release reaching it outside its window, {windows.pop(stage)} "
                "[setting: deployment_windows], waits there until it opens)"
            )
        slowest = max(member.minutes for member in members)
        total += slowest
        where = stage if wave_of_stage(stage) else f"{stage} wave {wave}"
        lines.append(f"  {where}: {figure(slowest)} min")
        for member in members:
            action, stack = member.action, stacks[member.action.stack]
            lines.append(
                f"    {action.region}: health checks {figure(member.health_seconds / 60)} [template: "
                f"{checks(stack)}] + traffic {action.minimum_minutes} [setting: {action.traffic}]"
            )
        bake = bakes.get((stage, wave))
        if bake:
            lines.append(
                f"    its bake: each region keeps blue at least {bake.minutes} min, its alarms watching, before the "
                "next wave [setting: wave_bake_minutes; counted above]"
            )
    lines.append(f"  Not counted in any wave: {NOT_COUNTED_IN_WAVES}")
    lines.append(f"  Total: {figure(total)} min, and what is not counted")
    return lines
