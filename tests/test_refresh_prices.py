"""make prices: the price table refreshed from the AWS Price List API (GetProducts), stubbed offline.

The answers are shaped like real GetProducts answers: PriceList is a list of JSON strings, each a
product with its attributes, its on-demand terms and price dimensions, and its publication date.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from aws_world import World
from conftest import tool, without_credentials

from tools.plan import refresh_prices
from tools.plan.refresh_prices import PERMISSIONS, QUERIES, Query, endpoint_regions, main

ROOT = Path(__file__).resolve().parent.parent
IAM_DATA = ROOT / "node_modules" / "@cloud-copilot" / "iam-data" / "data" / "actions"
ENDPOINT = "us-east-1"
REGION = "eu-central-1"
PUBLISHED = "2026-10-02T18:31:07Z"
EFFECTIVE = "2026-10-01T00:00:00Z"


def product(sku: str, service: str, usage_type: str, *tiers: tuple[str, str, str], **attributes) -> str:
    """One PriceList entry: tiers are (beginRange, endRange, USD); attributes add to the usage type's."""
    dimensions = {
        f"{sku}.JRTCKXETXF.{index}": {
            "unit": "Hrs",
            "endRange": end,
            "description": f"${usd} per unit ({usage_type})",
            "appliesTo": [],
            "rateCode": f"{sku}.JRTCKXETXF.{index}",
            "beginRange": begin,
            "pricePerUnit": {"USD": usd},
        }
        for index, (begin, end, usd) in enumerate(tiers or [("0", "Inf", "0.0520000000")])
    }
    return json.dumps(
        {
            "product": {
                "productFamily": "Anything",
                "attributes": {"servicecode": service, "usagetype": usage_type, **attributes},
                "sku": sku,
            },
            "serviceCode": service,
            "terms": {
                "OnDemand": {
                    f"{sku}.JRTCKXETXF": {
                        "priceDimensions": dimensions,
                        "sku": sku,
                        "effectiveDate": EFFECTIVE,
                        "offerTermCode": "JRTCKXETXF",
                        "termAttributes": {},
                    }
                }
            },
            "version": "20261002183107",
            "publicationDate": PUBLISHED,
        }
    )


def regional(sku: str, service: str, usage_type: str, *tiers, region: str = REGION) -> str:
    return product(sku, service, usage_type, *tiers, regionCode=region, locationType="AWS Region")


def query(item: str) -> Query:
    (found,) = [q for q in QUERIES if q.item == item]
    return found


def answer_every_query(world: World, region: str, answers: dict[str, list[list[str]]]) -> None:
    """Queue GetProducts answers in the command's order: each item's pages, regional items then global."""
    for scope_region in (region, None):
        for q in QUERIES:
            if (q.scope == "global") != (scope_region is None):
                continue
            pages = answers.get(q.item, [[]])
            for number, page in enumerate(pages):
                params = q.request(scope_region)
                if number:
                    params["NextToken"] = f"page-{number}"
                response = {"FormatVersion": "aws_v1", "PriceList": page}
                if number + 1 < len(pages):
                    response["NextToken"] = f"page-{number + 1}"
                world.expect("pricing", ENDPOINT, "get_products", response, params)


