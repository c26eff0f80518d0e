"""What every integration test app shares: the release under test and one assertion stack per region.

Each ``integ_*.py`` beside this file is a CDK app in integ-runner's form (an ``IntegTest`` over the release's
stacks, integ-tests-alpha assertions). integ-runner's newest release reads cloud assembly schema 53 while
aws-cdk-lib 2.275.0 writes 55, so ``make acceptance`` (tools/operate/acceptance.py) deploys them with the
project's CDK CLI instead, and ``tests/test_integ_apps.py`` checks their templates offline.

An assertion calls the API of its own stack's region, so each region's checks sit in an ``Assert-<region>``
stack of that region. A check that does not hold must fail its stack's deployment (CloudFormation then names
it): every check here waits for its expectation (``wait_for_assertions``), whose timeout fails the resource;
a plain ``expect`` only writes its result to an output.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import aws_cdk as cdk
from aws_cdk import cloud_assembly_schema as schema
from aws_cdk.integ_tests_alpha import (
    ActualResult,
    AwsApiCall,
    EqualsAssertion,
    ExpectedResult,
    HttpApiCall,
    IntegTest,
)

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:  # run as `python tests/integ/integ_x.py` from anywhere
    sys.path.insert(0, str(ROOT))

from constructs.multi_region_release import MultiRegionBlueGreenRelease  # noqa: E402
from constructs.settings.feature_flags import TESTED_FEATURE_FLAGS  # noqa: E402
from constructs.settings.release_config import ReleaseConfig  # noqa: E402

# The account a synth without credentials names (integ-runner's stand-in is 8 digits; the config wants 12).
SNAPSHOT_ACCOUNT = "123456789012"
REGIONS = ("eu-west-2", "ap-southeast-1")
# How long a check waits for AWS to settle before it fails its stack (within CloudFormation's hour for a
# custom resource).
SETTLE = cdk.Duration.minutes(15)
POLL = cdk.Duration.seconds(15)
# The post-deploy hook that releases the sample: make release on the test's own assembly.
RELEASE = '.venv/bin/python tools/operate/release.py "$ACCEPTANCE_ASSEMBLY"'
# A stage rollback redeploys every region blue/green (shift, then blue kept): give it longer.
ROLLBACK_SETTLE = cdk.Duration.minutes(40)


def account() -> str:
    """The account under test: the acceptance run's, else the snapshots' stand-in."""
    return os.environ.get("CDK_DEFAULT_ACCOUNT") or SNAPSHOT_ACCOUNT


def run_id() -> str:
    """The acceptance run's ID (ACCEPTANCE_RUN, MMDDHHMM), else ``snapshot``."""
    return os.environ.get("ACCEPTANCE_RUN", "snapshot")


def app_name(test: str) -> str:
    """A name of the run's own, so that a run never touches another deployment's stacks."""
    return f"it-{test}-{run_id()}"[:32].rstrip("-")


def new_app() -> cdk.App:
    """An app with the feature flags the release is tested with (integ-runner does not read cdk.json).

    The output directory is read here (CDK_OUTDIR, as the CLI sets it), not by the CDK's own process, so an
    app built inside a process that loaded the CDK earlier writes where it was told.
    """
    return cdk.App(context=dict(TESTED_FEATURE_FLAGS), outdir=os.environ.get("CDK_OUTDIR"))


def release(app: cdk.App, test: str, **settings) -> MultiRegionBlueGreenRelease:
    """The release under test: home eu-west-2, production in ``REGIONS``, plain HTTP (no domain needed)."""
    config = ReleaseConfig(
        account=account(),
        home_region=REGIONS[0],
        extra_regions=list(REGIONS[1:]),
        app_name=app_name(test),
        allow_plain_http=True,
        **settings,
    )
    return MultiRegionBlueGreenRelease(app, config.app_name, config=config)


