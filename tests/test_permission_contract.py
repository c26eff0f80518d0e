"""Every actor of a release may make every call it makes, and nothing assumes a role it should not.

The contract's rows (tests/permission_contract.py) are decided by the IAM
simulator against the synthesized identity policies and the resource's own
policy (bucket, key, trust), on every test configuration.
"""

from __future__ import annotations

from dataclasses import replace

import pytest
from conftest import CONFIGURATIONS
from iam_simulator import ALLOWED, Caller
from permission_contract import (
    ARTIFACT_STORE,
    AWAITS_DEPLOYMENTS,
    BUILD_ACTION,
    BUILD_ROLE,
    CODEDEPLOY_SERVICE_ROLE,
    CONNECTION_SOURCE,
    DECRYPTS_SECRET,
    DEPLOY_ACTION,
    DOCS,
    ECS_DEPLOY_ACTION,
    ECS_INVOKES_HOOK,
    ECS_MIGRATION_HOOK_ROLE,
    ECS_TEST_HOOK_ROLE,
    EVENTS,
    HOOK_ROLE,
    INVOKES_HOOK,
    INVOKES_WAIT,
    LOAD_BALANCER_ROLE,
    MIGRATION_HOOK_ROLE,
    PROTECTS,
    PROTECTS_DATABASE,
    PROTECTS_LOAD_BALANCER,
    PULLS_IMAGE,
    READS_ALARM,
    READS_ARTIFACTS,
    READS_SECRET,
    READS_SERVED_IMAGE,
    RUNS_DATABASE_SETUP,
    S3_SOURCE,
    SERVICES,
    SIGNS_IN,
    WRITES_ARTIFACTS,
    ReleaseApp,
    Request,
)
from template_queries import resources

CONTRACT_CONFIGURATIONS = (*CONFIGURATIONS, "github_codestar", "accounts_ecs")
TABLES = (
    ARTIFACT_STORE,
    WRITES_ARTIFACTS,
    READS_ARTIFACTS,
    S3_SOURCE,
    CONNECTION_SOURCE,
    EVENTS,
    BUILD_ACTION,
    BUILD_ROLE,
    DEPLOY_ACTION,
    CODEDEPLOY_SERVICE_ROLE,
    READS_ALARM,
    INVOKES_HOOK,
    HOOK_ROLE,
    MIGRATION_HOOK_ROLE,
    ECS_DEPLOY_ACTION,
    LOAD_BALANCER_ROLE,
    ECS_INVOKES_HOOK,
    ECS_MIGRATION_HOOK_ROLE,
    ECS_TEST_HOOK_ROLE,
    READS_SERVED_IMAGE,
    AWAITS_DEPLOYMENTS,
    INVOKES_WAIT,
    PROTECTS,
    PROTECTS_LOAD_BALANCER,
    PROTECTS_DATABASE,
    PULLS_IMAGE,
    tuple(READS_SECRET.values()),
    DECRYPTS_SECRET,
    SIGNS_IN,
    RUNS_DATABASE_SETUP,
)
ASSUME_ANY_ROLE = {
    "Version": "2012-10-17",
    "Statement": [{"Effect": "Allow", "Action": "sts:AssumeRole", "Resource": "*"}],
}


@pytest.fixture(scope="session", params=CONTRACT_CONFIGURATIONS)
def release(request, synth_cache) -> ReleaseApp:
    return ReleaseApp(synth_cache(request.param))


@pytest.fixture(scope="session")
def default_release(default_synth) -> ReleaseApp:
    return ReleaseApp(default_synth)


def decide(simulator, request: Request, caller: Caller | None = None) -> str:
    return simulator.decide(
        caller or request.caller,
        request.action,
        request.resource.arn,
        resource_policy=request.resource.policy,
        resource_account=request.resource.owner,
        context=request.context,
    )


def without(caller: Caller, action: str) -> Caller:
    """``caller`` with ``action`` taken out of every statement of its policies."""

    def strip(statement: dict) -> dict:
        actions = statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
        return {**statement, "Action": [a for a in actions if a != action] or ["none:None"]}

    policies = tuple({**p, "Statement": [strip(s) for s in p["Statement"]]} for p in caller.policies)
    return Caller(caller.role_arn, policies, caller.session_name)


# --- the contract holds on every configuration -----------------------------------------------


def test_every_actor_may_make_every_call_of_a_release(release, iam_simulator):
    denied = [
        f"{r.describe()}: {decision}"
        for r in release.requests()
        if r.allowed and (decision := decide(iam_simulator, r)) != ALLOWED
    ]
    assert denied == []


