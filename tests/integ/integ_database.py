"""Check 6, the database: after a release, each region's service signs in as its own role over TLS (the sample
counts a visit, which only a working connection does), and a connection without TLS is refused.

The refusal is proven from inside the region's network: a one-off run of the database setup's task definition
(the project's bootstrap image, with pg8000, in the setup's security group) tries the master credentials
without TLS and exits 10 only when PostgreSQL answers that no pg_hba entry admits an unencrypted connection
(the cluster parameter group's rds.force_ssl=1); the check waits for that task to stop with exit code 10.
"""

from __future__ import annotations

from aws_cdk import cloud_assembly_schema as schema
from aws_cdk.integ_tests_alpha import AwsApiCall, ExpectedResult, HttpApiCall, IntegTest
from support import POLL, SETTLE, Literal, assertion_stacks, new_app, release, test_stacks

from constructs.region.database_users import CONTAINER
from constructs.settings.database_settings import DatabaseSettings

RELEASE = '.venv/bin/python tools/operate/release.py "$ACCEPTANCE_ASSEMBLY"'
REFUSED = 10
# Exit 10 only for PostgreSQL's refusal of an unencrypted connection ("no encryption" since PostgreSQL 16,
# "SSL off" before it); 2 if it connected, 3 for any other failure. (Not 0: the assertion handler takes an
# answer of 0 for a missing one.) ssl_context=False: pg8000 tries TLS first when it is None.
PROBE = """
import os, pg8000.native
try:
    pg8000.native.Connection(
        user=os.environ["DB_USER"], password=os.environ["DB_PASSWORD"], host=os.environ["DB_HOST"],
        port=int(os.environ["DB_PORT"]), database=os.environ["DB_NAME"], ssl_context=False)
except pg8000.native.DatabaseError as error:
    print(error)
    raise SystemExit(10 if "no encryption" in str(error) or "SSL off" in str(error) else 3)
raise SystemExit(2)
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
    # Any path but the health check's counts a visit in the database (the sample answers 503 without it).
    visit = HttpApiCall(stack, "VisitCounted", url=f"{regional.service_url}/visit")
    visit.expect(ExpectedResult.object_like({"status": 200, "body": {"status": "hello"}}))
    visit.wait_for_assertions(total_timeout=SETTLE, interval=POLL)

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

IntegTest(
    app,
    "Database",
    test_cases=test_stacks(built),
    assertion_stack=asserts[built.config.home_region],
    stack_update_workflow=False,
    hooks=schema.Hooks(post_deploy=[RELEASE]),
)
app.synth()