def assertion_stacks(app: cdk.App, built: MultiRegionBlueGreenRelease) -> dict[str, cdk.Stack]:
    """One ``Assert-<region>`` stack per production region, in that region, after the release's stacks."""
    stacks = {}
    for region, regional in built.regional_stacks.items():
        stack = cdk.Stack(
            app,
            f"{built.config.app_name}-assert-{region}",
            env=cdk.Environment(account=built.config.account, region=region),
        )
        stack.add_stack_dependency(regional, "checks what the region created")
        stack.add_stack_dependency(built.pipeline_stack, "runs after every stack is created")
        stacks[region] = stack
    return stacks


def synthesize(
    app: cdk.App,
    name: str,
    built: MultiRegionBlueGreenRelease,
    asserts: dict[str, cdk.Stack],
    *,
    post_deploy: tuple[str, ...] = (),
) -> None:
    """The test case (the release's stacks, its hooks, the home region's assertion stack), then the synth."""
    IntegTest(
        app,
        name,
        test_cases=test_stacks(built),
        assertion_stack=asserts[built.config.home_region],
        stack_update_workflow=False,
        hooks=schema.Hooks(post_deploy=list(post_deploy)) if post_deploy else None,
    )
    app.synth()


def test_stacks(built: MultiRegionBlueGreenRelease) -> list[cdk.Stack]:
    """The stacks under test, in the order a deploy creates them (regions, then the pipeline)."""
    return [*built.staging_stacks.values(), *built.regional_stacks.values(), built.pipeline_stack]


class Literal(ExpectedResult):
    """An expected value compared as it is. The assertion handler knows the matchers $ObjectLike, $StringLike,
    $ArrayWith and $SerializedJson, and compares anything else literally: ``ExpectedResult.exact``'s
    ``{"$Exact": v}`` is such a literal object, which no answer ever equals."""

    def __init__(self, value: object) -> None:
        super().__init__()
        self._value = value

    @property
    def result(self) -> str:
        return json.dumps(self._value)


def whole(text: str) -> ExpectedResult:
    """A string equal to ``text`` (a token resolved at deploy time too), as an anchored pattern."""
    return ExpectedResult.string_like_regexp(cdk.Fn.join("", ["^", text, "$"]))


def counts_a_visit(stack: cdk.Stack, regional) -> HttpApiCall:
    """The region's service answers a visit, which the sample counts in its database (503 without it)."""
    visit = HttpApiCall(stack, "VisitCounted", url=f"{regional.service_url}/visit")
    visit.expect(ExpectedResult.object_like({"status": 200, "body": {"status": "hello"}}))
    visit.wait_for_assertions(total_timeout=SETTLE, interval=POLL)
    return visit


def serves_a_released_image(stack: cdk.Stack, regional, *, after=None) -> None:
    """The region answers 200 from a task of a released image: the image ECS runs is the region's own
    repository by digest (ListTasks, DescribeTasks), and it is the image the answering task names (the sample
    reports ECS's task metadata ``Image``). ``after``: a check of the same stack these wait for."""
    service = regional.service.service
    cluster = service.cluster.cluster_name
    answers = HttpApiCall(stack, "ServiceAnswers", url=regional.service_url)
    answers.expect(ExpectedResult.object_like({"status": 200}))
    answers.wait_for_assertions(total_timeout=SETTLE, interval=POLL)
    if after is not None:
        after.next(answers)
    tasks = AwsApiCall(
        stack,
        "ServingTasks",
        service="ECS",
        api="ListTasks",
        parameters={"cluster": cluster, "serviceName": service.service_name, "desiredStatus": "RUNNING"},
    )
    # Wait for a running task: an empty list would fail the next call with an unclear missing attribute.
    tasks.assert_at_path("taskArns.0", ExpectedResult.string_like_regexp("^arn:"))
    tasks.wait_for_assertions(total_timeout=SETTLE, interval=POLL)
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
        expected=whole(task.get_att_string("tasks.0.containers.0.image")),
        fail_deployment=True,
    )
