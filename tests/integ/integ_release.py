"""Check 2, a release end to end: the sample's source uploaded, the pipeline succeeds in every region, and each
region answers 200 from a task of the released image, from its own repository by digest.

The post-deploy hook is ``make release`` on this app (tools/operate/release.py): it uploads sample/ and
follows the execution, exiting non-zero unless every region's deployment succeeded. The assertions then read,
in each region, the image ECS runs (ListTasks, DescribeTasks: ``tasks[].containers[].image``) and the image
the answering task names (the sample reports ECS's task metadata ``Image``), and require them to be the same
image of the region's repository by digest.
"""

from __future__ import annotations

from aws_cdk import cloud_assembly_schema as schema
from aws_cdk.integ_tests_alpha import (
    ActualResult,
    AwsApiCall,
    EqualsAssertion,
    ExpectedResult,
    HttpApiCall,
    IntegTest,
)
from support import POLL, SETTLE, assertion_stacks, new_app, release, test_stacks

RELEASE = '.venv/bin/python tools/operate/release.py "$ACCEPTANCE_ASSEMBLY"'

app = new_app()
built = release(app, "release")
asserts = assertion_stacks(app, built)
for region, regional in built.regional_stacks.items():
    stack = asserts[region]
    service = regional.service.service
    cluster = service.cluster.cluster_name

    answers = HttpApiCall(stack, "ServiceAnswers", url=regional.service_url)
    answers.expect(ExpectedResult.object_like({"status": 200}))
    answers.wait_for_assertions(total_timeout=SETTLE, interval=POLL)

    tasks = AwsApiCall(
        stack,
        "ServingTasks",
        service="ECS",
        api="ListTasks",
        parameters={"cluster": cluster, "serviceName": service.service_name, "desiredStatus": "RUNNING"},
    )
    answers.next(tasks)
    task = AwsApiCall(
        stack,
        "ServingTask",
        service="ECS",
        api="DescribeTasks",
        parameters={"cluster": cluster, "tasks": [tasks.get_att_string("taskArns.0")]},
    )
    repository = regional.service.repository.repository_uri
    task.assert_at_path(
        "tasks.0.containers.0.image",
        ExpectedResult.string_like_regexp(f"^{repository}@sha256:[0-9a-f]{{64}}$"),
    )
    task.wait_for_assertions(total_timeout=SETTLE, interval=POLL)

    named = HttpApiCall(stack, "AnsweringImage", url=regional.service_url)
    task.next(named)
    EqualsAssertion(
        stack,
        "AnswerIsTheReleasedImage",
        actual=ActualResult.from_aws_api_call(named, "body.image"),
        expected=ExpectedResult.exact(task.get_att_string("tasks.0.containers.0.image")),
        fail_deployment=True,
    )

IntegTest(
    app,
    "Release",
    test_cases=test_stacks(built),
    assertion_stack=asserts[built.config.home_region],
    stack_update_workflow=False,
    hooks=schema.Hooks(post_deploy=[RELEASE]),
)
app.synth()
