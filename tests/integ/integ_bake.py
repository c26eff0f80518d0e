"""Check: two waves with a bake between them, and make rollback.

Production in two waves (eu-west-2, then ap-southeast-1); the first bakes 5 minutes, keeping blue with its
deployment alarms watching. Post-deploy hooks:

1. ``make release`` of the sample must succeed: both waves, the bake passing with every alarm OK;
2. tests/integ/alarm_during_bake.py must pass: a second release, during whose bake one of the first wave's
   deployment alarms is set to ALARM, rolls back to blue there, fails in the first wave's stage and never
   reaches the second wave;
3. ``make release`` of a third image must succeed everywhere;
4. ``make rollback`` (``--yes``) must exit 0: it returns both waves to the first release through the
   stage rollback and checks that each region serves that release's image.

The assertions then wait for each region to answer 200 from a task of a released image.
"""

from __future__ import annotations

from support import RELEASE, assertion_stacks, new_app, release, serves_a_released_image, synthesize

BAKE_MINUTES = 5
ALARM_DURING_BAKE = '.venv/bin/python tests/integ/alarm_during_bake.py "$ACCEPTANCE_ASSEMBLY"'
# A third image: the sample with a line added to server.py, so that the rollback has a release to undo.
THIRD = (
    'd=$(mktemp -d) && cp -R sample "$d/source" && echo "# integ_bake: third" >> "$d/source/server.py" && '
    f'{RELEASE} --source "$d/source"'
)
ROLLBACK = '.venv/bin/python tools/operate/rollback.py "$ACCEPTANCE_ASSEMBLY" --yes'

app = new_app()
built = release(app, "bake", waves=(("eu-west-2",), ("ap-southeast-1",)), wave_bake_minutes=BAKE_MINUTES)
asserts = assertion_stacks(app, built)
for region, regional in built.regional_stacks.items():
    serves_a_released_image(asserts[region], regional)

synthesize(app, "Bake", built, asserts, post_deploy=(RELEASE, ALARM_DURING_BAKE, THIRD, ROLLBACK))
