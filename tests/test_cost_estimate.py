"""make plan's monthly cost estimate: what the templates keep running, priced from the dated table."""

from __future__ import annotations

import copy
import json
import re
from dataclasses import replace

import pytest

from tools.cloud_assembly import CloudAssembly
from tools.plan.cost_estimate import COLUMNS, PRICES, PriceTable, estimate, render_cost, usage_of
from tools.plan.release_plan import read_plan

TABLE = PriceTable.load()
HOURS = 730  # the table's month


def price(region: str, item: str) -> float:
    found = TABLE.price(region, item)
    assert found is not None, f"{item} in {region}"
    return found.usd


def by_label(synthesized) -> dict:
    return {c.label: c for c in estimate(read_plan(synthesized.outdir), TABLE)}


def test_the_price_table_names_a_source_and_a_date_for_every_price():
    data = json.loads(PRICES.read_text())
    assert re.fullmatch(r"\d{4}-\d{2}-\d{2}", data["retrieved"])
    entries = [*data["global"].values(), *(e for items in data["regions"].values() for e in items.values())]
    assert entries
    for entry in entries:
        assert entry["usd"] > 0
        assert entry["kind"] in ("aws-price-list-api", "aws-price-list-data", "aws-page", "third-party")
        assert entry["source"]
        assert entry["as_of"]
    # Every item the estimate counts has a price for the default app's regions.
    for region in ("eu-west-2", "ap-southeast-1"):
        for item in (
            "nat_gateway_hour",
            "public_ipv4_hour",
            "alb_hour",
            "fargate_vcpu_hour",
            "fargate_gb_hour",
            "waf_web_acl_month",
            "waf_rule_month",
            "logs_ingest_gb",
            "logs_storage_gb_month",
            "alarm_month",
            "kms_key_month",
        ):
            assert TABLE.price(region, item) is not None, (region, item)


def test_the_default_app_is_priced_item_by_item(default_synth):
    costs = by_label(default_synth)
    assert list(costs) == ["ap-southeast-1", "eu-west-2", "pipeline (eu-west-2)"]
    for region in ("eu-west-2", "ap-southeast-1"):
        cost = costs[region]
        assert not cost.unpriced
        # One NAT gateway with its Elastic IP; one load balancer with a public address in each of two zones.
        assert cost.columns["NAT"] == pytest.approx(
            HOURS * (price(region, "nat_gateway_hour") + price(region, "public_ipv4_hour"))
        )
        assert cost.columns["load balancer"] == pytest.approx(
            HOURS * (price(region, "alb_hour") + 2 * price(region, "public_ipv4_hour"))
        )
        # Two tasks of 0.25 vCPU and 0.5 GB, all month.
        assert cost.columns["Fargate"] == pytest.approx(
            2 * HOURS * (0.25 * price(region, "fargate_vcpu_hour") + 0.5 * price(region, "fargate_gb_hour"))
        )
        # The web ACL and its four rules (rate limit, three managed groups).
        assert cost.columns["WAF"] == pytest.approx(
            price(region, "waf_web_acl_month") + 4 * price(region, "waf_rule_month")
        )
        assert cost.columns["database"] == 0
        assert cost.columns["logs"] == pytest.approx(
            price(region, "logs_ingest_gb") + price(region, "logs_storage_gb_month")
        )
        # Six deployment alarms and the notification topic's key.
        assert cost.columns["other"] == pytest.approx(
            6 * price(region, "alarm_month") + price(region, "kms_key_month")
        )
    assert costs["pipeline (eu-west-2)"].total == pytest.approx(price("eu-west-2", "kms_key_month"))
    # London by hand from the table's prices: 40.15 + 26.62 + 20.72 + 9.00 + 0.63 + 1.60.
    assert costs["eu-west-2"].total == pytest.approx(98.72, abs=0.01)


