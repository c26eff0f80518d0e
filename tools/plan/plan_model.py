"""What a release plan is: its stages, deploy actions and stacks, read from cdk.out by release_plan.py.

The plan's readers (the cost estimate, the release command) and release_plan.py itself import these types
from here, so that none of them imports another only for a type.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from constructs.settings.deployment_windows import RULE_PROVIDER, DeploymentWindow, window_of
from tools.cloud_assembly import StackArtifact
from tools.plan import data_stores
from tools.plan.routing_plan import Routing

PRODUCTION = "production"
# A wave's own stage: Deploy_to_<Environment>_wave_<n> (constructs/pipeline/deploy_target.py).
WAVE_STAGE = re.compile(r"_wave_(\d+)$")


@dataclass(frozen=True)
class DeployAction:
    stage: str
    name: str
    region: str
    run_order: int
    engine: str  # codedeploy or ecs
    target: str  # what the action deploys: its kind and construct path (described_target)
    traffic: str
    stack: str
    # The least a deployment takes: traffic shifting plus keeping blue (codedeploy) or the bake time (ecs).
    minimum_minutes: int = 0
    # The wave: the rank of its run order among its stage's deploy actions (the ECS engine runs a wait for
    # each wave's deployments between them, so its waves are at run orders 1, 3, 5...).
    wave: int = 0

    @property
    def environment(self) -> str:
        """``production``, ``staging``: the stage it is in (``Deploy_to_<Environment>[_wave_<n>]``)."""
        return environment_of(self.stage)

    @property
    def label(self) -> str:
        """The copy it deploys: its region, after its environment unless production (``staging eu-west-1``)."""
        return self.region if self.environment == PRODUCTION else f"{self.environment} {self.region}"


def environment_of(stage: str) -> str:
    """The environment a deploy stage releases to: ``Deploy_to_Production_wave_2`` -> ``production``."""
    return WAVE_STAGE.sub("", stage.removeprefix("Deploy_to_")).lower()


def wave_of_stage(stage: str) -> int | None:
    """The wave a stage of its own holds (``..._wave_<n>``), or None for a stage of every wave."""
    found = WAVE_STAGE.search(stage)
    return int(found.group(1)) if found else None


@dataclass(frozen=True)
class Bake:
    """The bake of a wave but the last: each of its regions keeps blue (the ECS engine: bakes) at least
    ``minutes``, its deployment alarms watching, before the next wave's stage starts."""

    stage: str
    wave: int
    minutes: int
    regions: tuple[str, ...]


@dataclass(frozen=True)
class Stage:
    name: str
    actions: tuple[str, ...]  # "name [provider]"
    window: DeploymentWindow | None = None  # its entry condition's deployment window

    @classmethod
    def of(cls, stage: dict, actions: tuple[str, ...]) -> Stage:
        """A stage of the pipeline resource, with the DeploymentWindow rule of its entry condition, if any."""
        rules = [
            rule
            for condition in stage.get("BeforeEntry", {}).get("Conditions", ())
            for rule in condition.get("Rules", ())
            if rule["RuleTypeId"]["Provider"] == RULE_PROVIDER
        ]
        return cls(stage["Name"], actions, window_of(rules[0]["Configuration"]) if rules else None)


@dataclass(frozen=True)
class ReleasePlan:
    pipeline_stack: StackArtifact
    stages: tuple[Stage, ...]
    deploy_actions: tuple[DeployAction, ...]
    deploy_order: tuple[StackArtifact, ...]
    data_stores: tuple[data_stores.DataStore, ...] = ()
    routing: Routing | None = None
    execution_mode: str = "QUEUED"  # the pipeline's ExecutionMode
    bakes: tuple[Bake, ...] = ()