FRANKFURT = {
    # Two pages: the regional NAT gateway (another usage type) first, the NAT gateway on the second.
    "nat_gateway_hour": [
        [regional("REGIONALNAT", "AmazonEC2", "EUC1-RegionalNatGateway-Hours")],
        [regional("NATSKU", "AmazonEC2", "EUC1-NatGateway-Hours")],
    ],
    "public_ipv4_hour": [
        [regional("IPV4SKU", "AmazonVPC", "EUC1-PublicIPv4:InUseAddress", ("0", "Inf", "0.005"))]
    ],
    "alb_hour": [[regional("ALBSKU", "AWSELB", "EUC1-LoadBalancerUsage", ("0", "Inf", "0.0270000000"))]],
    # A product of another region, and ARM's usage type, are not Frankfurt's x86 vCPU.
    "fargate_vcpu_hour": [
        [
            regional("ARMSKU", "AmazonECS", "EUC1-Fargate-ARM-vCPU-Hours:perCPU", ("0", "Inf", "0.03725")),
            regional("OTHERREGION", "AmazonECS", "EUW2-Fargate-vCPU-Hours:perCPU", region="eu-west-2"),
            regional("VCPUSKU", "AmazonECS", "EUC1-Fargate-vCPU-Hours:perCPU", ("0", "Inf", "0.0465600000")),
        ]
    ],
    "fargate_gb_hour": [
        [regional("GBSKU", "AmazonECS", "EUC1-Fargate-GB-Hours", ("0", "Inf", "0.0051100000"))]
    ],
    # aurora_acu_hour: AWS returns nothing.
    # Two products with the item's usage type: which one is meant cannot be told, so neither is taken.
    "logs_ingest_gb": [
        [
            regional("INGEST1", "AmazonCloudWatch", "EUC1-DataProcessing-Bytes", ("0", "Inf", "0.63")),
            regional("INGEST2", "AmazonCloudWatch", "EUC1-DataProcessing-Bytes", ("0", "Inf", "0.63")),
        ]
    ],
    "logs_storage_gb_month": [
        [regional("STORESKU", "AmazonCloudWatch", "EUC1-TimedStorage-ByteHrs", ("0", "Inf", "0.0324"))]
    ],
    "alarm_month": [
        [regional("ALARMSKU", "AmazonCloudWatch", "EUC1-CW:AlarmMonitorUsage", ("0", "Inf", "0.1"))]
    ],
    "kms_key_month": [[regional("KMSSKU", "awskms", "eu-central-1-KMS-Keys", ("0", "Inf", "1.0000000000"))]],
    "waf_web_acl_month": [[regional("ACLSKU", "awswaf", "EUC1-WebACLV2", ("0", "Inf", "5.0000000000"))]],
    "waf_rule_month": [[regional("RULESKU", "awswaf", "EUC1-RuleV2", ("0", "Inf", "1.0000000000"))]],
    # The first 50 health checks are free: the price is the paid tier after them.
    "health_check_month": [
        [
            product(
                "HCSKU",
                "AmazonRoute53",
                "Health-Check-AWS",
                ("0", "50", "0.0"),
                ("50", "Inf", "0.5000000000"),
            )
        ]
    ],
    "health_check_feature_month": [
        [product("HCOSKU", "AmazonRoute53", "Health-Check-Option-AWS", ("0", "Inf", "1.0"))]
    ],
}


@pytest.fixture
def refreshed(tmp_path, capsys):
    world = World(allowed=PERMISSIONS)
    answer_every_query(world, REGION, FRANKFURT)
    output = tmp_path / "prices.json"
    code = main(["--output", str(output), "--regions", REGION], aws=world.aws(), today="2026-12-01")
    world.assert_done()
    return code, json.loads(output.read_text()), capsys.readouterr().out, world


def test_the_requests_ask_aws_for_the_item_in_the_region_and_nothing_else(refreshed):
    _, _, _, world = refreshed
    # Fourteen items, one more page for the NAT gateway; the pricing endpoint only.
    assert world.calls == ["pricing us-east-1 get_products"] * 15
    assert query("nat_gateway_hour").request(REGION) == {
        "ServiceCode": "AmazonEC2",
        "Filters": [
            {"Type": "TERM_MATCH", "Field": "productFamily", "Value": "NAT Gateway"},
            {"Type": "TERM_MATCH", "Field": "operation", "Value": "NatGateway"},
            {"Type": "TERM_MATCH", "Field": "regionCode", "Value": REGION},
            {"Type": "TERM_MATCH", "Field": "locationType", "Value": "AWS Region"},
            {"Type": "CONTAINS", "Field": "usagetype", "Value": "NatGateway-Hours"},
        ],
        "FormatVersion": "aws_v1",
        "MaxResults": 100,
    }
    # Route 53 prices health checks globally: no region, the usage type exactly.
    assert query("health_check_month").request(None)["Filters"] == [
        {"Type": "TERM_MATCH", "Field": "productFamily", "Value": "DNS Health Check"},
        {"Type": "TERM_MATCH", "Field": "usagetype", "Value": "Health-Check-AWS"},
    ]


