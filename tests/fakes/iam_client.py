"""Asks the IAM simulator (tests/iam/simulator_server.mjs) whether a role may make one request.

Standard library only: the `aws` and `docker` stand-ins import it too.
"""

from __future__ import annotations

import json
import socket
from dataclasses import dataclass

ALLOWED = "Allowed"


@dataclass(frozen=True)
class Caller:
    """A role session making requests: its role, the session AWS names, and the role's policies."""

    role_arn: str
    policies: tuple[dict, ...]
    session_name: str = "session"

    @property
    def account(self) -> str:
        return self.role_arn.split(":")[4]

    @property
    def session_arn(self) -> str:
        name = self.role_arn.rsplit("/", 1)[1]
        return f"arn:aws:sts::{self.account}:assumed-role/{name}/{self.session_name}"

    def to_json(self) -> dict:
        return {"role_arn": self.role_arn, "policies": list(self.policies), "session_name": self.session_name}

    @classmethod
    def from_json(cls, data: dict) -> Caller:
        return cls(data["role_arn"], tuple(data["policies"]), data.get("session_name", "session"))


def request_context(caller: Caller, extra: dict[str, str] | None = None) -> dict[str, str]:
    """The global condition keys AWS sets on every signed request of a role session over TLS."""
    return {
        "aws:PrincipalArn": caller.role_arn,
        "aws:PrincipalAccount": caller.account,
        "aws:PrincipalType": "AssumedRole",
        "aws:SecureTransport": "true",
        **(extra or {}),
    }


def simulation(
    caller: Caller,
    action: str,
    resource: str,
    *,
    resource_policy: dict | None = None,
    resource_account: str | None = None,
    context: dict[str, str] | None = None,
) -> dict:
    """An iam-simulate Simulation of ``caller`` calling ``action`` on ``resource``.

    ``resource_account``: the account that owns the resource (default: the caller's). When it is another one,
    the simulator evaluates the request as AWS evaluates a cross-account request: the caller's identity policy
    and the resource's policy (bucket, key, repository, trust policy) must both allow it.
    """
    request = {
        "request": {
            "principal": caller.session_arn,
            "action": action,
            "resource": {"resource": resource, "accountId": resource_account or caller.account},
            "contextVariables": request_context(caller, context),
        },
        "identityPolicies": [{"name": f"policy{i}", "policy": p} for i, p in enumerate(caller.policies)],
        "serviceControlPolicies": [],
        "resourceControlPolicies": [],
    }
    if resource_policy is not None:
        request["resourcePolicy"] = resource_policy
    return request


def service_simulation(
    service: str,
    action: str,
    resource: str,
    *,
    account: str,
    resource_policy: dict,
    context: dict[str, str] | None = None,
) -> dict:
    """An iam-simulate Simulation of an AWS service principal (``codebuild.amazonaws.com``) calling ``action``.

    ``context``: further request context (``aws:SourceArn``) on top of the source account and TLS.
    """
    return {
        "request": {
            "principal": service,
            "action": action,
            "resource": {"resource": resource, "accountId": account},
            "contextVariables": {
                "aws:SourceAccount": account,
                "aws:SecureTransport": "true",
                **(context or {}),
            },
        },
        "identityPolicies": [],
        "serviceControlPolicies": [],
        "resourceControlPolicies": [],
        "resourcePolicy": resource_policy,
    }


def ask(socket_path: str, request: dict) -> dict:
    """One answer of the simulator: {"decision": ...} or {"error": ...}."""
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as connection:
        connection.connect(socket_path)
        connection.sendall(json.dumps(request).encode() + b"\n")
        with connection.makefile("r") as answers:
            return json.loads(answers.readline())


def decide(socket_path: str, request: dict) -> str:
    """``Allowed``, ``ExplicitlyDenied`` or ``ImplicitlyDenied``; a request the simulator finds invalid raises."""
    answer = ask(socket_path, request)
    if "error" in answer:
        asked = request["request"]
        raise ValueError(
            f"IAM simulator rejected {asked['action']} on {asked['resource']['resource']}: {answer['error']}"
        )
    return answer["decision"]


def denial(socket_path: str, caller: Caller, action: str, resource: str, **options) -> str | None:
    """None when AWS would allow the request, else its AccessDenied message."""
    decision = decide(socket_path, simulation(caller, action, resource, **options))
    if decision == ALLOWED:
        return None
    why = (
        "with an explicit deny in a policy"
        if decision == "ExplicitlyDenied"
        else f"because no identity-based policy allows the {action} action"
    )
    return f"User: {caller.session_arn} is not authorized to perform: {action} on resource: {resource} {why}"
