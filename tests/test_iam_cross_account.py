"""The IAM simulator evaluates a request across accounts as AWS does, so cross-account paths can be proven offline.

AWS: "Cross-account policy evaluation logic" (IAM User Guide): a request from a principal in one account to a
resource in another is allowed only when the caller's identity-based policy allows it *and* the resource-based
policy (or trust, or key policy) names the caller; in one account either one is enough. Each case below is one
sentence of that page, asked of the simulator the permission contract uses.
"""

from __future__ import annotations

import pytest
from iam_simulator import ALLOWED, Caller

TOOLS, PRODUCTION = "111122223333", "444455556666"
BUILDER = f"arn:aws:iam::{TOOLS}:role/app-pipeline-build"
OBJECT = "arn:aws:s3:::artifacts-bucket/release/source.zip"
KEY = f"arn:aws:kms:eu-west-2:{PRODUCTION}:key/0a1b2c3d-1111-2222-3333-444455556666"
DEPLOYER = f"arn:aws:iam::{PRODUCTION}:role/app-deploy-action"


def allow(action: str, resource: str) -> dict:
    return {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Action": action, "Resource": resource}],
    }


def grant(principal: str, action: str, resource: str) -> dict:
    statement = {"Effect": "Allow", "Principal": {"AWS": principal}, "Action": action, "Resource": resource}
    return {"Version": "2012-10-17", "Statement": [statement]}


@pytest.fixture
def simulator(iam_simulator):
    return iam_simulator


@pytest.mark.parametrize(
    ("identity", "resource_policy", "owner", "decision"),
    [
        # Another account's bucket: both sides must allow.
        (True, False, PRODUCTION, "ImplicitlyDenied"),
        (False, True, PRODUCTION, "ImplicitlyDenied"),
        (True, True, PRODUCTION, ALLOWED),
        # The caller's own account: either side is enough.
        (True, False, TOOLS, ALLOWED),
        (False, True, TOOLS, ALLOWED),
    ],
    ids=[
        "cross-identity-only",
        "cross-bucket-policy-only",
        "cross-both",
        "same-identity",
        "same-bucket-policy",
    ],
)
def test_a_bucket_in_another_account_needs_both_policies(
    simulator, identity, resource_policy, owner, decision
):
    caller = Caller(BUILDER, (allow("s3:GetObject", OBJECT),) if identity else ())
    policy = grant(BUILDER, "s3:GetObject", OBJECT) if resource_policy else None
    assert (
        simulator.decide(caller, "s3:GetObject", OBJECT, resource_policy=policy, resource_account=owner)
        == decision
    )


def test_a_key_policy_granting_the_other_account_root_lets_only_roles_that_account_allows(simulator):
    """A key policy naming an account (its root) delegates to that account's IAM: its role still needs an
    identity policy allowing kms:Decrypt."""
    key_policy = grant(f"arn:aws:iam::{TOOLS}:root", "kms:Decrypt", "*")
    without = Caller(BUILDER, ())
    with_policy = Caller(BUILDER, (allow("kms:Decrypt", KEY),))
    assert (
        simulator.decide(without, "kms:Decrypt", KEY, resource_policy=key_policy, resource_account=PRODUCTION)
        != ALLOWED
    )
    assert (
        simulator.decide(
            with_policy, "kms:Decrypt", KEY, resource_policy=key_policy, resource_account=PRODUCTION
        )
        == ALLOWED
    )


def test_assuming_a_role_in_another_account_needs_its_trust_and_the_callers_permission(simulator):
    trust = grant(BUILDER, "sts:AssumeRole", DEPLOYER)
    allowed_caller = Caller(BUILDER, (allow("sts:AssumeRole", DEPLOYER),))
    other = Caller(f"arn:aws:iam::{TOOLS}:role/someone-else", (allow("sts:AssumeRole", DEPLOYER),))
    assert (
        simulator.decide(
            allowed_caller, "sts:AssumeRole", DEPLOYER, resource_policy=trust, resource_account=PRODUCTION
        )
        == ALLOWED
    )
    # The trust names one role: another role of the same account is not trusted, whatever it may do itself.
    assert (
        simulator.decide(
            other, "sts:AssumeRole", DEPLOYER, resource_policy=trust, resource_account=PRODUCTION
        )
        != ALLOWED
    )
