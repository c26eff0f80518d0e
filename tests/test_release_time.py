"""`make plan` gives the least time a release takes, stage by stage and wave by wave."""

from __future__ import annotations

import pytest

from tools.plan.release_plan import _describe_traffic, read_plan, release_time, render_release_time

# Worked by hand from each configuration (tests/conftest.py), per region, then per wave and stage:
# default: canary 10% for 5 min, blue kept 5 min -> 10; one production wave.
# staged: linear 20% every 2 min -> 4 waits of 2 min, blue kept 15 -> 23; staging, then two production waves,
#   each a stage of its own, the first baked 30 minutes (wave_bake_minutes' default).
# ecs: linear 25% every 2 min -> 3 waits of 2 min, bake 10 -> 16; staging, then two production waves, the first
#   baked 30 minutes.
EXPECTED = {
    "default": ([("Deploy_to_Production", 1, 10)], 10),
    "staged": (
        [
            ("Deploy_to_Staging", 1, 23),
            ("Deploy_to_Production_wave_1", 1, 23),
            ("Deploy_to_Production_wave_2", 2, 23),
        ],
        69 + 30,
    ),
    "ecs": (
        [
            ("Deploy_to_Staging", 1, 16),
            ("Deploy_to_Production_wave_1", 1, 16),
            ("Deploy_to_Production_wave_2", 2, 16),
        ],
        48 + 30,
    ),
}


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_release_time_by_stage_and_wave(synth_cache, name):
    synthesized = synth_cache(name)
    plan = read_plan(synthesized.outdir)
    waves, total = EXPECTED[name]
    assert [(stage, wave, minutes) for stage, wave, minutes, _ in release_time(plan)] == waves
    assert render_release_time(plan)[-1] == f"  Total: {total} min"
    # The same from the configuration, by the rollout settings' own count.
    rollout = synthesized.config.rollout
    per_region = rollout.traffic_shifting.minimum_shift_minutes + rollout.termination_wait_minutes
    config = synthesized.config
    stages = (1 if config.staging_regions else 0) + len(config.production_waves)
    assert total == per_region * stages + config.wave_bake_minutes * (len(config.production_waves) - 1)
    assert all(a.minimum_minutes == per_region for a in plan.deploy_actions)


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