def test_tasks_pull_only_from_their_own_stacks_repository(release, iam_simulator):
    refused = [
        r
        for r in release.requests()
        if not r.allowed and r.actor.startswith("task execution role") and r.action.startswith("ecr:")
    ]
    stacks = len(release.regional_stacks())
    assert len(refused) == stacks * (stacks - 1), "each task execution role tries every other repository"
    allowed = [r.describe() for r in refused if decide(iam_simulator, r) == ALLOWED]
    assert allowed == []


def test_deploy_actions_and_codedeploy_pass_no_other_role(release, iam_simulator):
    refused = [r for r in release.requests() if not r.allowed and r.action == "iam:PassRole"]
    deploys = [a for _, a in release.actions() if a["ActionTypeId"]["Category"] == "Deploy"]
    groups = [
        s
        for s in release.regional_stacks()
        if resources(release.template(s), "AWS::CodeDeploy::DeploymentGroup")
    ]
    assert len(refused) == len(deploys) + len(groups), "each deploy action role and CodeDeploy role tries"
    allowed = [r.describe() for r in refused if decide(iam_simulator, r) == ALLOWED]
    assert allowed == []


def test_the_service_never_gets_the_master_credentials(release, iam_simulator):
    refused = [r for r in release.requests() if not r.allowed and r.actor.startswith("service ")]
    databases = len(release.regional_stacks()) if release.synthesized.config.database.engine != "none" else 0
    # Per database: the task role signs in as the master user; the execution role reads its secret, decrypts.
    assert len(refused) == 3 * databases
    allowed = [r.describe() for r in refused if decide(iam_simulator, r) == ALLOWED]
    assert allowed == []


def test_every_role_is_assumable_by_its_one_principal_and_no_other(release, iam_simulator):
    expected = release.expected_principals()
    assert sorted(expected) == sorted(release.roles()), "every role is used by something the test knows"
    wrong = []
    for role_arn, principals in expected.items():
        trust = release.role_resource(role_arn).policy
        account = role_arn.split(":")[4]
        options = {"resource_policy": trust}
        for principal in principals:
            if principal.startswith("arn:"):
                assumer = release.caller_of_arn(principal)
                decision = iam_simulator.decide(
                    assumer, "sts:AssumeRole", role_arn, resource_account=account, **options
                )
            else:
                decision = iam_simulator.decide_service(
                    principal, "sts:AssumeRole", role_arn, account=account, **options
                )
            if decision != ALLOWED:
                wrong.append(f"{principal} cannot assume {role_arn}: {decision}")
        # Someone else in the pipeline's account, and in the role's own.
        for intruder_account in dict.fromkeys((release.account, account)):
            intruder = Caller(f"arn:aws:iam::{intruder_account}:role/someone-else", (ASSUME_ANY_ROLE,))
            if (
                iam_simulator.decide(
                    intruder, "sts:AssumeRole", role_arn, resource_account=account, **options
                )
                == ALLOWED
            ):
                wrong.append(f"any role of {intruder_account} with sts:AssumeRole can assume {role_arn}")
        for service in SERVICES:
            if service not in principals and (
                iam_simulator.decide_service(service, "sts:AssumeRole", role_arn, account=account, **options)
                == ALLOWED
            ):
                wrong.append(f"{service} can assume {role_arn}, meant for {principals}")
    assert wrong == []


def test_the_contract_reaches_every_actor(release):
    actors = {r.actor.split(" (")[0].split(",")[0] for r in release.requests()}
    config = release.synthesized.config
    expected = {
        "pipeline role",
        "source action role",
        "build action role",
        "CodeBuild role",
        "task execution role",
        "deletion-protection function",
    }
    expected |= {
        f"deploy action role of Deploy-{region}" for region in (*config.regions, *config.staging_regions)
    }
    if config.rollout.engine == "ecs":
        test_traffic, migration = "POST_TEST_TRAFFIC_SHIFT", "POST_SCALE_UP"
        expected |= {"ECS load balancer role", "released-image function", "wait function"}
        expected |= {
            f"wait action role of Await-wave-{wave}" for wave in range(1, len(config.production_waves) + 1)
        }
        if config.rollout.test_traffic_check_path or config.database.migration_command:
            expected.add("ECS hook invoke role")
        if any(config.account_of(r) != config.account for r in config.regions):
            expected.add("reader role")
    else:
        test_traffic, migration = "AfterAllowTestTraffic", "AfterInstall"
        expected.add("CodeDeploy service role")
    if config.rollout.test_traffic_check_path:
        expected.add(f"{test_traffic} hook role")
    if config.database.migration_command:
        expected |= {f"{migration} hook role", "migration execution role"}
    if config.database.engine != "none":
        expected |= {
            "service task role",
            "service execution role",
            "database setup execution role",
            "database setup function",
        }
    if not hasattr(config.source, "connection_arn"):
        expected.add("S3 upload rule's role")
    assert actors == expected