def test_a_database_is_priced_at_its_minimum_capacity(synth_cache):
    assembly = CloudAssembly.read(synth_cache("database").outdir)
    stack = next(s for s in assembly.deploy_order() if s.name == "webapp-eu-west-2")
    ((cluster_id, cluster),) = stack.of_type("AWS::RDS::DBCluster").items()
    # The app's default scales to zero when idle: no capacity is billed.
    assert cluster["Properties"]["ServerlessV2ScalingConfiguration"]["MinCapacity"] == 0
    assert not [u for u in usage_of(stack, HOURS) if u.column == "database"]
    warm = copy.deepcopy(stack.template)
    warm["Resources"][cluster_id]["Properties"]["ServerlessV2ScalingConfiguration"]["MinCapacity"] = 0.5
    (database,) = [u for u in usage_of(replace(stack, template=warm), HOURS) if u.column == "database"]
    writers = [
        i
        for i in stack.of_type("AWS::RDS::DBInstance").values()
        if i["Properties"]["DBClusterIdentifier"] == {"Ref": cluster_id}
    ]
    assert database.quantity == len(writers) * 0.5 * HOURS
    assert database.item == "aurora_acu_hour"


def test_health_checks_count_their_optional_features(synth_cache):
    assembly = CloudAssembly.read(synth_cache("domain_latency").outdir)
    checked = [s for s in assembly.deploy_order() if s.of_type("AWS::Route53::HealthCheck")]
    assert checked
    for stack in checked:
        usage = {u.item: u.quantity for u in usage_of(stack, HOURS)}
        assert usage["health_check_month"] == 1
        # HTTPS is one of Route 53's optional features; the 30-second interval is not.
        assert usage["health_check_feature_month"] == 1


def test_a_region_without_prices_is_named_and_its_totals_are_at_least(synth_cache):
    plan = read_plan(synth_cache("staged").outdir)
    # eu-west-1 (a staging region here) without any price of its own: only the global ones apply.
    without = replace(TABLE, regions={r: items for r, items in TABLE.regions.items() if r != "eu-west-1"})
    lines = render_cost(plan, without)
    (row,) = [line for line in lines if line.strip().startswith("staging eu-west-1")]
    assert row.split()[-1].startswith(">=")
    # The public addresses and the web ACL have global prices; nothing else has one.
    assert lines[-2] == (
        "  Not priced in staging eu-west-1 (no price in tools/plan/prices.json): alarm_month, alb_hour, fargate_gb_hour, "
        "fargate_vcpu_hour, kms_key_month, logs_ingest_gb, logs_storage_gb_month, nat_gateway_hour"
    )
    (total,) = [line for line in lines if line.strip().startswith("total")]
    assert total.split()[-1].startswith(">=")
    assert lines[0].startswith("Monthly cost, an estimate")


def test_a_partly_priced_region_counts_what_it_has_and_names_the_rest(synth_cache):
    """eu-west-1 has Fargate, NAT gateway, ALB and KMS prices only: those are counted, the rest is named."""
    plan = read_plan(synth_cache("staged").outdir)
    (stack,) = [s for s in plan.deploy_order if s.region == "eu-west-1"]
    used = {u.item for u in usage_of(stack, HOURS)}
    unpriced = sorted(item for item in used if TABLE.price("eu-west-1", item) is None)
    for priced in ("fargate_vcpu_hour", "nat_gateway_hour", "alb_hour", "kms_key_month"):
        assert priced in used, priced
        assert priced not in unpriced, priced
    assert {"alarm_month", "logs_ingest_gb", "logs_storage_gb_month"} <= set(unpriced)
    (cost,) = [c for c in estimate(plan, TABLE) if c.region == "eu-west-1"]
    assert cost.unpriced == set(unpriced)
    assert cost.columns["Fargate"] > 0
    assert cost.columns["NAT"] > 0
    assert cost.columns["load balancer"] >= HOURS * price("eu-west-1", "alb_hour")
    assert cost.columns["logs"] == 0
    lines = render_cost(plan, TABLE)
    # Named as the plan names the copy: the staging copy in eu-west-1.
    assert (
        f"  Not priced in staging eu-west-1 (no price in tools/plan/prices.json): {', '.join(unpriced)}"
        in lines
    )


def test_the_rendered_table_adds_up(default_synth):
    lines = render_cost(read_plan(default_synth.outdir), TABLE)
    header = lines[2].split()
    assert header[-1] == "USD/month"
    rows = [
        line.split()
        for line in lines[3:]
        if line.strip() and not line.strip().startswith(("total", "Not", "other:", "Databases"))
    ]
    for row in rows:
        values = [float(v) for v in row[-len(COLUMNS) - 1 :]]
        assert sum(values[:-1]) == pytest.approx(values[-1], abs=0.011)
    (total,) = [line for line in lines if line.strip().startswith("total")]
    assert float(total.split()[-1]) == pytest.approx(sum(float(r[-1]) for r in rows), abs=0.011)


