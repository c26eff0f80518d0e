"""Refresh tools/plan/prices.json from the AWS Price List API, for every region the app supports.

    python tools/plan/refresh_prices.py [--regions eu-central-1,sa-east-1] [--endpoint-region us-east-1]
                                   [--output tools/plan/prices.json]

Asks ``pricing:GetProducts`` (the operator's credentials; no other permission) for each item the
estimate prices (``QUERIES``) in each region of ``constructs/settings/supported_regions.py``, and for the
items AWS prices globally, then writes the table with kind ``aws-price-list-api``: each price
names its SKU and usage type (``source``) and its publication and effective date (``as_of``).
Without ``--regions`` the whole table is rewritten from AWS's answers alone; with it, only those
regions (and the global items) are replaced and the rest of the table is kept.

Nothing is guessed. A query must come back with exactly one product whose usage type is the
item's, in the region asked for; an item AWS returns no product for (or more than one) is left
out of the table and named on stdout, so ``make plan`` names it as unpriced. The price is the
first paid tier: free tiers are not counted, as the estimate says.

Without credentials it refuses with one line (exit 1), like the other operator commands.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

if __package__ in (None, ""):  # run as a script: make the repository root importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

import botocore.session
from botocore.loaders import Loader

from constructs.settings.supported_regions import supported_regions
from tools.operate.aws_access import AWS_ERRORS, CLIENT_CONFIG, has_credentials
from tools.operate.patient_aws import Aws
from tools.plan.cost_estimate import PRICES

PERMISSIONS = ("pricing:GetProducts",)
KIND = "aws-price-list-api"
PAGE_SIZE = 100  # GetProductsMaxResults allows up to 100
# A Region billing code: three letters and a digit (EUC1, APS3, USE1), or EU for Ireland (AWS's table of
# Region billing codes; infracost's ALB filter ^([A-Z]{3}\d-|Global-|EU-)?LoadBalancerUsage$). So neither
# a trust store's TS- (CAN1-TS-LoadBalancerUsage, and bare in us-east-1) nor a local zone's second code.
BILLING_CODE = r"(?:[A-Z]{3}[0-9]|EU)"


@dataclass(frozen=True)
class Query:
    """How to ask GetProducts for one item of the estimate.

    ``usage_type`` is the usage type without its Region billing code: in a region AWS writes it
    ``EUC1-NatGateway-Hours``, and in us-east-1 sometimes bare (``NatGateway-Hours``) and
    sometimes ``USE1-...`` (CloudWatch Logs' ``USE1-DataProcessing-Bytes``), so the request asks
    for the usage types that CONTAIN it and the answer is kept only when the usage type is exactly
    ``<one billing code>-<usage_type>`` or ``<usage_type>`` (``BILLING_CODE``). KMS names its usage
    types after the region code instead (``eu-central-1-KMS-Keys``): ``region_named``. ``filters``
    are further TERM_MATCH attributes; ``scope`` is "region" (regionCode and locationType "AWS
    Region" are matched too) or "global".
    """

    item: str
    service: str
    usage_type: str
    filters: tuple[tuple[str, str], ...] = ()
    scope: str = "region"
    region_named: bool = False

    def request(self, region: str | None) -> dict:
        """GetProducts' parameters (without NextToken) for ``region`` (None for a global item)."""
        filters = [{"Type": "TERM_MATCH", "Field": field, "Value": value} for field, value in self.filters]
        if region is not None:
            filters += [
                {"Type": "TERM_MATCH", "Field": "regionCode", "Value": region},
                {"Type": "TERM_MATCH", "Field": "locationType", "Value": "AWS Region"},
            ]
        match = "CONTAINS" if self.scope == "region" else "TERM_MATCH"
        filters.append({"Type": match, "Field": "usagetype", "Value": self.usage_type})
        return {
            "ServiceCode": self.service,
            "Filters": filters,
            "FormatVersion": "aws_v1",
            "MaxResults": PAGE_SIZE,
        }

    def matches(self, attributes: dict, region: str | None) -> bool:
        """Whether a returned product is this item (its usage type exactly, in ``region``)."""
        usage_type = attributes.get("usagetype", "")
        if region is None:
            return usage_type == self.usage_type
        if attributes.get("regionCode") != region:
            return False
        if self.region_named:
            return usage_type == f"{region}-{self.usage_type}"
        return re.fullmatch(rf"(?:{BILLING_CODE}-)?{re.escape(self.usage_type)}", usage_type) is not None


# Where each filter comes from (attribute names and values as AWS's own answers spell them):
# - regionCode, locationType "AWS Region", productFamily "NAT Gateway", operation "NatGateway",
#   usage type APS1-NatGateway-Hours; productFamily "Alarm" with APS1-CW:AlarmMonitorUsage;
#   productFamily "Encryption Key" with ap-southeast-1-KMS-Keys: GetProducts answers saved in
#   con0097275/aws-cdc-lakehouse-data-platform:artifacts/validation/session-01/pricing/
#   {nat-gateway,cloudwatch-logs,kms}.json@5f46e6f304a3fcfe8bf09007584d7ec28c8acb7f.
# - productFamily "Load Balancer-Application" and usage type LoadBalancerUsage (optionally
#   prefixed); "Compute" with Fargate-vCPU-Hours:perCPU / Fargate-GB-Hours; "Data Payload" with
#   -DataProcessing-Bytes and "Storage Snapshot" with -TimedStorage-ByteHrs (CloudWatch Logs);
#   databaseEngine "Aurora PostgreSQL"; "Web Application Firewall" with <code>-WebACLV2 and
#   <code>-RuleV2; "DNS Health Check" with Health-Check-AWS (first 50 free) and
#   Health-Check-Option-AWS: infracost/infracost:internal/resources/aws/{lb,ecs_service,
#   cloudwatch_log_group,rds_cluster,wafv2_web_acl,route53_health_check}.go.
# - EUW2-PublicIPv4:InUseAddress, EUW2-Aurora:ServerlessV2Usage, and Route 53's usage types
#   without a region prefix: ImperialEdutechUK/sadeevtest:docs/hosting-costs.md@3c102d7a31b6dc99
#   fcb0f150e12d53e6c162ef51 (London offer files transcribed).
# - Region billing codes (EUC1, APS3, EU, ...): https://docs.aws.amazon.com/global-infrastructure/
#   latest/regions/aws-region-billing-codes.html. Filter types (CONTAINS): botocore's pricing model.
QUERIES = (
    Query(
        "nat_gateway_hour",
        "AmazonEC2",
        "NatGateway-Hours",
        (("productFamily", "NAT Gateway"), ("operation", "NatGateway")),
    ),
    Query("public_ipv4_hour", "AmazonVPC", "PublicIPv4:InUseAddress"),
    Query("alb_hour", "AWSELB", "LoadBalancerUsage", (("productFamily", "Load Balancer-Application"),)),
    Query("fargate_vcpu_hour", "AmazonECS", "Fargate-vCPU-Hours:perCPU", (("productFamily", "Compute"),)),
    Query("fargate_gb_hour", "AmazonECS", "Fargate-GB-Hours", (("productFamily", "Compute"),)),
    Query(
        "aurora_acu_hour", "AmazonRDS", "Aurora:ServerlessV2Usage", (("databaseEngine", "Aurora PostgreSQL"),)
    ),
    Query("logs_ingest_gb", "AmazonCloudWatch", "DataProcessing-Bytes", (("productFamily", "Data Payload"),)),
    Query(
        "logs_storage_gb_month",
        "AmazonCloudWatch",
        "TimedStorage-ByteHrs",
        (("productFamily", "Storage Snapshot"),),
    ),
    Query("alarm_month", "AmazonCloudWatch", "CW:AlarmMonitorUsage", (("productFamily", "Alarm"),)),
    Query("kms_key_month", "awskms", "KMS-Keys", (("productFamily", "Encryption Key"),), region_named=True),
    Query("waf_web_acl_month", "awswaf", "WebACLV2", (("productFamily", "Web Application Firewall"),)),
    Query("waf_rule_month", "awswaf", "RuleV2", (("productFamily", "Web Application Firewall"),)),
    Query(
        "health_check_month",
        "AmazonRoute53",
        "Health-Check-AWS",
        (("productFamily", "DNS Health Check"),),
        "global",
    ),
    Query(
        "health_check_feature_month",
        "AmazonRoute53",
        "Health-Check-Option-AWS",
        (("productFamily", "DNS Health Check"),),
        "global",
    ),
)


class RefreshError(RuntimeError):
    """The command cannot run; the message is one line saying why and what is allowed."""


def endpoint_regions() -> tuple[str, ...]:
    """The regions that serve the Price List API, from botocore's endpoint data (service api.pricing)."""
    endpoints = Loader().load_data("endpoints")
    partition = next(p for p in endpoints["partitions"] if p["partition"] == "aws")
    return tuple(sorted(partition["services"]["api.pricing"]["endpoints"]))


def first_paid_tier(product: dict) -> tuple[float, dict, dict]:
    """(USD, price dimension, term) of the product's lowest on-demand tier that is not free."""
    dimensions = [
        (float(dimension["pricePerUnit"]["USD"]), dimension, term)
        for term in product["terms"]["OnDemand"].values()
        for dimension in term["priceDimensions"].values()
    ]
    paid = [d for d in dimensions if d[0] > 0]
    if not paid:
        raise LookupError("only free tiers")
    return min(paid, key=lambda d: float(d[1]["beginRange"]))


def entry(product: dict) -> dict:
    """A price table entry from one GetProducts product: price, its SKU and usage type, its dates."""
    usd, dimension, term = first_paid_tier(product)
    attributes = product["product"]["attributes"]
    tiers = sum(len(t["priceDimensions"]) for t in product["terms"]["OnDemand"].values())
    note = f"{dimension['description'].strip()} (unit {dimension['unit']})"
    if tiers > 1:
        note += f"; first paid of {tiers} tiers, from {dimension['beginRange']} {dimension['unit']}"
    return {
        "usd": usd,
        "kind": KIND,
        "as_of": f"{product['publicationDate'][:10]} (publicationDate {product['publicationDate']}; "
        f"effectiveDate {term['effectiveDate'][:10]})",
        "source": f"pricing:GetProducts {product['serviceCode']} SKU {product['product']['sku']}, "
        f"usage type {attributes['usagetype']}",
        "note": note,
    }


def fetch(aws: Aws, endpoint: str, query: Query, region: str | None) -> tuple[dict | None, str]:
    """The item's table entry (or None) and, when None, why: every page of GetProducts is read."""
    answers = aws.pages(
        "pricing", endpoint, "get_products", "PriceList", "NextToken", **query.request(region)
    )
    products = [json.loads(p) if isinstance(p, str) else p for p in answers]
    found = [p for p in products if query.matches(p["product"]["attributes"], region)]
    if len(found) != 1:
        skus = ", ".join(sorted(p["product"]["sku"] for p in found))
        return None, f"{len(found)} products match" + (f" ({skus})" if skus else "")
    try:
        return entry(found[0]), ""
    except LookupError as error:
        return None, str(error)


def refresh(
    aws: Aws, endpoint: str, regions: Iterable[str], say: Callable[[str], None] = print
) -> tuple[dict[str, dict[str, dict]], dict[str, dict], list[str]]:
    """Regional and global entries from AWS, and one line per item AWS did not price."""
    missing: list[str] = []
    regional: dict[str, dict[str, dict]] = {}
    global_items: dict[str, dict] = {}
    for region in [*regions, None]:
        where = region or "global"
        found: dict[str, dict] = {}
        for query in QUERIES:
            if (query.scope == "global") != (region is None):
                continue
            price, why = fetch(aws, endpoint, query, region)
            if price is None:
                missing.append(f"{where} {query.item} ({query.service} {query.usage_type}: {why})")
            else:
                found[query.item] = price
        say(f"{where}: {len(found)} priced")
        if region is None:
            global_items = found
        else:
            regional[region] = found
    return regional, global_items, missing


DESCRIPTION = (
    "AWS on-demand list prices (USD) for what the app keeps running, read by tools/plan/cost_estimate.py for make "
    "plan's monthly estimate. Each price names its source and date; kind says whether it is an answer of the "
    "AWS Price List API (aws-price-list-api, written by make prices), a saved copy of AWS's Price List data "
    "(aws-price-list-data), an AWS page, or a third-party copy of AWS's prices. A region's own price wins over "
    "a global one; an item without a price is named by the estimate, never guessed. Prices change: run make "
    "prices (pricing:GetProducts) or check https://calculator.aws before you budget."
)


def write_table(path: Path, regional: dict, global_items: dict, today: str, *, keep_others: bool) -> None:
    """Write the table: refreshed regions replace theirs; other regions are kept only with ``keep_others``."""
    old = json.loads(path.read_text()) if path.exists() else {}
    regions = dict(old.get("regions", {})) if keep_others else {}
    regions.update(regional)
    table = {
        "description": DESCRIPTION,
        "retrieved": today,
        "currency": "USD",
        "hours_per_month": old.get("hours_per_month", 730),
        "regions": {region: regions[region] for region in sorted(regions) if regions[region]},
        "global": {**(old.get("global", {}) if keep_others else {}), **global_items},
    }
    path.write_text(json.dumps(table, indent=2) + "\n")


def parse_regions(value: str | None) -> list[str]:
    allowed = supported_regions()
    if value is None:
        return list(allowed)
    regions = [r.strip() for r in value.split(",") if r.strip()]
    unknown = [r for r in regions if r not in allowed]
    if unknown or not regions:
        raise RefreshError(
            f"--regions {value!r}: {', '.join(unknown) or 'no region'} is not a supported region; "
            f"allowed: {', '.join(allowed)}"
        )
    return regions


def main(argv: list[str] | None = None, *, aws: Aws | None = None, today: str | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--regions", help="comma-separated regions to refresh (default: every supported region)"
    )
    parser.add_argument(
        "--endpoint-region", default="us-east-1", help="region of the Price List API endpoint"
    )
    parser.add_argument("--output", type=Path, default=PRICES, help="the price table to write")
    args = parser.parse_args(argv)
    try:
        regions = parse_regions(args.regions)
        if args.endpoint_region not in endpoint_regions():
            raise RefreshError(
                f"--endpoint-region {args.endpoint_region!r} does not serve the Price List API; "
                f"allowed: {', '.join(endpoint_regions())}"
            )
        if aws is None:
            if not has_credentials():
                raise RefreshError(
                    "no AWS credentials found; configure them (aws configure, AWS_PROFILE or AWS_ACCESS_KEY_ID/"
                    "AWS_SECRET_ACCESS_KEY) with pricing:GetProducts and run make prices again"
                )
            session = botocore.session.get_session()
            aws = Aws(
                lambda service, region: session.create_client(
                    service, region_name=region, config=CLIENT_CONFIG
                )
            )
        regional, global_items, missing = refresh(aws, args.endpoint_region, regions)
    except (RefreshError, *AWS_ERRORS) as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    day = today or datetime.now(UTC).date().isoformat()
    write_table(args.output, regional, global_items, day, keep_others=args.regions is not None)
    priced = sum(len(items) for items in regional.values()) + len(global_items)
    print(f"wrote {args.output} ({priced} prices from the AWS Price List API, retrieved {day})")
    if missing:
        print(f"not priced by AWS's answers ({len(missing)}), left out of the table:")
        for line in missing:
            print(f"  {line}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
