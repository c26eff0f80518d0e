"""The operator commands' IAM actions: real action names, and docs/operating.md lists exactly those."""

from __future__ import annotations

import json
import re
from pathlib import Path
from types import SimpleNamespace

import pytest
from cfn_resolver import Resolver
from iam_simulator import ALLOWED, Caller
from template_queries import only, resources

from tools.operate import deploy, destroy, halt, release, rollback, status

ROOT = Path(__file__).resolve().parent.parent
IAM_DATA = ROOT / "node_modules" / "@cloud-copilot" / "iam-data" / "data" / "actions"
COMMANDS = {
    "make release": release,
    "make halt": SimpleNamespace(PERMISSIONS=halt.HALT_PERMISSIONS),
    "make resume": SimpleNamespace(PERMISSIONS=halt.RESUME_PERMISSIONS),
    "make rollback": rollback,
    "make status": status,
    "make deploy": deploy,
    "make destroy": destroy,
}


@pytest.mark.parametrize("command", COMMANDS)
def test_every_permission_is_an_iam_action_and_needs_no_other(command):
    for permission in COMMANDS[command].PERMISSIONS:
        prefix, name = permission.split(":")
        actions = json.loads((IAM_DATA / f"{prefix}.json").read_text())
        action = actions.get(name.lower())
        assert action is not None, (
            f"{permission} is not an action of {prefix} in the Service Authorization Reference"
        )
        assert action["name"] == name, permission
        # An action that needs another one to succeed would need that one listed too.
        dependent = {d for r in action["resourceTypes"] for d in r["dependentActions"]} | set(
            action["dependentActions"]
        )
        assert dependent <= set(COMMANDS[command].PERMISSIONS), (permission, dependent)


def test_the_docs_list_each_commands_permissions():
    readme = (ROOT / "docs" / "operating.md").read_text()
    for command, module in COMMANDS.items():
        (row,) = re.findall(rf"^\| `{command}` \| (`[a-z0-9-]+:\w+`.*) \|$", readme, flags=re.MULTILINE)
        assert re.findall(r"`([^`]+)`", row) == list(module.PERMISSIONS), command


def test_the_operator_may_upload_the_source_over_tls_and_needs_no_key(default_synth, iam_simulator):
    """make release's PutObject, decided by IAM's rules against the synthesized bucket policy."""
    resolver = Resolver.from_synthesized(default_synth)
    stack_name = f"{default_synth.config.app_name}-pipeline"
    template = default_synth.pipeline
    (source_stage, *_) = only(template, "AWS::CodePipeline::Pipeline")[1]["Properties"]["Stages"]
    bucket_id = source_stage["Actions"][0]["Configuration"]["S3Bucket"]["Ref"]
    (policy,) = (
        p["Properties"]["PolicyDocument"]
        for p in resources(template, "AWS::S3::BucketPolicy").values()
        if p["Properties"]["Bucket"] == {"Ref": bucket_id}
    )
    bucket = resolver.ref(resolver.stacks[stack_name], bucket_id)
    operator = Caller(
        f"arn:aws:iam::{default_synth.config.account}:role/operator",
        (
            {
                "Version": "2012-10-17",
                "Statement": [{"Effect": "Allow", "Action": list(release.PERMISSIONS), "Resource": "*"}],
            },
        ),
    )
    upload = {"resource_policy": resolver.resolve(stack_name, policy)}
    source = f"arn:aws:s3:::{bucket}/source.zip"
    assert iam_simulator.decide(operator, "s3:PutObject", source, **upload) == ALLOWED
    assert (
        iam_simulator.decide(
            operator, "s3:PutObject", source, **upload, context={"aws:SecureTransport": "false"}
        )
        == "ExplicitlyDenied"
    )
    # S3-managed encryption: no KMS key policy or kms: action stands between the operator and the upload.
    (rule,) = template["Resources"][bucket_id]["Properties"]["BucketEncryption"][
        "ServerSideEncryptionConfiguration"
    ]
    assert rule["ServerSideEncryptionByDefault"] == {"SSEAlgorithm": "AES256"}


def test_the_docs_scope_the_halt_and_resume_actions_to_the_resources_iam_authorizes_them_on(iam_simulator):
    """DisableStageTransition and EnableStageTransition are authorized on the stage, not the pipeline: a policy
    scoped to the pipeline's ARN alone denies make halt and make resume; one on ``<pipeline ARN>/*`` allows."""
    actions = json.loads((IAM_DATA / "codepipeline.json").read_text())
    for name in ("disablestagetransition", "enablestagetransition"):
        assert [r["name"] for r in actions[name]["resourceTypes"]] == ["stage"]
    assert "`<pipeline ARN>/*`" in (ROOT / "docs" / "operating.md").read_text()
    pipeline = "arn:aws:codepipeline:eu-west-2:111111111111:webapp-pipeline"

    def operator(resource: str) -> Caller:
        statement = {"Effect": "Allow", "Action": list(halt.PERMISSIONS), "Resource": resource}
        return Caller(
            "arn:aws:iam::111111111111:role/operator", ({"Version": "2012-10-17", "Statement": [statement]},)
        )

    for action in ("codepipeline:DisableStageTransition", "codepipeline:EnableStageTransition"):
        assert iam_simulator.decide(operator(f"{pipeline}/*"), action, f"{pipeline}/Build") == ALLOWED
        assert iam_simulator.decide(operator(pipeline), action, f"{pipeline}/Build") != ALLOWED
    assert iam_simulator.decide(operator(pipeline), "codepipeline:GetPipelineState", pipeline) == ALLOWED


def test_the_docs_scope_the_rollback_actions_to_the_resources_iam_authorizes_them_on(iam_simulator):
    """The resource types docs/operating.md names for make rollback are the Service Authorization Reference's,
    and RollbackStage, like the transitions, is allowed on ``<pipeline ARN>/*`` and denied on the pipeline's."""
    types = {
        (service, action): [
            r["name"] for r in json.loads((IAM_DATA / f"{service}.json").read_text())[action]["resourceTypes"]
        ]
        for service, action in (
            ("codepipeline", "rollbackstage"),
            ("codedeploy", "createdeployment"),
            ("codedeploy", "getapplicationrevision"),
            ("codedeploy", "getdeploymentconfig"),
            ("ecs", "describetaskdefinition"),
            ("ecs", "updateservice"),
        )
    }
    assert types == {
        ("codepipeline", "rollbackstage"): ["stage"],
        ("codedeploy", "createdeployment"): ["deploymentgroup"],
        ("codedeploy", "getapplicationrevision"): ["application"],
        ("codedeploy", "getdeploymentconfig"): ["deploymentconfig"],
        ("ecs", "describetaskdefinition"): [],
        ("ecs", "updateservice"): ["service"],
    }
    pipeline = "arn:aws:codepipeline:eu-west-2:111111111111:webapp-pipeline"

    def operator(resource: str) -> Caller:
        statement = {"Effect": "Allow", "Action": ["codepipeline:RollbackStage"], "Resource": resource}
        return Caller(
            "arn:aws:iam::111111111111:role/operator", ({"Version": "2012-10-17", "Statement": [statement]},)
        )

    stage = f"{pipeline}/Deploy_to_Production_wave_1"
    assert iam_simulator.decide(operator(f"{pipeline}/*"), "codepipeline:RollbackStage", stage) == ALLOWED
    assert iam_simulator.decide(operator(pipeline), "codepipeline:RollbackStage", stage) != ALLOWED