def test_a_database_that_may_pause_is_counted_paused_and_its_awake_floor_is_said(synth_cache):
    """The plan counts 0 ACU, and says what anything that keeps the cluster awake costs at least (0.5 ACU)."""
    plan = read_plan(synth_cache("database").outdir)
    lines = render_cost(plan, TABLE)
    (note,) = [line for line in lines if line.strip().startswith("Databases are counted paused")]
    london = 0.5 * HOURS * TABLE.price("eu-west-2", "aurora_acu_hour").usd
    assert f"{london:,.2f} in eu-west-2" in note
    assert "unpriced in ap-southeast-1" in note  # no Aurora price of Singapore's own: named, never guessed
    assert all(c.columns["database"] == 0 for c in estimate(plan, TABLE))


def test_no_awake_note_without_a_database_that_may_pause(default_synth):
    assert not [line for line in render_cost(read_plan(default_synth.outdir), TABLE) if "paused" in line]


# What the shipped table prices, region by region (make prices refreshes it from AWS; every other item of
# these regions is unpriced and named by the estimate). Global items (WAF, Route 53 health checks, public
# IPv4) apply in every region.
SOURCED = {
    "us-east-1": {"nat_gateway_hour", "alb_hour", "fargate_vcpu_hour", "fargate_gb_hour", "aurora_acu_hour"}
    | {"logs_ingest_gb", "logs_storage_gb_month", "alarm_month", "kms_key_month"},
    "us-east-2": {"nat_gateway_hour", "alb_hour", "fargate_vcpu_hour", "fargate_gb_hour", "kms_key_month"},
    "us-west-1": {"fargate_vcpu_hour", "fargate_gb_hour"},
    "us-west-2": {"nat_gateway_hour", "alb_hour", "fargate_vcpu_hour", "fargate_gb_hour", "kms_key_month"}
    | {"logs_ingest_gb"},
    "eu-west-1": {"nat_gateway_hour", "alb_hour", "fargate_vcpu_hour", "fargate_gb_hour", "kms_key_month"},
    "eu-west-2": {"nat_gateway_hour", "public_ipv4_hour", "alb_hour", "fargate_vcpu_hour", "fargate_gb_hour"}
    | {"aurora_acu_hour", "logs_ingest_gb", "logs_storage_gb_month", "alarm_month", "kms_key_month"},
    "eu-central-1": {"nat_gateway_hour", "alb_hour", "fargate_vcpu_hour", "fargate_gb_hour", "kms_key_month"},
    "ap-southeast-1": {
        "nat_gateway_hour",
        "public_ipv4_hour",
        "alb_hour",
        "fargate_vcpu_hour",
        "fargate_gb_hour",
    }
    | {"logs_ingest_gb", "logs_storage_gb_month", "alarm_month", "kms_key_month"},
    "ap-southeast-2": {
        "nat_gateway_hour",
        "alb_hour",
        "fargate_vcpu_hour",
        "fargate_gb_hour",
        "kms_key_month",
    },
    "ap-northeast-1": {
        "nat_gateway_hour",
        "alb_hour",
        "fargate_vcpu_hour",
        "fargate_gb_hour",
        "kms_key_month",
    },
    "ap-south-1": {"nat_gateway_hour", "alb_hour", "fargate_vcpu_hour", "fargate_gb_hour", "kms_key_month"},
    "sa-east-1": {"fargate_vcpu_hour", "fargate_gb_hour"},
    "af-south-1": {"fargate_vcpu_hour", "fargate_gb_hour"},
    "ap-east-1": {"fargate_vcpu_hour", "fargate_gb_hour"},
}


