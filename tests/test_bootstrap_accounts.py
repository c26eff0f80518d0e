"""`make bootstrap` across accounts: the others trust the pipeline's account with this app's execution policies,
derived from CloudFormation's own resource schemas; the policies are created or brought up to date first."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest
from botocore.exceptions import ClientError
from botocore.stub import Stubber
from conftest import (
    ACCOUNT,
    APAC_ACCOUNT,
    DNS_ACCOUNT,
    EU_ACCOUNT,
    STAGING_ACCOUNT,
    for_account,
    offline_client,
)
from iam_simulator import ALLOWED, Caller

from tools.cloud_assembly import CloudAssembly
from tools.operate import accounts
from tools.operate import cdk_commands as operate
from tools.operate.bootstrap_accounts import POLICY_VERSIONS, account_bootstraps, ensure_policies, replaced
from tools.operate.patient_aws import Aws
from tools.plan.execution_policy import MANAGED_POLICY_CHARACTERS, account_actions, execution_policies


@pytest.fixture(scope="module")
def assembly(synth_cache) -> CloudAssembly:
    return CloudAssembly.read(synth_cache("accounts").outdir)


def test_the_pipelines_account_is_bootstrapped_first_and_every_other_trusts_it(assembly):
    plans = {b.account: b for b in account_bootstraps(assembly)}
    assert next(iter(plans)) == ACCOUNT
    assert plans[ACCOUNT].trusted is None
    assert plans[ACCOUNT].policies == ()
    assert sorted(plans[ACCOUNT].regions) == sorted(
        ("eu-west-2", "eu-west-1", "eu-central-1", "ap-southeast-1")
    )
    for account, regions in {
        EU_ACCOUNT: ("eu-west-2", "eu-central-1"),
        APAC_ACCOUNT: ("ap-southeast-1",),
        STAGING_ACCOUNT: ("eu-west-1",),
        DNS_ACCOUNT: ("eu-west-2",),
    }.items():
        assert sorted(plans[account].regions) == sorted(regions), account
        assert plans[account].trusted == ACCOUNT
        assert plans[account].policies


def test_each_execution_policy_fits_iams_limit_and_together_they_grant_what_the_schemas_list(assembly):
    for account in (EU_ACCOUNT, APAC_ACCOUNT, STAGING_ACCOUNT, DNS_ACCOUNT):
        documents = execution_policies(assembly, account)
        for document in documents:
            assert len(json.dumps(document, separators=(",", ":"))) <= MANAGED_POLICY_CHARACTERS
        granted = [
            action
            for document in documents
            for statement in document["Statement"]
            if statement["Sid"].startswith("DeployTheAppsResources")
            for action in statement["Action"]
        ]
        assert sorted(granted) == list(account_actions(assembly, account))
        assert not any(a == "*" or a.endswith(":*") for a in granted)


@pytest.mark.parametrize(
    ("action", "allowed"),
    [
        # What the EU account's stacks hold: services, their load balancers, roles, keys, records.
        ("ecs:CreateService", True),
        ("elasticloadbalancing:CreateLoadBalancer", True),
        ("iam:CreateRole", True),
        ("kms:CreateKey", True),
        ("lambda:InvokeFunction", True),
        # Nothing an administrator has that these stacks do not use.
        ("iam:CreateUser", False),
        ("iam:CreateAccessKey", False),
        ("ec2:RunInstances", False),
        ("organizations:LeaveOrganization", False),
        ("cloudtrail:StopLogging", False),
        ("rds:CreateDBCluster", False),  # this configuration has no database
    ],
)
def test_the_execution_role_may_deploy_the_apps_resources_and_nothing_else(
    assembly, iam_simulator, action, allowed
):
    role = Caller(
        f"arn:aws:iam::{EU_ACCOUNT}:role/cdk-hnb659fds-cfn-exec-role-{EU_ACCOUNT}-eu-west-2",
        tuple(execution_policies(assembly, EU_ACCOUNT)),
        "AWSCloudFormation",
    )
    resource = f"arn:aws:lambda:eu-west-2:{EU_ACCOUNT}:function:f" if action.startswith("lambda:") else "*"
    assert (iam_simulator.decide(role, action, resource) == ALLOWED) is allowed


def iam_stub():
    client = offline_client("iam", "us-east-1")
    return client, Stubber(client)


def test_missing_policies_are_created():
    client, stub = iam_stub()
    documents = ({"Version": "2012-10-17", "Statement": []},)
    arn = f"arn:aws:iam::{EU_ACCOUNT}:policy/webapp-cdk-execution-1"
    stub.add_client_error("get_policy", "NoSuchEntity", expected_params={"PolicyArn": arn})
    stub.add_response(
        "create_policy",
        {"Policy": {"Arn": arn}},
        {
            "PolicyName": "webapp-cdk-execution-1",
            "PolicyDocument": json.dumps(documents[0], separators=(",", ":")),
            "Description": "What CloudFormation needs to deploy webapp's stacks in this account",
        },
    )
    with stub:
        assert ensure_policies(client, EU_ACCOUNT, "webapp", documents, say=lambda _: None) == (arn,)


def version(number: int, *, default: bool = False) -> dict:
    return {
        "VersionId": f"v{number}",
        "IsDefaultVersion": default,
        "CreateDate": datetime(2026, 1, number, tzinfo=UTC),
    }


def test_a_changed_policy_gets_a_new_default_version_making_room_when_iam_holds_five():
    client, stub = iam_stub()
    new = {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Action": ["ecs:CreateService"], "Resource": "*"}],
    }
    arn = f"arn:aws:iam::{EU_ACCOUNT}:policy/webapp-cdk-execution-1"
    stub.add_response("get_policy", {"Policy": {"Arn": arn, "DefaultVersionId": "v5"}}, {"PolicyArn": arn})
    stub.add_response(
        "get_policy_version",
        {"PolicyVersion": {"Document": "%7B%22Version%22%3A%222012-10-17%22%2C%22Statement%22%3A%5B%5D%7D"}},
        {"PolicyArn": arn, "VersionId": "v5"},
    )
    versions = [version(n, default=n == 5) for n in range(1, POLICY_VERSIONS + 1)]
    stub.add_response("list_policy_versions", {"Versions": versions}, {"PolicyArn": arn})
    stub.add_response("delete_policy_version", {}, {"PolicyArn": arn, "VersionId": "v1"})
    stub.add_response(
        "create_policy_version",
        {"PolicyVersion": {"VersionId": "v6"}},
        {"PolicyArn": arn, "PolicyDocument": json.dumps(new, separators=(",", ":")), "SetAsDefault": True},
    )
    with stub:
        assert ensure_policies(client, EU_ACCOUNT, "webapp", (new,), say=lambda _: None) == (arn,)


def test_an_unchanged_policy_is_left_alone():
    client, stub = iam_stub()
    same = {"Version": "2012-10-17", "Statement": []}
    arn = f"arn:aws:iam::{EU_ACCOUNT}:policy/webapp-cdk-execution-1"
    stub.add_response("get_policy", {"Policy": {"Arn": arn, "DefaultVersionId": "v2"}}, {"PolicyArn": arn})
    stub.add_response(
        "get_policy_version",
        {"PolicyVersion": {"Document": json.dumps(same)}},
        {"PolicyArn": arn, "VersionId": "v2"},
    )
    with stub:
        assert ensure_policies(client, EU_ACCOUNT, "webapp", (same,), say=lambda _: None) == (arn,)


class PoliciesExist:
    """An IAM client where every role and execution policy exists already, with today's document."""

    def __init__(self, assembly: CloudAssembly) -> None:
        self.documents = {
            f"arn:aws:iam::{b.account}:policy/webapp-cdk-execution-{i + 1}": document
            for b in account_bootstraps(assembly)
            for i, document in enumerate(b.policies)
        }

    def get_role(self, RoleName):  # noqa: N803 (botocore's parameter names)
        return {"Role": {"RoleName": RoleName}}

    def get_policy(self, PolicyArn):  # noqa: N803
        return {"Policy": {"Arn": PolicyArn, "DefaultVersionId": "v1"}}

    def get_policy_version(self, PolicyArn, VersionId):  # noqa: N803
        return {"PolicyVersion": {"Document": self.documents[PolicyArn]}}


