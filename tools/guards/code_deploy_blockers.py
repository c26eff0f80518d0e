"""Changes `cdk deploy` cannot apply to an ECS service whose deployment controller is CodeDeploy.

ECS's UpdateService documentation (botocore's ``ecs`` model): for a
``CODE_DEPLOY`` service "only the desired count, deployment configuration,
health check grace period, task placement constraints and strategies, enable
ECS managed tags option, and propagate tags can be updated ... If the network
configuration, platform version, task definition, or load balancer need to be
updated, create a new CodeDeploy deployment". CloudFormation therefore fails
(and rolls back) an update that changes those properties of the service, or
that replaces a resource they name: a target group or subnet whose
create-only property changes (CloudFormation's resource schemas,
``createOnlyProperties``) gets a new ARN or id, which the service would have
to switch to.

``blocked_changes`` compares a deployed template with the synthesized one and
names each such change once, by the configuration setting behind it.

A change of ``deployment_engine`` on a deployed region is refused on its own: it
changes the service's deployment controller, and the project supports moving
engines only as a second copy (docs/deployment-engines.md, "Moving a running app from codedeploy to ecs").
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass

from tools.guards.create_only import CREATE_ONLY

CODE_DEPLOY = "CODE_DEPLOY"
# Properties of AWS::ECS::Service an update cannot change under CODE_DEPLOY (see the module docstring).
FROZEN_SERVICE_PROPERTIES = ("LoadBalancers", "NetworkConfiguration", "PlatformVersion", "TaskDefinition")
# What those properties name, whose create-only properties (tools/guards/create_only.py) may replace it.
NAMED_TYPES = ("AWS::ElasticLoadBalancingV2::TargetGroup", "AWS::EC2::Subnet", "AWS::EC2::SecurityGroup")
# (resource type, property) -> the configuration setting that changes it.
SETTINGS = {
    ("AWS::ElasticLoadBalancingV2::TargetGroup", "Port"): "container_port",
    ("AWS::ECS::Service", "ContainerPort"): "container_port",
    ("AWS::ECS::Service", "ContainerName"): "container_name",
    ("AWS::EC2::Subnet", "AvailabilityZone"): "availability_zones",
    ("AWS::EC2::Subnet", "AvailabilityZoneId"): "availability_zones",
    # The VPC divides its range by zone count: another number of zones moves every subnet's range.
    ("AWS::EC2::Subnet", "CidrBlock"): "availability_zones",
    ("AWS::ECS::Service", "Subnets"): "availability_zones",
}
ADVICE = (
    "keep the deployed value, or deploy the change as a second copy (another app_name) and move traffic to it, "
    "or delete this regional stack{retained} and deploy it again (downtime; its load balancer's deletion "
    "protection off first: docs/teardown.md, Tearing a region down)"
)
# Retained resources whose name the template fixes: they outlive the stack, and a new stack cannot create them.
NAMED_RETAINED = {
    "AWS::ECR::Repository": ("RepositoryName", "ECR repository"),
    "AWS::S3::Bucket": ("BucketName", "S3 bucket"),
}


@dataclass(frozen=True)
class Change:
    """One property of one resource that differs, and the setting behind it."""

    setting: str
    what: str
    deployed: object
    synthesized: object

    def line(self, stack: str, retained: list[str]) -> str:
        then = f", then its retained {' and '.join(retained)}," if retained else ""
        return (
            f"{stack}: {self.setting} cannot change on a running CODE_DEPLOY service ({self.what}: "
            f"{show(self.deployed)} -> {show(self.synthesized)}); {ADVICE.format(retained=then)}"
        )


def retained_names(template: dict) -> list[str]:
    """The fixed names of the template's retained resources (a redeployed stack would collide with them)."""
    names = []
    for resource in template.get("Resources", {}).values():
        name_property, kind = NAMED_RETAINED.get(resource["Type"], (None, None))
        name = resource.get("Properties", {}).get(name_property)
        if isinstance(name, str) and resource.get("DeletionPolicy") in ("Retain", "RetainExceptOnCreate"):
            names.append(f"{kind} {name}")
    return names