def test_the_table_prices_the_most_used_and_the_docs_regions_item_by_item():
    data = json.loads(PRICES.read_text())
    assert {region: set(items) for region, items in data["regions"].items()} == SOURCED
    assert set(data["global"]) == {
        "waf_web_acl_month",
        "waf_rule_month",
        "public_ipv4_hour",
        "health_check_month",
        "health_check_feature_month",
    }
    for region in SOURCED:
        assert TABLE.price(region, "waf_web_acl_month") is not None, region
        assert TABLE.price(region, "public_ipv4_hour") is not None, region


@pytest.mark.parametrize(
    ("region", "vcpu", "gb"),
    [
        ("us-east-2", 0.04048, 0.004445),
        ("us-west-2", 0.04048, 0.004445),
        ("eu-west-1", 0.04048, 0.004445),
        ("eu-central-1", 0.04656, 0.00511),
        ("ap-southeast-2", 0.04856, 0.00532),
        ("ap-northeast-1", 0.05056, 0.00553),
        ("ap-south-1", 0.04256, 0.004655),
        ("sa-east-1", 0.0696, 0.0076),
    ],
)
def test_fargate_prices_are_the_sources_own_figures(region, vcpu, gb):
    """Each Fargate entry quotes its source's line for that region, and its price is the quoted one."""
    for item, usd in (("fargate_vcpu_hour", vcpu), ("fargate_gb_hour", gb)):
        entry = json.loads(PRICES.read_text())["regions"][region][item]
        assert entry["usd"] == usd
        assert f'"region": "{region}"' in entry["note"]
        assert f'"cpu": {vcpu}, "ram": {gb}' in entry["note"]


@pytest.mark.parametrize(
    ("region", "item", "usd", "sku", "usage_type"),
    [
        ("eu-west-1", "nat_gateway_hour", 0.048, "KFNSSCHWD43WZK2R", "EU-NatGateway-Hours"),
        (
            "us-east-1",
            "alb_hour",
            0.0225,
            "37CUWUT8GSNQEPUV",
            "usagetype LoadBalancerUsage, operation LoadBalancing:Application",
        ),
    ],
)
def test_prices_from_saved_offer_files_quote_their_sku(region, item, usd, sku, usage_type):
    """A price copied from a saved AWS offer file names the SKU and usage type it was read from, at that price."""
    entry = json.loads(PRICES.read_text())["regions"][region][item]
    assert entry["kind"] == "aws-price-list-data"
    assert entry["usd"] == usd
    assert f"SKU {sku}" in entry["note"]
    assert usage_type in entry["note"]
    assert f"USD {usd:.10f}" in entry["note"]


CLOUDCOSTTREE = "rulssss/cloudcosttree:data/prices.json@5aedd39488c832a7bde56959b27f10572f62f853"


@pytest.mark.parametrize(
    ("region", "alb", "nat"),
    [
        ("eu-central-1", 0.027, 0.052),
        ("eu-west-1", 0.0252, None),  # the NAT gateway keeps its AWS offer-file price (the same 0.048)
        ("us-east-2", 0.0225, None),  # the NAT gateway keeps its earlier source (the same 0.045)
        ("us-west-2", 0.0225, 0.045),
        ("ap-southeast-2", 0.0252, 0.059),
        ("ap-northeast-1", 0.0243, 0.062),
        ("ap-south-1", 0.0239, 0.056),
    ],
)
def test_prices_from_the_cloudcosttree_catalog_quote_its_line(region, alb, nat):
    """Each price read from cloudcosttree's catalog quotes that region's resource_hourly key at that price."""
    items = json.loads(PRICES.read_text())["regions"][region]
    quoted = [("alb_hour", "alb", alb, alb), ("kms_key_month", "kms_key", 0.0013698630136986301, 1.0)]
    if nat is not None:
        quoted.append(("nat_gateway_hour", "nat_gateway", nat, nat))
    for item, key, line_value, usd in quoted:
        entry = items[item]
        assert entry["source"] == CLOUDCOSTTREE, (region, item)
        assert entry["kind"] == "third-party"
        assert entry["as_of"].startswith("2026-08-08")
        assert entry["usd"] == usd
        assert f'"regions" > "{region}" > "resource_hourly": "{key}": {line_value}' in entry["note"]
    # a key-month is the catalog's hourly figure over the table's 730-hour month
    assert pytest.approx(items["kms_key_month"]["usd"], abs=1e-12) == 0.0013698630136986301 * HOURS