def test_every_row_names_the_aws_document_it_comes_from():
    for table in TABLES:
        for row in table:
            assert row.source.startswith(f"{DOCS}/"), row


# --- the contract can fail ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("actor", "action"),
    [
        ("deploy action role", "codedeploy:RegisterApplicationRevision"),
        ("pipeline role, eu-west-2 artifacts", "kms:GenerateDataKey*"),  # the home region's own key
        ("task execution role", "ecr:BatchGetImage"),
        ("CodeDeploy service role", "iam:PassRole"),
        ("source action role", "s3:GetObject*"),
    ],
)
def test_taking_a_permission_away_breaks_the_contract(default_release, iam_simulator, actor, action):
    assert_needed(default_release, iam_simulator, actor, action)


@pytest.mark.parametrize(
    ("actor", "action"),
    [
        ("deploy action role of Deploy-ap-southeast-1", "ecs:UpdateService"),
        ("deploy action role of Deploy-eu-west-2", "iam:PassRole"),
        ("ECS load balancer role", "elasticloadbalancing:ModifyRule"),
        ("ECS hook invoke role", "lambda:InvokeFunction"),
        ("POST_SCALE_UP hook role", "ecs:DescribeServiceRevisions"),
        ("POST_TEST_TRAFFIC_SHIFT hook role", "ecs:DescribeServiceDeployments"),
        ("released-image function", "ecs:DescribeServiceDeployments"),
        ("released-image function", "ecs:ListServices"),
        ("wait function", "ecs:DescribeServiceDeployments"),
        ("wait function", "codepipeline:PutJobFailureResult"),
        ("wait action role", "lambda:InvokeFunction"),
    ],
)
def test_taking_a_permission_away_breaks_the_ecs_contract(synth_cache, iam_simulator, actor, action):
    assert_needed(ReleaseApp(synth_cache("ecs")), iam_simulator, actor, action)


@pytest.mark.parametrize(
    ("actor", "action"),
    [
        ("service task role", "rds-db:connect"),
        ("migration execution role", "secretsmanager:GetSecretValue"),
        ("AfterInstall hook role", "ecs:RegisterTaskDefinition"),
        ("AfterInstall hook role", "ecs:DeregisterTaskDefinition"),
        ("AfterInstall hook role", "iam:PassRole"),
        ("database setup execution role", "secretsmanager:GetSecretValue"),
        ("database setup function", "ecs:RunTask"),
        ("database setup function", "iam:PassRole"),
    ],
)
def test_taking_a_permission_away_breaks_the_database_contract(synth_cache, iam_simulator, actor, action):
    assert_needed(ReleaseApp(synth_cache("database")), iam_simulator, actor, action)


def assert_needed(release: ReleaseApp, iam_simulator, actor: str, action: str) -> None:
    """Every request of ``actor`` for ``action`` is allowed, and denied once the action is taken away."""
    requests = [
        r
        for r in release.requests()
        if r.allowed and r.actor.startswith(actor) and r.action.startswith(action.rstrip("*"))
    ]
    assert requests
    for request in requests:
        assert decide(iam_simulator, request) == ALLOWED
        assert decide(iam_simulator, request, without(request.caller, action)) != ALLOWED, request.describe()


def test_a_trust_policy_of_the_whole_account_would_be_caught(default_release, iam_simulator):
    role_arn = next(arn for arn in default_release.roles() if "deployactionrole" in arn)
    trust = default_release.role_resource(role_arn).policy
    (statement,) = trust["Statement"]
    broad = {**trust, "Statement": [{k: v for k, v in statement.items() if k != "Condition"}]}
    intruder = Caller(f"arn:aws:iam::{default_release.account}:role/someone-else", (ASSUME_ANY_ROLE,))
    assert iam_simulator.decide(intruder, "sts:AssumeRole", role_arn, resource_policy=trust) != ALLOWED
    assert iam_simulator.decide(intruder, "sts:AssumeRole", role_arn, resource_policy=broad) == ALLOWED