def test_make_bootstrap_runs_one_command_per_account_with_its_profile(
    synth_cache, tmp_path, monkeypatch, capsys
):
    tools = "123456789012"  # a real account: the tests' own is the placeholder, which every command refuses
    assembly = CloudAssembly.read(for_account(synth_cache("accounts").outdir, tmp_path / "cdk.out", tools))
    monkeypatch.setenv("ACCOUNT_PROFILES", f"{EU_ACCOUNT}=eu-prod,{APAC_ACCOUNT}=apac-prod")
    monkeypatch.setattr(accounts, "operator_aws", lambda *_: bootstraps({}))
    ran = []

    def execute(command, **_options):
        ran.append(command[1:])
        return type("Done", (), {"returncode": 0})()

    assert (
        operate.run(
            "bootstrap",
            str(assembly.directory),
            credentials=True,
            iam=PoliciesExist(assembly),
            execute=execute,
            fetch=lambda stack: None,  # no stack deployed yet
        )
        == 0
    )
    count = {plan.account: len(plan.policies) for plan in account_bootstraps(assembly)}
    policies = {
        account: ",".join(
            f"arn:aws:iam::{account}:policy/webapp-cdk-execution-{n}" for n in range(1, count[account] + 1)
        )
        for account in (EU_ACCOUNT, APAC_ACCOUNT, STAGING_ACCOUNT, DNS_ACCOUNT)
    }
    trust = ["--trust", tools, "--cloudformation-execution-policies"]
    # The pipeline's account first, as a one-account app is bootstrapped.
    assert sorted(ran[0][1:]) == sorted(
        f"aws://{tools}/{r}" for r in ("eu-west-2", "eu-west-1", "eu-central-1", "ap-southeast-1")
    )
    assert sorted(ran[1:]) == sorted(
        [
            [
                "bootstrap",
                f"aws://{DNS_ACCOUNT}/eu-west-2",
                *trust,
                policies[DNS_ACCOUNT],
            ],
            ["bootstrap", f"aws://{STAGING_ACCOUNT}/eu-west-1", *trust, policies[STAGING_ACCOUNT]],
            [
                "bootstrap",
                # In deploy order: Frankfurt's stack before London's.
                f"aws://{EU_ACCOUNT}/eu-central-1",
                f"aws://{EU_ACCOUNT}/eu-west-2",
                *trust,
                policies[EU_ACCOUNT],
                "--profile",
                "eu-prod",
            ],
            [
                "bootstrap",
                f"aws://{APAC_ACCOUNT}/ap-southeast-1",
                *trust,
                policies[APAC_ACCOUNT],
                "--profile",
                "apac-prod",
            ],
        ]
    )
    out = capsys.readouterr().out
    # What will run, printed before anything is checked or created (reviewable without credentials).
    assert "    one cdk bootstrap per account, the pipeline's first:\n" in out
    assert (
        f"      cdk bootstrap aws://{APAC_ACCOUNT}/ap-southeast-1 --trust {tools} --cloudformation-execution-policies "
        f"'arn:aws:iam::{APAC_ACCOUNT}:policy/webapp-cdk-execution-<n>' --profile apac-prod\n"
    ) in out