def test_each_price_names_its_sku_usage_type_and_dates(refreshed):
    code, table, _, _ = refreshed
    assert code == 0
    assert table["retrieved"] == "2026-12-01"
    assert table["hours_per_month"] == 730
    frankfurt = table["regions"][REGION]
    # Read from the second page, the regional NAT gateway skipped.
    assert frankfurt["nat_gateway_hour"] == {
        "usd": 0.052,
        "kind": "aws-price-list-api",
        "as_of": f"2026-10-02 (publicationDate {PUBLISHED}; effectiveDate 2026-10-01)",
        "source": "pricing:GetProducts AmazonEC2 SKU NATSKU, usage type EUC1-NatGateway-Hours",
        "note": "$0.0520000000 per unit (EUC1-NatGateway-Hours) (unit Hrs)",
    }
    assert frankfurt["fargate_vcpu_hour"]["usd"] == 0.04656
    assert frankfurt["fargate_vcpu_hour"]["source"].endswith(
        "SKU VCPUSKU, usage type EUC1-Fargate-vCPU-Hours:perCPU"
    )
    assert frankfurt["kms_key_month"]["source"].endswith("usage type eu-central-1-KMS-Keys")
    assert {item: price["usd"] for item, price in frankfurt.items()} == {
        "nat_gateway_hour": 0.052,
        "public_ipv4_hour": 0.005,
        "alb_hour": 0.027,
        "fargate_vcpu_hour": 0.04656,
        "fargate_gb_hour": 0.00511,
        "logs_storage_gb_month": 0.0324,
        "alarm_month": 0.1,
        "kms_key_month": 1.0,
        "waf_web_acl_month": 5.0,
        "waf_rule_month": 1.0,
    }
    assert table["global"]["health_check_month"]["usd"] == 0.5
    assert table["global"]["health_check_month"]["note"].endswith("first paid of 2 tiers, from 50 Hrs")
    assert table["global"]["health_check_feature_month"]["usd"] == 1.0
    assert all(
        entry["kind"] == "aws-price-list-api" for entry in [*frankfurt.values(), *table["global"].values()]
    )


def test_an_item_aws_does_not_price_is_left_out_and_named(refreshed):
    _, table, out, _ = refreshed
    assert "aurora_acu_hour" not in table["regions"][REGION]
    assert "logs_ingest_gb" not in table["regions"][REGION]
    lines = out.splitlines()
    assert lines[-3] == "not priced by AWS's answers (2), left out of the table:"
    assert (
        lines[-2] == "  eu-central-1 aurora_acu_hour (AmazonRDS Aurora:ServerlessV2Usage: 0 products match)"
    )
    assert lines[-1] == (
        "  eu-central-1 logs_ingest_gb (AmazonCloudWatch DataProcessing-Bytes: 2 products match (INGEST1, INGEST2))"
    )


def test_a_refresh_of_some_regions_keeps_the_others(tmp_path):
    output = tmp_path / "prices.json"
    kept = {"usd": 0.045, "kind": "third-party", "as_of": "2026-02-22", "source": "x", "note": ""}
    output.write_text(
        json.dumps(
            {"hours_per_month": 730, "regions": {"us-east-1": {"nat_gateway_hour": kept}}, "global": {}}
        )
    )
    world = World(allowed=PERMISSIONS)
    answer_every_query(world, REGION, FRANKFURT)
    assert main(["--output", str(output), "--regions", REGION], aws=world.aws(), today="2026-12-01") == 0
    table = json.loads(output.read_text())
    assert table["regions"]["us-east-1"] == {"nat_gateway_hour": kept}
    assert table["regions"][REGION]["nat_gateway_hour"]["kind"] == "aws-price-list-api"


@pytest.mark.parametrize(
    ("usage_type", "product_region", "asked", "matches"),
    [
        ("EUC1-NatGateway-Hours", "eu-central-1", "eu-central-1", True),
        ("NatGateway-Hours", "us-east-1", "us-east-1", True),  # us-east-1 often has no billing code
        ("USE1-NatGateway-Hours", "us-east-1", "us-east-1", True),
        ("EU-NatGateway-Hours", "eu-west-1", "eu-west-1", True),
        ("EUC1-RegionalNatGateway-Hours", "eu-central-1", "eu-central-1", False),
        ("USE1-BOS1-NatGateway-Hours", "us-east-1", "us-east-1", False),
        (
            "TS-NatGateway-Hours",
            "us-east-1",
            "us-east-1",
            False,
        ),  # as the ALB trust store's TS-LoadBalancerUsage
        ("EUC1-NatGateway-Hours", "eu-central-1", "eu-west-1", False),  # the product's regionCode decides
    ],
)
def test_the_usage_type_must_be_the_items_exactly(usage_type, product_region, asked, matches):
    attributes = {"usagetype": usage_type, "regionCode": product_region}
    assert query("nat_gateway_hour").matches(attributes, asked) is matches