def show(value: object) -> str:
    return value if isinstance(value, str) else json.dumps(value, sort_keys=True)


def references(value: object) -> Iterator[str]:
    """Logical ids named by ``Ref`` / ``Fn::GetAtt`` anywhere in ``value``."""
    if isinstance(value, dict):
        if "Ref" in value and len(value) == 1:
            yield value["Ref"]
        elif "Fn::GetAtt" in value and len(value) == 1:
            yield value["Fn::GetAtt"][0]
        else:
            for item in value.values():
                yield from references(item)
    elif isinstance(value, list):
        for item in value:
            yield from references(item)


def service_changes(service_id: str, deployed: dict, synthesized: dict) -> Iterator[Change]:
    old, new = deployed.get("Properties", {}), synthesized.get("Properties", {})
    for name in FROZEN_SERVICE_PROPERTIES:
        if old.get(name) == new.get(name):
            continue
        if name == "LoadBalancers":
            for before, after in zip(old.get(name, []), new.get(name, []), strict=False):
                for key in ("ContainerName", "ContainerPort"):
                    if before.get(key) != after.get(key):
                        yield Change(
                            SETTINGS["AWS::ECS::Service", key],
                            f"{service_id}.{key}",
                            before.get(key),
                            after.get(key),
                        )
            if len(old.get(name, [])) != len(new.get(name, [])):
                yield Change("the load balancers", f"{service_id}.{name}", old.get(name), new.get(name))
        elif name == "NetworkConfiguration":
            before = old.get(name, {}).get("AwsvpcConfiguration", {})
            after = new.get(name, {}).get("AwsvpcConfiguration", {})
            for key in sorted(set(before) | set(after)):
                if before.get(key) != after.get(key):
                    setting = SETTINGS.get(("AWS::ECS::Service", key), "the service's network")
                    yield Change(setting, f"{service_id}.{key}", before.get(key), after.get(key))
        else:
            yield Change(f"the service's {name}", f"{service_id}.{name}", old.get(name), new.get(name))


def replaced(logical_id: str, deployed: dict, synthesized: dict | None) -> Iterator[Change]:
    """The create-only properties of ``logical_id`` that change (or its removal)."""
    resource_type = deployed["Type"]
    if synthesized is None or synthesized["Type"] != resource_type:
        yield Change(f"the service's {resource_type}", logical_id, "deployed", "removed or replaced")
        return
    old, new = deployed.get("Properties", {}), synthesized.get("Properties", {})
    for name in CREATE_ONLY[resource_type]:
        if old.get(name) != new.get(name):
            setting = SETTINGS.get(
                (resource_type, name), f"the service's {resource_type.split('::')[-1]} {name}"
            )
            yield Change(setting, f"{logical_id}.{name}", old.get(name), new.get(name))


ENGINES = {CODE_DEPLOY: "codedeploy", "ECS": "ecs"}
ENGINE_ADVICE = (
    "deploy the new engine as a second copy (another app_name), move traffic to it, then delete this copy "
    "(docs/deployment-engines.md: Moving a running app from codedeploy to ecs)"
)


def controller(resource: dict) -> str:
    return resource.get("Properties", {}).get("DeploymentController", {}).get("Type", "ECS")


def engine_changes(stack: str, old_resources: dict, new_resources: dict) -> list[str]:
    """A line per service whose deployment controller (``deployment_engine``) would change in place."""
    return [
        f"{stack}: deployment_engine cannot change on a deployed region ({service_id}: "
        f"{ENGINES.get(controller(old), controller(old))} -> {ENGINES.get(controller(new), controller(new))}); "
        + ENGINE_ADVICE
        for service_id, old in old_resources.items()
        if old["Type"] == "AWS::ECS::Service"
        and (new := new_resources.get(service_id)) is not None
        and controller(old) != controller(new)
    ]


