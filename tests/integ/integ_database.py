"""Check 6, the database: after a release, each region's service signs in as its own role over TLS (the sample
counts a visit, which only a working connection does), and a connection without TLS is refused.

The refusal is proven from inside the region's network: a one-off run of the database setup's task definition
(the project's bootstrap image, with pg8000 and the RDS certificate bundle, in the setup's security group)
connects with the master credentials without TLS, then with TLS, and exits 10 only when the first is refused
and the second accepted: the same credentials from the same place, so the refusal is for want of TLS (the
cluster parameter group's rds.force_ssl=1), whatever words PostgreSQL gives it. The check waits for that
task to stop with exit code 10.
"""

from __future__ import annotations

from aws_cdk.integ_tests_alpha import AwsApiCall
from support import (
    POLL,
    RELEASE,
    SETTLE,
    Literal,
    assertion_stacks,
    counts_a_visit,
    new_app,
    release,
    synthesize,
)

from constructs.region.database_users import CONTAINER
from constructs.settings.database_settings import DatabaseSettings

REFUSED = 10
# Exit 10 only when the plain connection is refused and the same one over TLS is accepted; 2 if the plain
# one connected; any other failure ends in a traceback (1). Not 0: the assertion handler takes an answer of 0
# for a missing one. ssl_context=False: with None, pg8000 tries TLS first.
PROBE = """
import os, ssl, pg8000.native
settings = dict(
    user=os.environ["DB_USER"], password=os.environ["DB_PASSWORD"], host=os.environ["DB_HOST"],
    port=int(os.environ["DB_PORT"]), database=os.environ["DB_NAME"])
try:
    pg8000.native.Connection(**settings, ssl_context=False).close()
except pg8000.native.DatabaseError as error:
    print("refused without TLS:", error)
else:
    raise SystemExit(2)
tls = ssl.create_default_context(cafile=os.environ["DB_CA_BUNDLE"])
pg8000.native.Connection(**settings, ssl_context=tls).close()
print("accepted over TLS")
raise SystemExit(10)
"""

app = new_app()
built = release(
    app,
    "database",
    database=DatabaseSettings(engine="aurora-postgresql", migration_command=["python", "migrate.py"]),
)
asserts = assertion_stacks(app, built)
for region, regional in built.regional_stacks.items():
    stack = asserts[region]
    visit = counts_a_visit(stack, regional)

    setup = regional.database_users
    service = regional.service
    probe = AwsApiCall(
        stack,
        "PlainConnection",
        service="ECS",
        api="RunTask",
        parameters={
            "cluster": service.cluster.cluster_name,
            "taskDefinition": setup.task_definition.task_definition_arn,
            "launchType": "FARGATE",
            "networkConfiguration": {
                "awsvpcConfiguration": {
                    "subnets": [subnet.subnet_id for subnet in service.vpc.private_subnets],
                    "securityGroups": [setup.security_group.security_group_id],
                    "assignPublicIp": "DISABLED",
                }
            },
            "overrides": {"containerOverrides": [{"name": CONTAINER, "command": ["python", "-c", PROBE]}]},
        },
    )
    probe.provider.add_to_role_policy(
        {
            "Effect": "Allow",
            "Action": ["iam:PassRole"],
            "Resource": [
                setup.task_definition.task_role.role_arn,
                setup.task_definition.obtain_execution_role().role_arn,
            ],
        }
    )
    visit.next(probe)
    refused = AwsApiCall(
        stack,
        "PlainConnectionRefused",
        service="ECS",
        api="DescribeTasks",
        parameters={
            "cluster": service.cluster.cluster_name,
            "tasks": [probe.get_att_string("tasks.0.taskArn")],
        },
    )
    refused.assert_at_path("tasks.0.containers.0.exitCode", Literal(REFUSED))
    refused.wait_for_assertions(total_timeout=SETTLE, interval=POLL)

synthesize(app, "Database", built, asserts, post_deploy=(RELEASE,))
