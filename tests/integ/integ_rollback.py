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

from aws_cdk.integ_tests_alpha import AwsApiCall
from support import (
    POLL,
    RELEASE,
    ROLLBACK_SETTLE,
    SETTLE,
    assertion_stacks,
    new_app,
    release,
    serves_a_released_image,
    synthesize,
    whole,
)

# The hook holds only when this release's execution ends Failed in the production stage (make release's summary
# and stage lines), not when it fails for another reason (credentials, the upload, a build that never reaches
# the stage that rolls back).
UNHEALTHY = (
    f'out=$({RELEASE} --source tests/integ/unhealthy_release 2>&1); status=$?; echo "$out"; '
    '[ "$status" -ne 0 ] && grep -Eq "^==> pipeline execution .*: Failed$" <<<"$out" '
    '&& grep -Eq "stage Deploy_to_Production: Failed$" <<<"$out"'
)

app = new_app()
built = release(app, "rollback")
asserts = assertion_stacks(app, built)
home = asserts[built.config.home_region]
pipeline_name = built.pipeline_stack.release_pipeline.pipeline.pipeline_name


def newest_execution(construct_id: str) -> AwsApiCall:
    return AwsApiCall(
        home,
        construct_id,
        service="CodePipeline",
        api="ListPipelineExecutions",
        parameters={"pipelineName": pipeline_name, "maxResults": 1},
    )


rollback = newest_execution("RollbackStarted")
rollback.assert_at_path("pipelineExecutionSummaries.0.trigger.triggerType", whole("AutomatedRollback"))
rollback.wait_for_assertions(total_timeout=SETTLE, interval=POLL)
finished = newest_execution("RollbackSucceeded")
finished.assert_at_path("pipelineExecutionSummaries.0.status", whole("Succeeded"))
finished.wait_for_assertions(total_timeout=ROLLBACK_SETTLE, interval=POLL)
rollback.next(finished)

for region, regional in built.regional_stacks.items():
    if region == built.config.home_region:
        serves_a_released_image(home, regional, after=finished)
    else:  # its stack deploys after the home region's, whose checks wait for the rollback's end
        asserts[region].add_stack_dependency(home, "checks the region once the rollback has ended")
        serves_a_released_image(asserts[region], regional)

synthesize(app, "Rollback", built, asserts, post_deploy=(RELEASE, UNHEALTHY))
