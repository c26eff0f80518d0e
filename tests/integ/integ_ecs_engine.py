"""Check 4, the ECS engine: the hooks run on the first deployment, each release migrates and its wave waits for
ECS's own answer, and after two releases, each followed by a ``make deploy``, traffic is where ECS put it.

The release runs on ECS's built-in blue/green (``deployment_engine: ecs``) with a database (the migration hook)
and a test-traffic check (the other hook). What must hold between two steps is checked by post-deploy hooks
(tools/operate/acceptance_probes.py, the operator's credentials), in this order:

1. ``first-deployment``: each service has had one deployment, the create (no source revision), SUCCESSFUL, and
   ECS invoked both hooks' functions in it (AWS/Lambda ``Invocations``);
2. ``make release``, then ``waited``: the execution succeeded; the wave's ``Await-wave-1`` action succeeded only
   after each region's service deployment of this release ended SUCCESSFUL; the migration's task exited 0;
3. ``make deploy`` of this app with one alarm threshold changed (``ACCEPTANCE_VARIANT=alarm``), after an odd
   number of releases (production on the alternate target group, the template still naming blue): the
   production rule does not move, its target group's healthy targets are the service's running tasks, and
   they run the released image;
4. ``make release`` and ``waited`` again (ECS moves production back);
5. ``make deploy`` with the task's memory changed as well (``ACCEPTANCE_VARIANT=task``): ECS deploys the new
   task definition blue/green in the same ``cdk deploy``, with the released image (never the bootstrap
   image), and production ends on the target group of the running tasks.

The assertions then require, in each region, a visit counted (the migration made the table) and an answer
from a task of a released image.
"""

from __future__ import annotations

import os

from support import (
    RELEASE,
    assertion_stacks,
    counts_a_visit,
    new_app,
    release,
    serves_a_released_image,
    synthesize,
)

from constructs.settings.database_settings import DatabaseSettings
from constructs.settings.rollout_settings import AlarmThresholds, RolloutSettings
from constructs.settings.service_settings import ServiceSettings

PROBE = '.venv/bin/python tools/operate/acceptance_probes.py {} "$ACCEPTANCE_ASSEMBLY"'
# Which later `make deploy` this synth is for: each changes what the one before changed, and more.
VARIANT = os.environ.get("ACCEPTANCE_VARIANT", "")
CHANGES = {
    "": {},
    "alarm": {"rollout_alarms": AlarmThresholds(latency_ms=2000)},
    "task": {"rollout_alarms": AlarmThresholds(latency_ms=2000), "service": ServiceSettings(memory_mib=1024)},
}


def deploy_variant(variant: str, *, same_rule: bool) -> str:
    """A hook: synthesize this app as ``variant`` beside the test's assembly, then make deploy it while the
    traffic probe watches."""
    assembly = f'"$ACCEPTANCE_ASSEMBLY-{variant}"'
    synth = (
        f"CDK_OUTDIR={assembly} ACCEPTANCE_VARIANT={variant} .venv/bin/python tests/integ/integ_ecs_engine.py"
    )
    deploy = f".venv/bin/python tools/operate/cdk_commands.py deploy {assembly} --require-approval never"
    watch = PROBE.format("keeps-traffic") + (" --same-rule" if same_rule else "")
    return f"{synth} && {watch} -- {deploy}"


changes = CHANGES[VARIANT]
app = new_app()
built = release(
    app,
    "ecs-engine",
    rollout=RolloutSettings(
        engine="ecs", test_traffic_check_path="/", alarms=changes.get("rollout_alarms", AlarmThresholds())
    ),
    database=DatabaseSettings(engine="aurora-postgresql", migration_command=["python", "migrate.py"]),
    **({"service": changes["service"]} if "service" in changes else {}),
)
if VARIANT:  # only the release's stacks: make deploy deploys every stack of its assembly
    app.synth()
else:
    asserts = assertion_stacks(app, built)
    for region, regional in built.regional_stacks.items():
        visit = counts_a_visit(asserts[region], regional)
        serves_a_released_image(asserts[region], regional, after=visit)
    synthesize(
        app,
        "EcsEngine",
        built,
        asserts,
        post_deploy=(
            PROBE.format("first-deployment"),
            RELEASE,
            PROBE.format("waited"),
            deploy_variant("alarm", same_rule=True),
            RELEASE,
            PROBE.format("waited"),
            deploy_variant("task", same_rule=False),
        ),
    )
