"""make plan's routing section: which locations each production region serves, read from cdk.out alone."""

from __future__ import annotations

import pytest
from conftest import ACCOUNT, DOMAIN_NAME, RESIDENCY

from tools.plan.release_plan import read_plan, render_table
from tools.plan.routing_plan import location


def routing_section(synthesized) -> list[str]:
    """The plan's lines from its routing heading up to the blank line after it."""
    lines = render_table(read_plan(synthesized.outdir)).splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("Routing"))
    return lines[start : lines.index("", start)]


def test_geolocation_lists_the_locations_each_production_region_serves(synth_cache):
    synthesized = synth_cache("domain_geolocation")
    assert RESIDENCY == {"EU": "eu-west-2", "DE": "eu-central-1", "AS": "ap-southeast-1", "*": "eu-west-2"}
    routing = read_plan(synthesized.outdir).routing
    assert routing.mode == "geolocation"
    assert routing.name == DOMAIN_NAME
    assert routing.served == {
        "eu-west-2": ("EU (Europe)", "* (every other location)"),
        "ap-southeast-1": ("AS (Asia)",),
        "eu-central-1": ("DE",),
    }
    assert routing_section(synthesized) == [
        f"Routing of {DOMAIN_NAME}: geolocation (residency), each location to one region, no fail-over:",
        "  eu-west-2       EU (Europe), * (every other location)",
        "  ap-southeast-1  AS (Asia)",
        "  eu-central-1    DE",
    ]


def test_records_written_in_another_accounts_zone_read_the_same(synth_cache):
    """Frankfurt and Singapore in accounts of their own write their records through the zone's writer roles:
    the plan reads those records as it reads London's own record sets."""
    routing = read_plan(synth_cache("accounts_ecs").outdir).routing
    assert routing.mode == "geolocation"
    assert routing.name == DOMAIN_NAME
    # As with every region in one account; Ireland, which no location names, serves none.
    assert routing.served == {
        **read_plan(synth_cache("domain_geolocation").outdir).routing.served,
        "eu-west-1": (),
    }
    assert routing.regional_names == {
        region: f"{region}.{DOMAIN_NAME}"
        for region in ("eu-west-2", "ap-southeast-1", "eu-central-1", "eu-west-1")
    }
    # The zone is in the pipeline's account; Singapore and Frankfurt write through its writer roles.
    assert routing.written_by == {"ap-southeast-1": ACCOUNT, "eu-central-1": ACCOUNT}
    assert routing_section(synth_cache("accounts_ecs"))[-1] == (
        f"  the hosted zone is in account {ACCOUNT}: ap-southeast-1, eu-central-1 write their records there "
        "through a writer role of that account"
    )


def test_a_production_region_that_serves_no_location_is_a_warning(synth_cache):
    """Deployed, paid for and never sent a request: what the new-user trial found only by its bill."""
    synthesized = synth_cache("residency_unused")
    assert synthesized.config.regions == ("eu-west-2", "ap-southeast-1", "us-east-1")
    assert not [
        r
        for r in synthesized.regional("us-east-1")["Resources"].values()
        if r["Type"] == "AWS::Route53::RecordSet" and "GeoLocation" in r["Properties"]
    ]
    assert routing_section(synthesized) == [
        f"Routing of {DOMAIN_NAME}: geolocation (residency), each location to one region, no fail-over:",
        "  eu-west-2       EU (Europe), * (every other location)",
        "  ap-southeast-1  SG",
        "  us-east-1       no location",
        f"warning: production region us-east-1 serves no location: it is deployed and paid for, but {DOMAIN_NAME} "
        "never sends it a request (give it a location in residency, or take it out of the regions)",
    ]


def test_latency_routing_names_the_regions_it_chooses_among_staging_left_out(synth_cache):
    synthesized = synth_cache("domain_latency")
    assert synthesized.config.staging_regions == ("eu-west-1",)
    assert routing_section(synthesized) == [
        f"Routing of {DOMAIN_NAME}: latency-based: each request goes to the nearest healthy production region "
        "among eu-west-2, ap-southeast-1, us-east-1"
    ]


@pytest.mark.parametrize(
    ("configuration", "expected"),
    [
        (
            "routing_none",
            f"Routing of {DOMAIN_NAME}: none (no record for it): each region answers on its own name only: "
            f"eu-west-2.{DOMAIN_NAME}, ap-southeast-1.{DOMAIN_NAME}",
        ),
        (
            "default",
            "Routing: no domain_name: each region answers on its load balancer's DNS name only "
            "(make status prints each address)",
        ),
    ],
)
def test_without_shared_routing_each_region_answers_on_its_own_address(synth_cache, configuration, expected):
    assert routing_section(synth_cache(configuration)) == [expected]


@pytest.mark.parametrize(
    ("geo", "shown"),
    [
        ({"ContinentCode": "NA"}, "NA (North America)"),
        ({"CountryCode": "NA"}, "country:NA"),  # Namibia: written as residency takes it
        ({"CountryCode": "DE"}, "DE"),
        ({"CountryCode": "*"}, "* (every other location)"),
        ({"CountryCode": "US", "SubdivisionCode": "CA"}, "US-CA"),
    ],
)
def test_a_location_reads_as_the_residency_setting_writes_it(geo, shown):
    assert location(geo) == shown
