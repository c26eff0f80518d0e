"""Updates that would re-send an ECS blue/green service's traffic routing while production is on green.

With Amazon ECS's own blue/green deployments (``deployment_engine: ecs``) every release swaps which target
group serves production: ECS re-weights the production and test listener rules, so after an odd number of
releases production runs on the service's alternate (green) target group while the template still says
blue 100, green 0 and names blue as the service's target group. An update that makes CloudFormation send
those resources again sends the template's view: a changed listener rule is written back to its template
weights (aws/aws-cdk#36649), and an UpdateService carrying the load balancers re-names blue as primary
(hashicorp/terraform-provider-aws#45678); what ECS does with that is not documented. CloudFormation
updates a resource only when its template properties, or the values of what they reference, change; the
latter happens when a referenced resource is replaced (a new task definition revision, a new target
group), which this module finds through CloudFormation's create-only properties.

``traffic_updates`` names, per ECS-controlled service, what such an update touches; ``make diff`` and
``make deploy`` then read the live production rule and refuse only while it forwards elsewhere than the
template's primary target group, as they do for CodeDeploy's listeners (tools/guards/code_deploy_blockers.py).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from tools.guards.code_deploy_blockers import references
from tools.guards.create_only import CREATE_ONLY

SERVICE = "AWS::ECS::Service"


@dataclass(frozen=True)
class TrafficUpdate:
    """An ECS-controlled service whose routing an update touches, and the target groups its template names."""

    service: str
    production_rule: str
    primary: str  # the service's TargetGroupArn in the template (blue)
    alternate: str  # its AlternateTargetGroupArn (green)
    changed: tuple[str, ...]

    def line(self, stack: str) -> str:
        return (
            f"{stack}: the update touches how {self.service} routes traffic ({'; '.join(self.changed)}), and "
            f"ECS's last release left production on {self.alternate}, the alternate target group, while "
            f"CloudFormation would send the template's view ({self.primary} as primary, aws/aws-cdk#36649, "
            "hashicorp/terraform-provider-aws#45678); release once more (ECS moves production back to "
            f"{self.primary}), then deploy"
        )


def replaced(logical_id: str, old_resources: dict, new_resources: dict) -> bool:
    """Whether the update replaces (or removes) ``logical_id``: its references then resolve to a new value."""
    old, new = old_resources.get(logical_id), new_resources.get(logical_id)
    if old is None:
        return False  # created by this update: whatever names it changes its own text
    if new is None or new["Type"] != old["Type"]:
        return True
    before, after = old.get("Properties", {}), new.get("Properties", {})
    return any(before.get(name) != after.get(name) for name in CREATE_ONLY.get(old["Type"], ()))


def _changes(logical_id: str, old_resources: dict, new_resources: dict) -> Iterator[str]:
    """What of ``logical_id`` the update changes: its own properties, or a replaced resource it references."""
    before = old_resources[logical_id].get("Properties", {})
    after = new_resources[logical_id].get("Properties", {})
    keys = sorted(k for k in set(before) | set(after) if before.get(k) != after.get(k))
    if keys:
        yield f"{logical_id}: {', '.join(keys)}"
    for reference in sorted(set(references(after))):
        if replaced(reference, old_resources, new_resources):
            yield f"{reference} replaced"


def traffic_updates(deployed: dict, synthesized: dict) -> list[TrafficUpdate]:
    """Every ECS-controlled service of the stack whose routing (service or listener rules) the update touches."""
    old_resources, new_resources = deployed.get("Resources", {}), synthesized.get("Resources", {})
    found = []
    for service_id, service in old_resources.items():
        properties = service.get("Properties", {})
        if (
            service["Type"] != SERVICE
            or properties.get("DeploymentController", {}).get("Type", "ECS") != "ECS"
        ):
            continue
        if new_resources.get(service_id, {}).get("Type") != SERVICE:
            continue  # the service itself goes
        for balancer in properties.get("LoadBalancers", []):
            advanced = balancer.get("AdvancedConfiguration")
            if not advanced:
                continue
            rules = [
                next(references(advanced[key]))
                for key in ("ProductionListenerRule", "TestListenerRule")
                if key in advanced
            ]
            changed = list(_changes(service_id, old_resources, new_resources))
            for rule in rules:
                if rule in new_resources:
                    changed += _changes(rule, old_resources, new_resources)
                else:
                    changed.append(f"{rule} removed")
            if changed:
                found.append(
                    TrafficUpdate(
                        service=service_id,
                        production_rule=rules[0],
                        primary=next(references(balancer["TargetGroupArn"])),
                        alternate=next(references(advanced["AlternateTargetGroupArn"])),
                        changed=tuple(dict.fromkeys(changed)),
                    )
                )
    return found
