"""Check 1, first create: every stack of a two-region release creates on the account, and each region's
service answers 200 on its address with the bootstrap image, its tasks running.

What no stand-in proves: the first create of every region with the account's own service-linked roles
(``make acceptance`` runs ``make bootstrap``'s role step first only where ``make preflight`` finds a role
missing, and reports that part skipped otherwise), Docker's build of the bootstrap image, the deletion
protection made last, and the load balancer answering.
"""

from __future__ import annotations

from aws_cdk.integ_tests_alpha import AwsApiCall, ExpectedResult, HttpApiCall
from support import POLL, SETTLE, Literal, assertion_stacks, new_app, release, synthesize

app = new_app()
built = release(app, "first-create")
asserts = assertion_stacks(app, built)
for region, regional in built.regional_stacks.items():
    answer = HttpApiCall(asserts[region], "ServiceAnswers", url=regional.service_url)
    answer.expect(ExpectedResult.object_like({"status": 200}))
    answer.wait_for_assertions(total_timeout=SETTLE, interval=POLL)

    # With a path, the check reads that one value of the answer (the handler compares the whole answer
    # only when no path is given, and a flattened answer has no whole).
    service = regional.service.service
    running = AwsApiCall(
        asserts[region],
        "TasksRunning",
        service="ECS",
        api="DescribeServices",
        parameters={"cluster": service.cluster.cluster_name, "services": [service.service_name]},
    )
    running.assert_at_path("services.0.runningCount", Literal(built.config.service.desired_count))
    running.wait_for_assertions(total_timeout=SETTLE, interval=POLL)

synthesize(app, "FirstCreate", built, asserts)
