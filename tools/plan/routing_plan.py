"""Where requests go, read from cdk.out alone: the routing part of `make plan`.

From the production stacks' Route 53 record sets (or the records they write in a hosted zone of another
account): with ``geolocation`` routing
the locations each production region serves (its records' ``GeoLocation``, ``*``
included), and a warning for a production region that serves none (deployed,
paid for, and never sent a request); with ``latency`` the regions it chooses
among; with ``none`` or without a domain, that each region answers on its own
name or address only.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field

from constructs.settings.locations import CONTINENTS, COUNTRY_PREFIX, EVERYWHERE_ELSE
from tools.cloud_assembly import StackArtifact

RECORD_SET = "AWS::Route53::RecordSet"


@dataclass(frozen=True)
class Routing:
    """How the shared name reaches the production regions.

    Attributes:
        mode: ``geolocation``, ``latency``, ``none`` (regional names only) or ``no domain``.
        name: the shared domain name; None without a domain.
        regions: the production regions, in the plan's order.
        served: with ``geolocation``, the locations each production region serves (none: an empty tuple).
        regional_names: each production region's own name in the domain (none without a domain).
        written_by: region -> the account whose hosted zone its records are written in, through a writer role
            there, for a region of another account than the zone's (none: CloudFormation writes them).
    """

    mode: str
    name: str | None
    regions: tuple[str, ...]
    served: dict[str, tuple[str, ...]]
    regional_names: dict[str, str]
    written_by: dict[str, str] = field(default_factory=dict)

    @property
    def unserved(self) -> tuple[str, ...]:
        """Production regions that geolocation routing never sends a request to."""
        if self.mode != "geolocation":
            return ()
        return tuple(region for region in self.regions if not self.served[region])


def location(geo: dict) -> str:
    """A record's GeoLocation as the ``residency`` setting writes it, with a continent's name."""
    if "ContinentCode" in geo:
        code = geo["ContinentCode"]
        return f"{code} ({CONTINENTS.get(code, 'continent')})"
    country = geo.get("CountryCode", "")
    if country == EVERYWHERE_ELSE:
        return f"{EVERYWHERE_ELSE} (every other location)"
    shown = f"{COUNTRY_PREFIX}{country}" if country in CONTINENTS else country
    return f"{shown}-{geo['SubdivisionCode']}" if "SubdivisionCode" in geo else shown


def _name(record: dict) -> str:
    return record["Properties"]["Name"].removesuffix(".")


def _write_calls(stack: StackArtifact) -> list[dict]:
    """The Route 53 ChangeResourceRecordSets calls of a stack's custom resources (written in another account's
    zone), their parameters as written (alias targets, resolved at deploy time, left out)."""
    found = []
    for resource in stack.of_type("Custom::AWS").values():
        create = resource["Properties"].get("Create")
        if isinstance(create, dict) and "Fn::Join" in create:
            separator, parts = create["Fn::Join"]
            create = separator.join(part if isinstance(part, str) else "token" for part in parts)
        call = json.loads(create) if isinstance(create, str) else {}
        if call.get("action") == "changeResourceRecordSets":
            found.append(call)
    return found


def _written_records(stack: StackArtifact) -> list[dict]:
    """The A records a stack writes in a hosted zone of another account, shaped as record set resources."""
    return [
        {"Properties": change["ResourceRecordSet"]}
        for call in _write_calls(stack)
        for change in call["parameters"]["ChangeBatch"]["Changes"]
    ]


def routing_of(production: list[StackArtifact]) -> Routing:
    """The routing of the production stacks (one per production region), from their record sets (or the records
    they write in a hosted zone of another account)."""
    regions = tuple(stack.region for stack in production)
    records = {
        stack.region: [*stack.of_type(RECORD_SET).values(), *_written_records(stack)] for stack in production
    }
    shared = [r for found in records.values() for r in found if "SetIdentifier" in r["Properties"]]
    regional_names = {
        region: _name(r)
        for region, found in records.items()
        for r in found
        if "SetIdentifier" not in r["Properties"]
    }
    served = {
        # Every other location (*) last, after the locations it leaves out.
        region: tuple(
            sorted(
                (location(r["Properties"]["GeoLocation"]) for r in found if "GeoLocation" in r["Properties"]),
                key=lambda shown: shown.startswith(EVERYWHERE_ELSE),
            )
        )
        for region, found in records.items()
    }
    if any("GeoLocation" in r["Properties"] for r in shared):
        mode = "geolocation"
    elif shared:
        mode = "latency"
    else:
        mode = "none" if regional_names else "no domain"
    name = _name(shared[0]) if shared else None
    if name is None and regional_names:  # routing none: the domain is each regional name less its region
        region, regional = next(iter(regional_names.items()))
        name = regional.removeprefix(f"{region}.")
    written_by = {
        stack.region: calls[0]["assumedRoleArn"].split(":")[4]
        for stack in production
        if (calls := _write_calls(stack))
    }
    return Routing(mode, name, regions, served, regional_names, written_by)


def render(routing: Routing) -> list[str]:
    """The routing section of the plan, with a warning line for each production region left without traffic,
    and a line naming the zone's account where regions of other accounts write their records there."""
    lines = _routing_lines(routing)
    for account in sorted(set(routing.written_by.values())):
        regions = [region for region, writer in routing.written_by.items() if writer == account]
        lines.append(
            f"  the hosted zone is in account {account}: {', '.join(regions)} write their records there through "
            "a writer role of that account"
        )
    return lines


def _routing_lines(routing: Routing) -> list[str]:
    if routing.mode == "no domain":
        return [
            "Routing: no domain_name: each region answers on its load balancer's DNS name only "
            "(make status prints each address)"
        ]
    if routing.mode == "none":
        return [
            f"Routing of {routing.name}: none (no record for it): each region answers on its own name only: "
            + ", ".join(routing.regional_names[region] for region in routing.regions)
        ]
    if routing.mode == "latency":
        return [
            f"Routing of {routing.name}: latency-based: each request goes to the nearest healthy production "
            f"region among {', '.join(routing.regions)}"
        ]
    width = max(len(region) for region in routing.regions)
    lines = [
        f"Routing of {routing.name}: geolocation (residency), each location to one region, no fail-over:"
    ]
    lines += [
        f"  {region:<{width}}  {', '.join(routing.served[region]) or 'no location'}"
        for region in routing.regions
    ]
    lines += [
        f"warning: production region {region} serves no location: it is deployed and paid for, but "
        f"{routing.name} never sends it a request (give it a location in residency, or take it out of the regions)"
        for region in routing.unserved
    ]
    return lines
