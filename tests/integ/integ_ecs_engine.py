"""Check 4, the ECS engine: the hooks run on the first deployment, each release migrates and its wave waits for
ECS's own answer, and after two releases, each followed by a ``cdk deploy``, traffic is where ECS put it.

The release runs on ECS's built-in blue/green (``deployment_engine: ecs``) with a database (the migration hook)
and a test-traffic check (the other hook). What must hold between two steps is checked by post-deploy hooks
(tools/operate/acceptance_probes.py, the operator's credentials), in this order:

1. ``first-deployment``: each service has had one deployment, the create (no source revision), SUCCESSFUL, and
   ECS invoked both hooks' functions in it (AWS/Lambda ``Invocations``);
2. ``make release``, then ``waited``: the execution succeeded; the wave's ``Await-wave-1`` action succeeded only
   after each region's service deployment of this release ended SUCCESSFUL; the migration's task exited 0;
3. ``cdk deploy`` of this app's stacks with one alarm threshold changed (``ACCEPTANCE_VARIANT=alarm``), after an
   odd number of releases (production on the alternate target group, the template still naming blue):
   ``keeps-traffic --expect unchanged``: no service deployment begins, the production rule does not move, its
   target group's healthy targets are the service's running tasks, and they run the released image;
4. ``make release`` and ``waited`` again (ECS moves production back);
5. ``cdk deploy`` with the task's memory changed as well (``ACCEPTANCE_VARIANT=task``): ``--expect
   redeployed``: ECS deploys the new task definition blue/green in the same ``cdk deploy`` (a new service
   deployment, a new revision, production moved to the other target group) with the released image, never
   the bootstrap image, and production is on the target group of the running tasks.

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
    test_stacks,
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


def deploy_variant(variant: str, *, expect: str) -> str:
    """A hook: synthesize this app as ``variant`` beside the test's assembly, then ``cdk deploy`` its stacks under
    test (not its assertion stacks: they run last) while the traffic probe watches.

    The variant is the whole app, assertion stacks included, so that the stacks under test keep the outputs
    the assertion stacks read (a cross-stack reference is an output of the stack it reads from).
    """
    assembly = f'"$ACCEPTANCE_ASSEMBLY-{variant}"'
    synth = (
        f"CDK_OUTDIR={assembly} ACCEPTANCE_VARIANT={variant} .venv/bin/python tests/integ/integ_ecs_engine.py"
    )
    stacks = " ".join(stack.stack_name for stack in test_stacks(built))
    deploy = (
        f"node_modules/.bin/cdk deploy --app {assembly} --require-approval never --concurrency 2 "
        f"--exclusively {stacks}"
    )
    return f"{synth} && {PROBE.format('keeps-traffic')} --expect {expect} -- {deploy}"


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
        deploy_variant("alarm", expect="unchanged"),
        RELEASE,
        PROBE.format("waited"),
        deploy_variant("task", expect="redeployed"),
    ),
)
