"""`make plan` gives the least time a release takes, phase by phase, stage by stage and wave by wave."""

from __future__ import annotations

import pytest

from tools.plan import time_budget
from tools.plan.release_plan import _describe_traffic, read_plan, render_release_time

# Worked by hand from each configuration (tests/conftest.py), per region, then per wave and stage. Every
# target group checks a new task twice, 15 s apart (constructs/region/blue_green_load_balancer.py): 0.5 min.
# default: canary 10% for 5 min, blue kept 5 min -> 10 + 0.5; one production wave.
# staged: linear 20% every 2 min -> 4 waits of 2 min, blue kept 15 -> 23 + 0.5; staging, then two production
#   waves, each a stage of its own; the first keeps blue 30 minutes for its bake (wave_bake_minutes' default):
#   8 + 30 + 0.5.
# ecs: linear 25% every 2 min -> 3 waits of 2 min, bake 10 -> 16 + 0.5; staging, then two production waves;
#   the first bakes 30 minutes: 6 + 30 + 0.5.
EXPECTED = {
    "default": ([("Deploy_to_Production", 1, 10.5)], "10.5"),
    "staged": (
        [
            ("Deploy_to_Staging", 1, 23.5),
            ("Deploy_to_Production_wave_1", 1, 38.5),
            ("Deploy_to_Production_wave_2", 2, 23.5),
        ],
        "85.5",
    ),
    "ecs": (
        [
            ("Deploy_to_Staging", 1, 16.5),
            ("Deploy_to_Production_wave_1", 1, 36.5),
            ("Deploy_to_Production_wave_2", 2, 16.5),
        ],
        "69.5",
    ),
}


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_release_time_by_stage_and_wave(synth_cache, name):
    synthesized = synth_cache(name)
    plan = read_plan(synthesized.outdir)
    stacks = {stack.name: stack for stack in plan.deploy_order}
    waves, total = EXPECTED[name]
    budget = time_budget.waves(plan, stacks)
    assert [(stage, wave, max(m.minutes for m in members)) for stage, wave, members in budget] == waves
    assert render_release_time(plan)[-1] == f"  Total: {total} min, and what is not counted"
    # The same from the configuration, by the rollout settings' own count.
    rollout = synthesized.config.rollout
    per_region = rollout.traffic_shifting.minimum_shift_minutes + rollout.termination_wait_minutes
    config = synthesized.config
    stages = (1 if config.staging_regions else 0) + len(config.production_waves)
    longer = max(
        config.wave_bake_minutes - rollout.termination_wait_minutes, 0
    )  # a baked wave keeps blue longer
    assert float(total) == (per_region + 0.5) * stages + longer * (len(config.production_waves) - 1)
    for action in plan.deploy_actions:
        baked = action.environment == "production" and action.region in config.baked_regions
        assert action.minimum_minutes == per_region + (longer if baked else 0)


def test_each_figure_names_its_source(default_synth):
    lines = render_release_time(read_plan(default_synth.outdir))
    assert lines[1] == (
        "  Source, build and push: not counted (the upload's event, CodeBuild's queue and provisioning, the docker "
        "build, the pushes to 2 repositories)"
    )
    assert lines[2] == "  Deploy_to_Production wave 1: 10.5 min"
    assert lines[3] == (
        "    eu-west-2: health checks 0.5 [template: 2 checks 15 s apart] + traffic 10 [setting: canary 10%, rest "
        "after 5 min; blue kept 5 min]"
    )
    assert lines[-2].startswith("  Not counted in any wave: tasks starting")


@pytest.mark.parametrize(
    ("config", "minutes"),
    [
        ("CodeDeployDefault.ECSAllAtOnce", 7),
        ("CodeDeployDefault.ECSCanary10Percent15Minutes", 22),
        # 10 steps of 10%, a minute between them and none after the last: 9 minutes.
        ("CodeDeployDefault.ECSLinear10PercentEvery1Minutes", 16),
        ("CodeDeployDefault.ECSLinear10PercentEvery3Minutes", 34),
    ],
)
def test_codedeploys_predefined_configurations_are_counted(config, minutes):
    group = {
        "Properties": {
            "DeploymentConfigName": config,
            "BlueGreenDeploymentConfiguration": {
                "TerminateBlueInstancesOnDeploymentSuccess": {"TerminationWaitTimeInMinutes": 7}
            },
        }
    }
    _, least = _describe_traffic(None, group)
    assert least == minutes