def blocked_changes(stack: str, deployed: dict, synthesized: dict) -> list[str]:
    """One line per setting whose change `cdk deploy` cannot apply to ``stack``'s CODE_DEPLOY services."""
    old_resources, new_resources = deployed.get("Resources", {}), synthesized.get("Resources", {})
    switched = engine_changes(stack, old_resources, new_resources)
    if switched:  # every other difference follows from it
        return switched
    changes: list[Change] = []
    for service_id, service in old_resources.items():
        properties = service.get("Properties", {})
        if (
            service["Type"] != "AWS::ECS::Service"
            or properties.get("DeploymentController", {}).get("Type") != CODE_DEPLOY
        ):
            continue
        if service_id not in new_resources:
            continue  # the service itself goes; CloudFormation deletes it
        changes += service_changes(service_id, service, new_resources[service_id])
        named = {lid for name in FROZEN_SERVICE_PROPERTIES for lid in references(properties.get(name))}
        for logical_id in sorted(named & set(old_resources)):
            if old_resources[logical_id]["Type"] in NAMED_TYPES:
                changes += replaced(logical_id, old_resources[logical_id], new_resources.get(logical_id))
    lines, seen, retained = [], set(), retained_names(synthesized)
    for change in changes:
        if change.setting not in seen:
            seen.add(change.setting)
            lines.append(change.line(stack, retained))
    return lines


LISTENER = "AWS::ElasticLoadBalancingV2::Listener"
# CodeDeploy moves these listeners between the blue and green target groups on every release.
ROUTES = {"ProdTrafficRoute": "production", "TestTrafficRoute": "test"}


@dataclass(frozen=True)
class ListenerUpdate:
    """A listener CodeDeploy routes that the update modifies, and the target group the template forwards to.

    CloudFormation's update sends the template's whole ``DefaultActions`` (forward to ``target_group``), also
    when only a resource the listener names changes (a new certificate), but
    after an odd number of releases CodeDeploy has left the listener on the other target group, and the
    template's one is empty: the update would send every request there.
    """

    route: str
    listener: str
    target_group: str
    changed: tuple[str, ...]

    def line(self, stack: str) -> str:
        return (
            f"{stack}: the {self.route} listener changes ({self.listener}: {', '.join(self.changed)}), and "
            f"CloudFormation would forward it to {self.target_group}, the target group CodeDeploy's last release "
            "left empty; release once more (CodeDeploy moves the listener back to it), then deploy"
        )


def listener_updates(deployed: dict, synthesized: dict) -> list[ListenerUpdate]:
    """The CodeDeploy-routed listeners whose properties the update changes."""
    old_resources, new_resources = deployed.get("Resources", {}), synthesized.get("Resources", {})
    found = []
    for group in old_resources.values():
        if group["Type"] != "AWS::CodeDeploy::DeploymentGroup":
            continue
        pairs = group.get("Properties", {}).get("LoadBalancerInfo", {}).get("TargetGroupPairInfoList", [])
        for pair in pairs:
            for key, route in ROUTES.items():
                for listener_id in references(pair.get(key, {}).get("ListenerArns")):
                    old, new = old_resources.get(listener_id), new_resources.get(listener_id)
                    if old is None or new is None or new["Type"] != LISTENER:
                        continue
                    before, after = old.get("Properties", {}), new.get("Properties", {})
                    changed = tuple(
                        sorted(k for k in set(before) | set(after) if before.get(k) != after.get(k))
                    )
                    # A resource it names that changes (a certificate for another domain is a new one, with
                    # a new ARN) makes CloudFormation update the listener with the same template text.
                    changed += tuple(
                        sorted(
                            f"{ref} changes"
                            for ref in set(references(after))
                            if old_resources.get(ref) != new_resources.get(ref)
                            and new_resources.get(ref, {}).get("Type")
                            != "AWS::ElasticLoadBalancingV2::TargetGroup"
                        )
                    )
                    forwards = next(references(after.get("DefaultActions")), None)
                    if changed and forwards is not None:
                        found.append(ListenerUpdate(route, listener_id, forwards, changed))
    return found