def test_the_policies_also_cover_what_the_deployed_stacks_still_hold(assembly):
    """An update deletes a resource the new template drops, and its rollback makes it again: the execution role
    needs that resource type's permissions until the deploy that drops it is done."""
    database = {"Resources": {"Database": {"Type": "AWS::RDS::DBCluster", "Properties": {}}}}
    plans = account_bootstraps(assembly, lambda stack: database if stack.account == EU_ACCOUNT else None)
    granted = {
        plan.account: {
            action
            for document in plan.policies
            for statement in document["Statement"]
            for action in statement["Action"]
            if isinstance(statement["Action"], list)
        }
        for plan in plans
    }
    assert {"rds:CreateDBCluster", "rds:DeleteDBCluster"} <= granted[EU_ACCOUNT]
    assert "rds:DeleteDBCluster" not in granted[APAC_ACCOUNT]


class Bootstrapped:
    """CloudFormation of one account and region: its CDKToolkit stack's parameters, or none."""

    def __init__(self, parameters: dict[str, str] | None) -> None:
        self.parameters = parameters

    def describe_stacks(self, StackName):  # noqa: N803 (botocore's names)
        if self.parameters is None:
            raise ClientError(
                {
                    "Error": {
                        "Code": "ValidationError",
                        "Message": f"Stack with id {StackName} does not exist",
                    }
                },
                "DescribeStacks",
            )
        values = [{"ParameterKey": k, "ParameterValue": v} for k, v in self.parameters.items()]
        return {"Stacks": [{"StackName": StackName, "Parameters": values}]}