def test_a_full_refresh_writes_only_what_aws_answered(tmp_path):
    output = tmp_path / "prices.json"
    stale = {"usd": 9.0, "kind": "third-party", "as_of": "2020", "source": "x", "note": ""}
    output.write_text(
        json.dumps(
            {
                "hours_per_month": 730,
                "regions": {"eu-west-1": {"alb_hour": stale}},
                "global": {"waf_rule_month": stale},
            }
        )
    )
    fresh = json.loads(regional("NATSKU", "AmazonEC2", "EUC1-NatGateway-Hours"))
    entry = refresh_prices.entry(fresh)
    refresh_prices.write_table(
        output, {REGION: {"nat_gateway_hour": entry}, "sa-east-1": {}}, {}, "2026-12-01", keep_others=False
    )
    table = json.loads(output.read_text())
    # Nothing of the old table is left, and a region AWS priced nothing in is not written at all.
    assert table["regions"] == {REGION: {"nat_gateway_hour": entry}}
    assert table["global"] == {}


def test_kms_usage_types_carry_the_region_code():
    kms = query("kms_key_month")
    assert kms.matches({"usagetype": "eu-central-1-KMS-Keys", "regionCode": "eu-central-1"}, "eu-central-1")
    assert not kms.matches(
        {"usagetype": "eu-central-1-KMS-Requests", "regionCode": "eu-central-1"}, "eu-central-1"
    )
    assert not kms.matches({"usagetype": "EUC1-KMS-Keys", "regionCode": "eu-central-1"}, "eu-central-1")


def test_every_item_the_estimate_counts_has_a_query():
    source = (ROOT / "tools" / "plan" / "cost_estimate.py").read_text()
    counted = set(re.findall(r'Usage\(\s*"[^"]+",\s*"(\w+)"', source))
    assert len(counted) == 14
    assert {q.item for q in QUERIES} == counted
    assert len(QUERIES) == len(counted)


def test_without_credentials_it_refuses_in_one_line(tmp_path):
    output = tmp_path / "prices.json"
    result = tool("plan/refresh_prices.py", "--output", str(output), env=without_credentials(tmp_path))
    assert result.returncode == 1
    assert result.stdout == ""
    assert result.stderr.startswith("error: no AWS credentials found;")
    assert "pricing:GetProducts" in result.stderr
    assert len(result.stderr.splitlines()) == 1
    assert not output.exists()


@pytest.mark.parametrize(
    ("args", "first_words"),
    [
        (
            ["--regions", "eu-central-1,xx-east-9"],
            "error: --regions 'eu-central-1,xx-east-9': xx-east-9 is not",
        ),
        (["--endpoint-region", "eu-west-2"], "error: --endpoint-region 'eu-west-2' does not serve"),
    ],
)
def test_bad_input_is_one_line_naming_the_setting_and_what_is_allowed(tmp_path, args, first_words):
    result = tool(
        "plan/refresh_prices.py",
        *args,
        "--output",
        str(tmp_path / "p.json"),
        env=without_credentials(tmp_path),
    )
    assert result.returncode == 1
    (line,) = result.stderr.splitlines()
    assert line.startswith(first_words)
    assert "allowed: " in line


def test_the_price_list_api_is_served_from_its_own_regions():
    # botocore's endpoint data for api.pricing (AWS documents us-east-1, eu-central-1 and ap-south-1).
    assert endpoint_regions() == ("ap-south-1", "eu-central-1", "us-east-1")


def test_the_permission_is_an_iam_action():
    actions = json.loads((IAM_DATA / "pricing.json").read_text())
    (permission,) = refresh_prices.PERMISSIONS
    prefix, name = permission.split(":")
    assert prefix == "pricing"
    assert actions[name.lower()]["name"] == name


def test_make_prices_runs_the_command():
    makefile = (ROOT / "Makefile").read_text()
    (phony,) = [line for line in makefile.splitlines() if line.startswith(".PHONY:")]
    assert "prices" in phony.split()
    recipe = makefile[makefile.index("\nprices: ") :].split("\n\n")[0]
    assert "pricing:GetProducts" in recipe.splitlines()[1]
    assert recipe.splitlines()[2].strip() == "@$(PYTHON) tools/plan/refresh_prices.py"
