"""Check 8, one account per jurisdiction: the pipeline in the account under test (the tools account), both
production regions in PRODUCTION_ACCOUNT, the hosted zone in ZONE_ACCOUNT. Run only with both accounts and a
hosted zone of ZONE_ACCOUNT (make acceptance PRODUCTION_ACCOUNT=... ZONE_ACCOUNT=... HOSTED_ZONE_ID=...
HOSTED_ZONE_NAME=..., ACCOUNT_PROFILES naming a profile for each of the two).

Before the first deploy, make acceptance bootstraps both accounts as make bootstrap does: trusting the tools
account, with the app's own execution policies, so every stack there deploys with only those. The regional
stacks' certificates are validated, and their records written, through the DNS stack's record writers in
ZONE_ACCOUNT; the Singapore stack's artifacts go through the tools account's artifact store there.

Post-deploy hooks: ``make release`` of the sample, across accounts (the build pushes into the production
account's repositories by digest and reads its task definitions through the reader roles; the deploy actions
run as roles of the production account), which must succeed; then the unhealthy release, which must fail in
the production stage (as in integ_rollback). The assertions: in the tools account, the pipeline's newest
execution is the automated rollback, and it succeeds; then, in each region of the production account, the
region answers 200 from a task of a released image of its own repository by digest, and over HTTPS on its
own name and on the shared one.
"""

from __future__ import annotations

import aws_cdk as cdk
from support import (
    RELEASE,
    SNAPSHOT_ZONE_ACCOUNT,
    UNHEALTHY,
    answers_on_its_names,
    assertion_stacks,
    domain,
    new_app,
    production_account,
    release,
    serves_a_released_image,
    synthesize,
    waits_for_the_rollback,
    zone_account,
)

app = new_app()
built = release(
    app,
    "accounts",
    region_accounts=tuple((region, production_account()) for region in ("eu-west-2", "ap-southeast-1")),
    domain=domain("acc"),
    hosted_zone_account=zone_account() or SNAPSHOT_ZONE_ACCOUNT,
)
asserts = assertion_stacks(app, built)
config = built.config
# The pipeline's checks run where it is: the tools account's home region.
checks_pipeline = cdk.Stack(
    app,
    f"{config.app_name}-assert-pipeline",
    env=cdk.Environment(account=config.account, region=config.home_region),
)
checks_pipeline.add_stack_dependency(built.pipeline_stack, "checks the pipeline's executions")
finished = waits_for_the_rollback(checks_pipeline, built)
for region, regional in built.regional_stacks.items():
    asserts[region].add_stack_dependency(checks_pipeline, "checks the region once the rollback has ended")
    serves_a_released_image(asserts[region], regional)
    answers_on_its_names(asserts[region], regional, region)

synthesize(
    app,
    "Accounts",
    built,
    asserts,
    post_deploy=(RELEASE, UNHEALTHY),
    assertion_stack=checks_pipeline,
)
