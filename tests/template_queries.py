"""Small readers for synthesized CloudFormation templates."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator

# A region code anywhere in a text (an ARN, an endpoint, a log group name).
REGION_CODE = re.compile(r"\b[a-z]{2}(?:-[a-z]+)+-\d{1,2}\b")


def resources(template: dict, resource_type: str) -> dict[str, dict]:
    """Logical id -> resource, for every resource of ``resource_type``."""
    return {lid: r for lid, r in template["Resources"].items() if r["Type"] == resource_type}


def only(template: dict, resource_type: str) -> tuple[str, dict]:
    """The single resource of ``resource_type`` (fails when there are none or several)."""
    found = resources(template, resource_type)
    assert len(found) == 1, f"expected one {resource_type}, found {sorted(found)}"
    return next(iter(found.items()))


def props(template: dict, resource_type: str) -> dict:
    return only(template, resource_type)[1].get("Properties", {})


def walk(value: object) -> Iterator[object]:
    """Every value nested in ``value``, depth first."""
    yield value
    if isinstance(value, dict):
        for item in value.values():
            yield from walk(item)
    elif isinstance(value, list):
        for item in value:
            yield from walk(item)


def intrinsic_calls(template: dict, function: str) -> list[object]:
    """The arguments of every use of an intrinsic function such as ``Fn::ImportValue``."""
    return [node[function] for node in walk(template) if isinstance(node, dict) and function in node]


def pipeline_stages(template: dict) -> list[dict]:
    return props(template, "AWS::CodePipeline::Pipeline")["Stages"]


def stage(template: dict, name: str) -> dict:
    matches = [s for s in pipeline_stages(template) if s["Name"] == name]
    assert len(matches) == 1, f"no single stage {name}"
    return matches[0]


# The stages of an app with staging, a manual approval and two production waves (tests/conftest.py's staged
# and ecs configurations).
STAGED_STAGES = [
    "Source",
    "Build",
    "Deploy_to_Staging",
    "Approve_Production",
    "Deploy_to_Production_wave_1",
    "Deploy_to_Production_wave_2",
]


def production_stages(template: dict) -> list[dict]:
    """The production deploy stages: ``Deploy_to_Production``, or one ``Deploy_to_Production_wave_<n>`` per wave."""
    return [s for s in pipeline_stages(template) if s["Name"].startswith("Deploy_to_Production")]


def build_spec(template: dict) -> dict:
    """The CodeBuild project's buildspec, parsed (CDK writes it as JSON)."""
    return json.loads(props(template, "AWS::CodeBuild::Project")["Source"]["BuildSpec"])


def role_policies(template: dict, role_id: str) -> str:
    """Every inline policy attached to the role ``role_id``, as one JSON text to search."""
    return json.dumps(
        [
            r["Properties"]["PolicyDocument"]
            for r in resources(template, "AWS::IAM::Policy").values()
            if {"Ref": role_id} in r["Properties"]["Roles"]
        ]
    )


def source_upload_rule(pipeline_template: dict) -> dict:
    """The properties of the pipeline stack's one EventBridge rule on S3 uploads (the S3 source's trigger)."""
    (rule,) = (
        r["Properties"]
        for r in resources(pipeline_template, "AWS::Events::Rule").values()
        if r["Properties"]["EventPattern"]["source"] == ["aws.s3"]
    )
    return rule


def service_task_definition_id(template: dict) -> str:
    """The logical id of the task definition the stack's ECS service runs (it names it, or its family).

    A stack with a database holds a second one: the database setup's.
    """
    _, service = only(template, "AWS::ECS::Service")
    named = service["Properties"]["TaskDefinition"]
    (found,) = [
        lid
        for lid, definition in resources(template, "AWS::ECS::TaskDefinition").items()
        if named in ({"Ref": lid}, definition["Properties"].get("Family"))
    ]
    return found


def service_task_definition(template: dict) -> dict:
    """The properties of the task definition the stack's ECS service runs."""
    return template["Resources"][service_task_definition_id(template)]["Properties"]
