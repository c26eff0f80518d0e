"""Bakes between production waves: each wave is a stage, and each wave but the last bakes inside its deployments.

With more than one production wave, each wave is a stage of its own (``Deploy_to_Production_wave_<n>``), and
the regions of every wave but the last keep blue (the ECS engine: bake) at least ``wave_bake_minutes`` after
their traffic has shifted, their deployment alarms watching: an alarm rolls the region back to blue at once
and fails its deployment, so the wave's stage fails and the next wave never starts.
"""

from __future__ import annotations

import pytest
from template_queries import only, production_stages
from test_config import config_error, from_context

from constructs.settings import release_config
from constructs.settings.rollout_settings import WAVE_BAKE_METADATA
from constructs.settings.supported_regions import supported_regions
from tools.plan.release_plan import read_plan, render_release_time


def deploy_stages(synthesized) -> list[dict]:
    return production_stages(synthesized.pipeline)


def kept_minutes(synthesized, stack: str) -> int:
    """How long a regional stack's deployments keep blue: CodeDeploy's termination wait, or ECS's bake time."""
    template = synthesized.templates[stack]
    if synthesized.config.rollout.engine == "codedeploy":
        _, group = only(template, "AWS::CodeDeploy::DeploymentGroup")
        configuration = group["Properties"]["BlueGreenDeploymentConfiguration"]
        return configuration["TerminateBlueInstancesOnDeploymentSuccess"]["TerminationWaitTimeInMinutes"]
    _, service = only(template, "AWS::ECS::Service")
    return service["Properties"]["DeploymentConfiguration"]["BakeTimeInMinutes"]


@pytest.mark.parametrize("name", ["staged", "ecs"])
def test_each_wave_is_a_stage_and_each_but_the_last_keeps_blue_for_the_bake(synth_cache, name):
    synthesized = synth_cache(name)
    config = synthesized.config
    waves = config.production_waves
    assert [s["Name"] for s in deploy_stages(synthesized)] == [
        f"Deploy_to_Production_wave_{n}" for n in range(1, len(waves) + 1)
    ]
    for stage, wave in zip(deploy_stages(synthesized), waves, strict=True):
        assert stage["OnFailure"] == {"Result": "ROLLBACK"}
        deploys = [a for a in stage["Actions"] if a["Name"].startswith("Deploy-")]
        assert sorted(a.get("Region", config.home_region) for a in deploys) == sorted(wave)
        # The deployments bake: nothing but the deploys and (ECS engine) the waits for them.
        assert {a["Name"] for a in stage["Actions"]} - {a["Name"] for a in deploys} <= {
            a["Name"] for a in stage["Actions"] if a["Name"].startswith("Await-wave-")
        }
    configured = config.rollout.termination_wait_minutes
    assert configured < config.wave_bake_minutes == 30
    for region in waves[0]:
        assert kept_minutes(synthesized, f"{config.app_name}-{region}") == 30
    for region in waves[-1]:
        assert kept_minutes(synthesized, f"{config.app_name}-{region}") == configured
    for region in config.staging_regions:  # staging is one stage, never baked
        assert kept_minutes(synthesized, f"{config.app_name}-staging-{region}") == configured
    _, pipeline = only(synthesized.pipeline, "AWS::CodePipeline::Pipeline")
    assert pipeline["Metadata"][WAVE_BAKE_METADATA] == 30


def test_one_wave_keeps_one_production_stage_and_no_bake(default_synth):
    (stage,) = deploy_stages(default_synth)
    assert stage["Name"] == "Deploy_to_Production"
    _, pipeline = only(default_synth.pipeline, "AWS::CodePipeline::Pipeline")
    assert WAVE_BAKE_METADATA not in pipeline.get("Metadata", {})
    assert read_plan(default_synth.outdir).bakes == ()


# No bake with wave_bake_minutes 0: tests/test_integ_apps.py checks it on integ_window's synthesized app.