def bootstraps(by_account: dict[str, dict[str, str]]) -> Aws:
    """Operator calls where each account's regions are bootstrapped as ``by_account`` says (absent: not yet)."""
    return Aws(
        lambda service, region: None,
        accounts=lambda account: lambda service, region: Bootstrapped(by_account.get(account)),
    )


def test_replacing_another_apps_bootstrap_is_refused_unless_asked(synth_cache, tmp_path, monkeypatch):
    tools = "123456789012"
    assembly = CloudAssembly.read(for_account(synth_cache("accounts").outdir, tmp_path / "cdk.out", tools))
    admin = {
        "TrustedAccounts": "",
        "CloudFormationExecutionPolicies": "arn:aws:iam::aws:policy/AdministratorAccess",
    }
    monkeypatch.setattr(accounts, "operator_aws", lambda *_: bootstraps({EU_ACCOUNT: admin}))
    ran = []

    def execute(command, **_options):
        ran.append(command)
        return type("Done", (), {"returncode": 0})()

    options = {
        "credentials": True,
        "iam": PoliciesExist(assembly),
        "execute": execute,
        "fetch": lambda s: None,
    }
    with pytest.raises(operate.OperatorError) as raised:
        operate.run("bootstrap", str(assembly.directory), **options)
    assert str(raised.value).startswith(
        f"account {EU_ACCOUNT} (eu-central-1) is bootstrapped for something else: make bootstrap would replace "
        "the execution policy arn:aws:iam::aws:policy/AdministratorAccess"
    )
    assert str(raised.value).endswith("run it again with REPLACE_BOOTSTRAP=1 to replace them")
    monkeypatch.setenv("REPLACE_BOOTSTRAP", "1")
    assert operate.run("bootstrap", str(assembly.directory), **options) == 0
    assert len(ran) == 5


@pytest.mark.parametrize(
    ("parameters", "lost"),
    [
        (
            {"TrustedAccounts": [], "CloudFormationExecutionPolicies": []},
            "the execution policy arn:aws:iam::aws:policy/AdministratorAccess (CDK's default)",
        ),
        ({"TrustedAccounts": [ACCOUNT], "CloudFormationExecutionPolicies": ["ours"]}, None),
        (
            {"TrustedAccounts": [ACCOUNT, "999999999999"], "CloudFormationExecutionPolicies": ["ours"]},
            "its trust in 999999999999",
        ),
        (
            {"TrustedAccounts": [], "CloudFormationExecutionPolicies": ["theirs"]},
            "the execution policy theirs",
        ),
    ],
)
def test_what_a_bootstrap_would_take_away(parameters, lost):
    assert replaced(parameters, ACCOUNT, ("ours",)) == lost


def test_the_execution_role_may_read_the_stack_outputs_its_stacks_reference_and_no_others(
    tmp_path_factory, iam_simulator
):
    """Fn::GetStackOutput without RoleArn is resolved as the reading stack's execution role (its reference):
    integ_accounts' assertion stacks in the production account read the regional stacks' outputs."""
    from test_integ_apps import synthesized

    app = CloudAssembly.read(synthesized(tmp_path_factory, "integ_accounts"))
    production = app.stacks["it-accounts-snapshot-eu-west-2"].account
    role = Caller(
        f"arn:aws:iam::{production}:role/cdk-hnb659fds-cfn-exec-role-{production}-eu-west-2",
        tuple(execution_policies(app, production)),
        "AWSCloudFormation",
    )
    for region in ("eu-west-2", "ap-southeast-1"):
        regional = f"arn:aws:cloudformation:{region}:{production}:stack/it-accounts-snapshot-{region}/abc"
        assert iam_simulator.decide(role, "cloudformation:DescribeStacks", regional) == ALLOWED
    other = f"arn:aws:cloudformation:eu-west-2:{production}:stack/another-app/abc"
    assert iam_simulator.decide(role, "cloudformation:DescribeStacks", other) != ALLOWED
    # The zone account's stack reads no other stack's outputs: no such grant there.
    zone = app.stacks["it-accounts-snapshot-dns"].account
    statements = [s for d in execution_policies(app, zone) for s in d["Statement"]]
    assert not [s for s in statements if "cloudformation:DescribeStacks" in json.dumps(s)]
