"""Changes to the domain's shared records that Route 53 refuses when the regions deploy in parallel.

Every production region's stack holds its own records for the shared name (``domain_name``): one latency
record, or one geolocation record per residency location. ``make deploy`` updates the regional stacks at
the same time, so a change that needs one stack's record gone before another stack's is created fails in
whichever order CloudFormation happens to reach them: Route 53 keeps one routing policy per name and type,
and one geolocation record per location (botocore's route53 model, ResourceRecordSet). A routing switch fails
even within one stack, which creates new records before it deletes old ones. Each such change is named with
the two-deploy path that works.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Mapping

RECORD_SET = "AWS::Route53::RecordSet"


def shared_records(template: dict) -> dict[tuple[str, str], str]:
    """(record name, location or "latency") -> routing policy, for the template's routed records."""
    found = {}
    for resource in template.get("Resources", {}).values():
        properties = resource.get("Properties", {})
        if resource.get("Type") != RECORD_SET or "SetIdentifier" not in properties:
            continue
        if "GeoLocation" in properties:
            found[properties["Name"], json.dumps(properties["GeoLocation"], sort_keys=True)] = "geolocation"
        elif "Region" in properties:
            found[properties["Name"], "latency"] = "latency"
    return found


def _owners(templates: Mapping[str, dict | None]) -> dict[tuple[str, str], tuple[str, str]]:
    """(name, location) -> (stack, routing policy) over every template given."""
    return {
        key: (stack, policy)
        for stack, template in templates.items()
        if template is not None
        for key, policy in shared_records(template).items()
    }


def _policies(owners: Mapping[tuple[str, str], tuple[str, str]]) -> dict[str, set[str]]:
    """Shared name -> the routing policies of its records."""
    found: dict[str, set[str]] = defaultdict(set)
    for (name, _), (_, policy) in owners.items():
        found[name].add(policy)
    return found


def _location(key: str) -> str:
    if key == "latency":
        return "latency"
    location = json.loads(key)
    return (
        "*"
        if location.get("CountryCode") == "*"
        else location.get("ContinentCode") or location["CountryCode"]
    )


def routing_changes(deployed: Mapping[str, dict | None], synthesized: Mapping[str, dict]) -> list[str]:
    """One line per shared-record change that cannot go out in one parallel deploy."""
    before, after = _owners(deployed), _owners(synthesized)
    old, new = _policies(before), _policies(after)
    lines = [
        f"{name.rstrip('.')}: routing cannot change from {'/'.join(sorted(old[name]))} to {'/'.join(sorted(new[name]))} in one "
        "deploy (Route 53 keeps one routing policy per name, and CloudFormation creates the new records before it "
        "deletes the old ones); deploy with routing none first (the shared name stops answering for some minutes; "
        "the regional names stay), then with the new routing"
        for name in sorted(old.keys() & new.keys())
        if old[name] != new[name]
    ]
    if lines:
        return lines
    for key, (stack, _) in sorted(after.items()):
        if key[1] == "latency":
            continue  # every region has its own latency record
        owner = before.get(key)
        if owner is not None and owner[0] != stack:
            location = _location(key[1])
            first = (
                "deploy with routing none first, then with the new residency"
                if location == "*"
                else f"deploy without {location} in residency first (its users fall to their continent or *), "
                "then with it in the new region"
            )
            lines.append(
                f"{key[0].rstrip('.')}: residency {location} cannot move from {owner[0]} to {stack} in one deploy "
                f"(Route 53 keeps one record per location, and the regions deploy in parallel); {first}"
            )
    return lines
