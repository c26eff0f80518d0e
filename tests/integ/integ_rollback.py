"""Check 3, an alarm-driven rollback: after a good release, a release whose tasks fail every health check
rolls back in every region, CodePipeline's stage rollback runs and succeeds, and each region serves a
released image again.

Post-deploy hooks: ``make release`` of the sample (it must succeed), then of tests/integ/unhealthy_release
(it must fail: its tasks answer 503, the deployment alarms fire and CodeDeploy rolls each region back). The
assertions wait for the pipeline's newest execution to be the automated rollback (``trigger.triggerType``
``AutomatedRollback``, CodePipeline's ListPipelineExecutions) and to succeed, and for each region to answer
200 from a task of a released image (the unhealthy one never answers 200).
"""

from __future__ import annotations

from support import (
    RELEASE,
    UNHEALTHY,
    assertion_stacks,
    new_app,
    release,
    serves_a_released_image,
    synthesize,
    waits_for_the_rollback,
)

app = new_app()
built = release(app, "rollback")
asserts = assertion_stacks(app, built)
home = asserts[built.config.home_region]
finished = waits_for_the_rollback(home, built)
for region, regional in built.regional_stacks.items():
    if region == built.config.home_region:
        serves_a_released_image(home, regional, after=finished)
    else:  # its stack deploys after the home region's, whose checks wait for the rollback's end
        asserts[region].add_stack_dependency(home, "checks the region once the rollback has ended")
        serves_a_released_image(asserts[region], regional)

synthesize(app, "Rollback", built, asserts, post_deploy=(RELEASE, UNHEALTHY))
