"""Check: a deployment window holds a release at its wave's entry, and overriding it lets the release through.

Production in two waves (eu-west-2, then ap-southeast-1, no bake); Singapore's wave may start only on
29 February, in Asia/Singapore's time: closed on any day the test runs but that one. Deploying it shows that
CodePipeline accepts a Region/City time zone (not how it applies it). Post-deploy hook,
tests/integ/window_hold.py: a release must reach the second wave's entry and wait there (the DeploymentWindow
rule in progress, no action of the stage started, the release still in progress) for ten minutes rather than
fail; overriding the entry condition (OverrideStageCondition) must make it Overridden and let the release
through, and it must then succeed in both regions.

The assertions then wait for each region to answer 200 from a task of a released image.
"""

from __future__ import annotations

from support import assertion_stacks, new_app, release, serves_a_released_image, synthesize

from constructs.settings.deployment_windows import DeploymentWindow

# A window that opens one day in four years: the release always finds it closed (unless run on 29 February).
LEAP_DAY = DeploymentWindow(cron="* * * 29 FEB ? *", timezone="Asia/Singapore")
WINDOW_HOLD = '.venv/bin/python tests/integ/window_hold.py "$ACCEPTANCE_ASSEMBLY"'

app = new_app()
built = release(
    app,
    "window",
    waves=(("eu-west-2",), ("ap-southeast-1",)),
    wave_bake_minutes=0,
    deployment_windows={"ap-southeast-1": LEAP_DAY},
)
asserts = assertion_stacks(app, built)
for region, regional in built.regional_stacks.items():
    serves_a_released_image(asserts[region], regional)

synthesize(app, "Window", built, asserts, post_deploy=(WINDOW_HOLD,))
