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
from constructs.settings.domain_settings import DomainSettings  # noqa: E402
from constructs.settings.feature_flags import TESTED_FEATURE_FLAGS  # noqa: E402
from constructs.settings.release_config import ReleaseConfig  # noqa: E402

# The account a synth without credentials names (integ-runner's stand-in is 8 digits; the config wants 12).
SNAPSHOT_ACCOUNT = "123456789012"
# integ_accounts' other accounts in a synth without them (make acceptance PRODUCTION_ACCOUNT=... ZONE_ACCOUNT=...
# gives the real ones, and refuses that test without them).
SNAPSHOT_PRODUCTION_ACCOUNT = "210987654321"
SNAPSHOT_ZONE_ACCOUNT = "345678901234"
# The hosted zone of the domain checks (make acceptance HOSTED_ZONE_ID=... HOSTED_ZONE_NAME=...), in
# ZONE_ACCOUNT when given, else in the account under test; the stand-in is for the offline snapshots only.
ZONE_ID = os.environ.get("ACCEPTANCE_HOSTED_ZONE_ID", "Z0123456789ABCDEFGHIJ")
ZONE_NAME = os.environ.get("ACCEPTANCE_HOSTED_ZONE_NAME", "example.com")
REGIONS = ("eu-west-2", "ap-southeast-1")
# How long a check waits for AWS to settle before it fails its stack (within CloudFormation's hour for a
# custom resource).
SETTLE = cdk.Duration.minutes(15)
POLL = cdk.Duration.seconds(15)
# The post-deploy hook that releases the sample: make release on the test's own assembly.
RELEASE = '.venv/bin/python tools/operate/release.py "$ACCEPTANCE_ASSEMBLY"'
# A stage rollback redeploys every region blue/green (shift, then blue kept): give it longer.
ROLLBACK_SETTLE = cdk.Duration.minutes(40)
# The release of tests/integ/unhealthy_release (its tasks answer 503) must fail: the hook holds only when this
# release's execution ends Failed in the production stage (make release's summary and stage lines), not when it
# fails for another reason (credentials, the upload, a build that never reaches the stage that rolls back).
UNHEALTHY = (
    f'out=$({RELEASE} --source tests/integ/unhealthy_release 2>&1); status=$?; echo "$out"; '
    '[ "$status" -ne 0 ] && grep -Eq "^==> pipeline execution .*: Failed$" <<<"$out" '
    '&& grep -Eq "stage Deploy_to_Production: Failed$" <<<"$out"'
)


def account() -> str:
    """The account under test: the acceptance run's, else the snapshots' stand-in."""
    return os.environ.get("CDK_DEFAULT_ACCOUNT") or SNAPSHOT_ACCOUNT


def production_account() -> str:
    """The account of integ_accounts' production regions (PRODUCTION_ACCOUNT), else the snapshots' stand-in."""
    return os.environ.get("ACCEPTANCE_PRODUCTION_ACCOUNT") or SNAPSHOT_PRODUCTION_ACCOUNT


def zone_account() -> str | None:
    """The hosted zone's account (ZONE_ACCOUNT) when it is not the account under test, else None."""
    return os.environ.get("ACCEPTANCE_ZONE_ACCOUNT") or None


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


def domain(prefix: str, routing: str = "latency", residency: tuple = ()) -> DomainSettings:
    """A name of the run's own below the zone, so that the run never touches a record it did not create;
    short, as ACM takes at most 64 characters for a certificate's first name."""
    return DomainSettings(
        name=f"it-{prefix}-{run_id()}.{ZONE_NAME}",
        hosted_zone_id=ZONE_ID,
        hosted_zone_name=ZONE_NAME,
        routing=routing,
        residency=residency,
    )


def assertion_stacks(app: cdk.App, built: MultiRegionBlueGreenRelease) -> dict[str, cdk.Stack]:
    """One ``Assert-<region>`` stack per production region, in that region and its stack's account, after the
    release's stacks."""
    stacks = {}
    for region, regional in built.regional_stacks.items():
        stack = cdk.Stack(
            app,
            f"{built.config.app_name}-assert-{region}",
            env=cdk.Environment(account=regional.account, region=region),
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
    assertion_stack: cdk.Stack | None = None,
) -> None:
    """The test case (the release's stacks, its hooks, its assertion stack: the home region's unless given),
    then the synth."""
    IntegTest(
        app,
        name,
        test_cases=test_stacks(built),
        assertion_stack=assertion_stack or asserts[built.config.home_region],
        stack_update_workflow=False,
        hooks=schema.Hooks(post_deploy=list(post_deploy)) if post_deploy else None,
    )
    app.synth()


def test_stacks(built: MultiRegionBlueGreenRelease) -> list[cdk.Stack]:
    """The stacks under test, the pipeline's last (a deploy orders the others by their dependencies)."""
    return [stack for stack in built.stacks if stack is not built.pipeline_stack] + [built.pipeline_stack]


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


def waits_for_the_rollback(stack: cdk.Stack, built: MultiRegionBlueGreenRelease) -> AwsApiCall:
    """The pipeline's newest execution is the automated rollback (``trigger.triggerType`` ``AutomatedRollback``,
    CodePipeline's ListPipelineExecutions), and it succeeds; ``stack``: in the pipeline's account and region.
    Returns the last check, for the checks that must come after it."""
    pipeline_name = built.pipeline_stack.release_pipeline.pipeline.pipeline_name

    def newest_execution(construct_id: str) -> AwsApiCall:
        return AwsApiCall(
            stack,
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
    return finished


def answers_on_its_names(stack: cdk.Stack, regional, region: str, *, after=None) -> None:
    """Over HTTPS, the region's own name and the shared name answer 200 from ``region`` (the sample reports
    the region it runs in): the TLS handshake checks the certificate, which the stack's create waited for."""
    domain = regional.domain
    calls = [
        HttpApiCall(stack, f"{construct_id}Answers", url=f"https://{name}/")
        for construct_id, name in (
            ("RegionalName", domain.regional_name),
            ("SharedName", domain.settings.name),
        )
    ]
    for call in calls:
        call.expect(ExpectedResult.object_like({"status": 200, "body": {"region": region}}))
        call.wait_for_assertions(total_timeout=SETTLE, interval=POLL)
    if after is not None:
        after.next(calls[0])
    calls[0].next(calls[1])