@pytest.mark.parametrize("configuration", ["github", "github_codestar"])
def test_the_connection_is_used_with_the_prefix_its_arn_names(synth_cache, iam_simulator, configuration):
    release = ReleaseApp(synth_cache(configuration))
    (request,) = [r for r in release.requests() if r.action.endswith(":UseConnection")]
    prefix = release.synthesized.config.source.connection_arn.split(":")[2]
    assert request.action == f"{prefix}:UseConnection"
    assert decide(iam_simulator, request) == ALLOWED
    # CDK's own grant alone (codestar-connections:UseConnection) is not enough for a codeconnections ARN.
    assert (
        decide(iam_simulator, request, without(request.caller, "codeconnections:UseConnection")) == ALLOWED
    ) == (prefix == "codestar-connections")


def test_a_replaced_deployment_configuration_stays_readable(synth_cache, iam_simulator):
    """A custom configuration gets a new name when its traffic shifting changes; the pipeline's roles keep reading it."""
    release = ReleaseApp(synth_cache("staged"))
    reads = [r for r in release.requests() if r.action == "codedeploy:GetDeploymentConfig"]
    assert reads
    for request in reads:
        renamed = (
            request.resource.arn.rsplit(":", 1)[0] + ":webapp-eu-west-2-BlueGreenDeploymentConfig-NEWNAME"
        )
        decision = iam_simulator.decide(request.caller, request.action, renamed, context=request.context)
        assert decision == ALLOWED, request.describe()


# --- across accounts: each grant in the other account's policy is needed ---------------------------------


def without_grants_to(policy: dict, principal_account: str) -> dict:
    """``policy`` without the Allow statements that name a principal of ``principal_account``."""

    def names(statement: dict) -> bool:
        principals = statement.get("Principal", {})
        aws = principals.get("AWS", []) if isinstance(principals, dict) else []
        return any(f":{principal_account}:" in p for p in ([aws] if isinstance(aws, str) else aws))

    return {**policy, "Statement": [s for s in policy["Statement"] if s["Effect"] != "Allow" or not names(s)]}


@pytest.mark.parametrize(
    "case",
    [
        # The store's key policy and bucket policy (tools account) name the deploy role of another account.
        ("accounts", "deploy action role of Deploy-ap-southeast-1", "kms:Decrypt", "key policy"),
        ("accounts", "deploy action role of Deploy-ap-southeast-1", "s3:GetObject", "bucket policy"),
        ("accounts", "deploy action role of Deploy-eu-west-1", "s3:GetObject", "bucket policy"),
        # The pipeline's own bucket and key, read by the home region's deploy role in the EU account.
        ("accounts", "deploy action role of Deploy-eu-west-2", "kms:Decrypt", "key policy"),
        ("accounts", "deploy action role of Deploy-eu-west-2", "s3:GetObject", "bucket policy"),
        # The deploy role's trust policy (its account) names the pipeline's role (tools account).
        ("accounts", "pipeline role", "sts:AssumeRole", "trust policy"),
        # The reader role's trust policy names the wait function's role.
        ("accounts_ecs", "wait function (ap-southeast-1)", "sts:AssumeRole", "trust policy"),
    ],
)
def test_taking_a_cross_account_grant_away_breaks_the_contract(synth_cache, iam_simulator, case):
    """Across accounts both sides must allow: the caller's identity policy, and the policy of the resource in the
    other account. Each is needed: without either, the call is denied."""
    configuration, actor, action, policy = case
    release = ReleaseApp(synth_cache(configuration))
    requests = [
        r
        for r in release.requests()
        if r.allowed
        and r.actor.startswith(actor)
        and r.action.startswith(action)
        and r.resource.owner not in (None, r.caller.account)
    ]
    assert requests, f"no cross-account {action} of {actor}"
    for request in requests:
        assert decide(iam_simulator, request) == ALLOWED, request.describe()
        stripped = replace(
            request,
            resource=replace(
                request.resource, policy=without_grants_to(request.resource.policy, request.caller.account)
            ),
        )
        assert decide(iam_simulator, stripped) != ALLOWED, f"{policy} not needed: {request.describe()}"
        assert decide(iam_simulator, request, without(request.caller, action_granted(request))) != ALLOWED, (
            f"identity policy not needed: {request.describe()}"
        )


def action_granted(request: Request) -> str:
    """The action as the caller's policy grants it (``s3:GetObject*`` for ``s3:GetObject``)."""
    for policy in request.caller.policies:
        for statement in policy["Statement"]:
            actions = statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
            for granted in actions:
                if granted == request.action or (
                    granted.endswith("*") and request.action.startswith(granted[:-1])
                ):
                    return granted
    raise AssertionError(f"nothing grants {request.describe()}")
