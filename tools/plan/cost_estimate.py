"""A monthly cost estimate of what the synthesized app keeps running, per region and in total.

Counted from the templates (NAT gateways and their addresses, load balancers
and their public addresses, Fargate tasks at their desired count, web ACLs
and their rules, Aurora at its minimum capacity, alarms, keys, health checks)
plus an assumed log volume, priced from ``tools/plan/prices.json``: a dated table
in which every price names its source. What depends on traffic (data through
NAT, load balancer capacity units, WAF requests, Aurora storage and I/O,
pipeline minutes) is not counted. A region or item the table has no price
for is named, and the totals that miss it are marked "at least".
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

from tools.cloud_assembly import StackArtifact
from tools.plan.plan_model import ReleasePlan

PRICES = Path(__file__).resolve().parent / "prices.json"
# An assumption, not a measurement: logs ingested per regional copy each month (kept a month).
LOG_GB_PER_MONTH = 1.0
COLUMNS = ("NAT", "load balancer", "Fargate", "WAF", "database", "logs", "other")


@dataclass(frozen=True)
class Price:
    usd: float
    source: str
    kind: str
    as_of: str


@dataclass(frozen=True)
class PriceTable:
    retrieved: str
    hours_per_month: int
    regions: dict[str, dict[str, Price]]
    global_prices: dict[str, Price]

    @classmethod
    def load(cls, path: Path = PRICES) -> PriceTable:
        data = json.loads(path.read_text())

        def prices(items: dict) -> dict[str, Price]:
            return {name: Price(i["usd"], i["source"], i["kind"], i["as_of"]) for name, i in items.items()}

        return cls(
            retrieved=data["retrieved"],
            hours_per_month=data["hours_per_month"],
            regions={region: prices(items) for region, items in data["regions"].items()},
            global_prices=prices(data["global"]),
        )

    def price(self, region: str, item: str) -> Price | None:
        return self.regions.get(region, {}).get(item) or self.global_prices.get(item)


@dataclass(frozen=True)
class Usage:
    """``quantity`` units of a priced ``item`` (hours, months or GB), shown in ``column``."""

    column: str
    item: str
    quantity: float


def _count(stack: StackArtifact, resource_type: str) -> int:
    return len(stack.of_type(resource_type))


def _fargate(stack: StackArtifact, hours: int) -> list[Usage]:
    usage = []
    definitions = stack.of_type("AWS::ECS::TaskDefinition")
    for service in stack.of_type("AWS::ECS::Service").values():
        properties = service["Properties"]
        named = properties[
            "TaskDefinition"
        ]  # a Ref, or the family's name (the service runs its latest revision)
        (definition,) = (
            [definitions[named["Ref"]]]
            if isinstance(named, dict)
            else [d for d in definitions.values() if d["Properties"].get("Family") == named]
        )
        tasks = properties.get("DesiredCount", 1)
        cpu, memory = int(definition["Properties"]["Cpu"]), int(definition["Properties"]["Memory"])
        usage += [
            Usage("Fargate", "fargate_vcpu_hour", tasks * cpu / 1024 * hours),
            Usage("Fargate", "fargate_gb_hour", tasks * memory / 1024 * hours),
        ]
    return usage


def _public_addresses(stack: StackArtifact) -> int:
    """Public IPv4 addresses of internet-facing application load balancers: one per subnet (zone)."""
    return sum(
        len(lb["Properties"].get("Subnets", ()))
        for lb in stack.of_type("AWS::ElasticLoadBalancingV2::LoadBalancer").values()
        if lb["Properties"].get("Scheme") == "internet-facing"
    )


def _health_check_features(check: dict) -> int:
    """Route 53's optional features a health check uses: HTTPS, string matching, fast interval, latency."""
    config = check["Properties"]["HealthCheckConfig"]
    return sum(
        (
            config.get("Type", "").startswith("HTTPS"),
            config.get("Type", "").endswith("STR_MATCH"),
            config.get("RequestInterval") == 10,
            bool(config.get("MeasureLatency")),
        )
    )


def _aurora_clusters(stack: StackArtifact) -> list[tuple[float, int]]:
    """Each Aurora Serverless v2 cluster of the stack: its least capacity (ACU) and how many instances it has."""
    instances = [
        i["Properties"].get("DBClusterIdentifier", {}).get("Ref")
        for i in stack.of_type("AWS::RDS::DBInstance").values()
    ]
    return [
        (
            cluster["Properties"].get("ServerlessV2ScalingConfiguration", {}).get("MinCapacity", 0),
            instances.count(cluster_id),
        )
        for cluster_id, cluster in stack.of_type("AWS::RDS::DBCluster").items()
    ]