def test_a_longer_keep_blue_is_not_shortened_by_a_shorter_bake():
    config = from_context(
        waves="eu-west-2;ap-southeast-1", wave_bake_minutes="5", termination_wait_minutes="20"
    )
    assert config.baked_regions == ("eu-west-2",)
    assert config.rollout_for("eu-west-2").termination_wait_minutes == 20
    longer = from_context(waves="eu-west-2;ap-southeast-1", wave_bake_minutes="45")
    assert longer.rollout_for("eu-west-2").termination_wait_minutes == 45
    assert longer.rollout_for("eu-west-2", staging=True).termination_wait_minutes == 5
    assert longer.rollout_for("ap-southeast-1").termination_wait_minutes == 5


@pytest.mark.parametrize(
    ("name", "lines", "total"),
    [
        # staged: wave 1 keeps blue 30 instead of 15: 0.5 + 8 + 30; staging and wave 2: 23.5 each.
        ("staged", ["  Deploy_to_Production_wave_1: 38.5 min"], "85.5"),
        # ecs: wave 1 bakes 30 instead of 10: 0.5 + 6 + 30; staging and wave 2: 16.5 each.
        ("ecs", ["  Deploy_to_Production_wave_1: 36.5 min"], "69.5"),
    ],
)
def test_make_plan_counts_the_bake_in_the_waves_time(synth_cache, name, lines, total):
    shown = render_release_time(read_plan(synth_cache(name).outdir))
    for line in lines:
        assert line in shown
    assert (
        "    its bake: each region keeps blue at least 30 min, its alarms watching, before the next wave "
        "[setting: wave_bake_minutes; counted above]"
    ) in shown
    assert shown[-1] == f"  Total: {total} min, and what is not counted"


def test_on_the_ecs_engine_a_bake_beyond_the_actions_hour_is_refused_naming_the_room():
    # The room: 60 (the ECS action) - 10 (tasks starting and checked) - 5 (the default canary's shift) = 45.
    assert config_error(
        deployment_engine="ecs", waves="eu-west-2;ap-southeast-1", wave_bake_minutes="55"
    ) == (
        "wave_bake_minutes: 55 is not allowed; with deployment_engine ecs a wave bakes inside its deployment, which "
        "CodePipeline's ECS action may wait for, 60 minutes at most: at most 45 here (0 turns bakes off)"
    )


def test_on_codedeploy_a_bake_the_deployment_could_not_end_with_is_refused_naming_the_bake():
    refusal = config_error(
        waves="eu-west-2;ap-southeast-1",
        wave_bake_minutes="720",
        traffic_shifting="linear",
        traffic_percentage="1",
        traffic_interval_minutes="65",
    )
    assert refusal.startswith(
        "wave_bake_minutes: 720 is not allowed; a baked wave's deployments would fail: "
    )


def test_a_bake_without_waves_is_refused_rather_than_ignored():
    assert config_error(wave_bake_minutes="45") == (
        "wave_bake_minutes: 45 is not allowed; a bake comes between waves, and production is one wave: set waves "
        "too, or leave wave_bake_minutes out"
    )
    assert from_context(wave_bake_minutes="0").baked_regions == ()


def test_on_the_ecs_engine_a_wave_too_wide_for_one_stage_with_its_waits_is_refused(monkeypatch):
    """Every supported region fits (30 deploys and 10 waits); with a wait per region, 26 would not."""
    others = [r for r in supported_regions() if r != "eu-west-2"]
    every = from_context(deployment_engine="ecs", extra_regions=",".join(others))
    assert len(every.regions) == 30
    monkeypatch.setattr(release_config, "AWAITED_PER_ACTION", 1)
    refusal = config_error(deployment_engine="ecs", extra_regions=",".join(others[:25]))
    assert refusal.startswith("extra_regions: [")
    assert refusal.endswith(
        "with deployment_engine ecs a wave of 26 regions makes 52 actions (a deploy per region and a wait per 1); "
        "one CodePipeline stage holds at most 50: split the regions into waves"
    )