def usage_of(stack: StackArtifact, hours: int) -> list[Usage]:
    """What one stack keeps running for a month, before traffic."""
    usage = [
        Usage("NAT", "nat_gateway_hour", _count(stack, "AWS::EC2::NatGateway") * hours),
        Usage("NAT", "public_ipv4_hour", _count(stack, "AWS::EC2::EIP") * hours),
        Usage(
            "load balancer", "alb_hour", _count(stack, "AWS::ElasticLoadBalancingV2::LoadBalancer") * hours
        ),
        Usage("load balancer", "public_ipv4_hour", _public_addresses(stack) * hours),
        *_fargate(stack, hours),
    ]
    for acl in stack.of_type("AWS::WAFv2::WebACL").values():
        usage += [
            Usage("WAF", "waf_web_acl_month", 1),
            Usage("WAF", "waf_rule_month", len(acl["Properties"].get("Rules", ()))),
        ]
    for min_acu, instances in _aurora_clusters(stack):
        usage.append(Usage("database", "aurora_acu_hour", instances * min_acu * hours))
    if stack.of_type("AWS::ECS::Service"):
        usage += [
            Usage("logs", "logs_ingest_gb", LOG_GB_PER_MONTH),
            Usage("logs", "logs_storage_gb_month", LOG_GB_PER_MONTH),
        ]
    checks = stack.of_type("AWS::Route53::HealthCheck").values()
    usage += [
        Usage("other", "alarm_month", _count(stack, "AWS::CloudWatch::Alarm")),
        Usage("other", "kms_key_month", _count(stack, "AWS::KMS::Key")),
        Usage("other", "health_check_month", len(checks)),
        Usage("other", "health_check_feature_month", sum(_health_check_features(c) for c in checks)),
    ]
    return [u for u in usage if u.quantity]


@dataclass
class StackCost:
    label: str
    region: str
    columns: dict[str, float] = field(default_factory=lambda: dict.fromkeys(COLUMNS, 0.0))
    unpriced: set[str] = field(default_factory=set)  # items used here without a price in the table

    @property
    def total(self) -> float:
        return sum(self.columns.values())


def estimate(plan: ReleasePlan, table: PriceTable) -> list[StackCost]:
    """Each stack's cost, in deploy order, named as the plan's deploy actions name the copy it holds."""
    labels = {action.stack: action.label for action in plan.deploy_actions}
    labels[plan.pipeline_stack.name] = f"pipeline ({plan.pipeline_stack.region})"
    costs = []
    for stack in plan.deploy_order:
        cost = StackCost(labels.get(stack.name, stack.name), stack.region)
        for usage in usage_of(stack, table.hours_per_month):
            price = table.price(stack.region, usage.item)
            if price is None:
                cost.unpriced.add(usage.item)
            else:
                cost.columns[usage.column] += usage.quantity * price.usd
        costs.append(cost)
    return costs


def _money(value: float, partial: bool) -> str:
    return f"{'>=' if partial else ''}{value:,.2f}"


# The least capacity of an Aurora Serverless v2 instance that is not paused.
AWAKE_ACU = 0.5


def _paused_databases(plan: ReleasePlan, table: PriceTable) -> list[str]:
    """What a database that may pause (0 ACU) costs once anything keeps it awake, per copy."""
    awake = {}
    for stack in plan.deploy_order:
        for min_acu, instances in _aurora_clusters(stack):
            if min_acu != 0:
                continue
            price = table.price(stack.region, "aurora_acu_hour")
            awake[stack.region] = (
                f"{instances * AWAKE_ACU * table.hours_per_month * price.usd:,.2f} in {stack.region}"
                if price
                else f"unpriced in {stack.region}"
            )
    if not awake:
        return []
    return [
        "  Databases are counted paused (database_min_acu 0). Anything that queries one keeps it awake, such as "
        f"a health check that touches it (the sample's does): at least {AWAKE_ACU} ACU, USD/month per copy "
        f"{', '.join(awake[region] for region in sorted(awake))}."
    ]


def render_cost(plan: ReleasePlan, table: PriceTable | None = None) -> list[str]:
    table = table or PriceTable.load()
    costs = estimate(plan, table)
    rows = [
        (c.label, *(f"{c.columns[k]:.2f}" for k in COLUMNS), _money(c.total, bool(c.unpriced))) for c in costs
    ]
    partial = any(c.unpriced for c in costs)
    rows.append(("total", *("" for _ in COLUMNS), _money(sum(c.total for c in costs), partial)))
    header = ("", *COLUMNS, "USD/month")
    widths = [max(len(row[i]) for row in (header, *rows)) for i in range(len(header))]
    lines = [
        f"Monthly cost, an estimate: USD at on-demand list prices from tools/plan/prices.json (retrieved {table.retrieved}),",
        f"for what runs with no traffic, {LOG_GB_PER_MONTH:g} GB of logs per copy assumed, before free tiers:",
    ]
    for row in (header, *rows):
        cells = [
            row[0].ljust(widths[0]),
            *(cell.rjust(width) for cell, width in zip(row[1:], widths[1:], strict=True)),
        ]
        lines.append("  " + "  ".join(cells).rstrip())
    lines.append("  other: CloudWatch alarms, KMS keys and Route 53 health checks.")
    for cost in costs:
        if cost.unpriced:
            lines.append(
                f"  Not priced in {cost.label} (no price in tools/plan/prices.json): {', '.join(sorted(cost.unpriced))}"
            )
    lines += _paused_databases(plan, table)
    lines.append(
        "  Not counted: traffic (NAT and load balancer data, WAF requests), Aurora storage and I/O, "
        "CodePipeline, CodeBuild and ECR use; check https://calculator.aws before you budget."
    )
    return lines
