"""A regional AWS WAF web ACL in front of one region's load balancer."""

from __future__ import annotations

from dataclasses import dataclass

from aws_cdk import Aws, Fn, Names, Stack
from aws_cdk import aws_elasticloadbalancingv2 as elbv2
from aws_cdk import aws_logs as logs
from aws_cdk import aws_wafv2 as wafv2

from constructs import Construct
from constructs.settings.config_checks import require_bool, require_int
from constructs.settings.retention import RETENTION_DAYS, SECURITY_LOG_RETENTION_DAYS, log_group

# AWS managed rule groups, in the order the web ACL evaluates them (after the rate limit).
MANAGED_RULE_GROUPS = (
    "AWSManagedRulesAmazonIpReputationList",
    "AWSManagedRulesCommonRuleSet",
    "AWSManagedRulesKnownBadInputsRuleSet",
)
RATE_WINDOW_SECONDS = 300
# Credentials a request may carry: never written to the logs.
REDACTED_HEADERS = ("authorization", "cookie")
# WAF sends logs only to log groups whose names start with this (WAF developer guide, logging destinations).
LOG_GROUP_PREFIX = "aws-waf-logs-"


@dataclass(frozen=True, kw_only=True)
class WebFirewallSettings:
    """The web ACL every region's load balancer gets.

    Attributes:
        enabled: put the web ACL in front of every load balancer. Default ``True``.
        rate_limit: requests one client IP may make in 5 minutes before it is
            blocked (10-2,000,000,000, WAF's range). Default ``2000``.
    """

    enabled: bool = True
    rate_limit: int = 2000

    def __post_init__(self) -> None:
        require_bool("waf", self.enabled)
        require_int("waf_rate_limit", self.rate_limit, 10, 2_000_000_000)


def _visibility(metric: str) -> wafv2.CfnWebACL.VisibilityConfigProperty:
    return wafv2.CfnWebACL.VisibilityConfigProperty(
        cloud_watch_metrics_enabled=True, metric_name=metric, sampled_requests_enabled=True
    )


class RegionalWebFirewall(Construct):
    """A WAFv2 web ACL on ``load_balancer``: a rate limit per client IP, then AWS managed rule groups.

    Requests pass unless a rule blocks them: more than ``rate_limit`` requests
    from one IP in 5 minutes, an address on Amazon's IP reputation list, the
    common rule set (OWASP-style exploits, and size limits such as 8 KB of
    body) or known bad inputs. Every rule publishes CloudWatch metrics and
    sampled requests; full logs, with the ``authorization`` and ``cookie``
    headers redacted, go to a log group in the region (its name starts with
    ``aws-waf-logs-``, as WAF requires).

    Args:
        load_balancer: the load balancer the web ACL protects (both listeners).
        rate_limit: requests per client IP per 5 minutes.
        enabled: build the web ACL. Default ``True``. When ``False`` only the log
            group is kept, so that turning the web ACL on again finds it rather
            than colliding with it (it is retained, and its name is fixed per stack).
        log_retention: how long the logs are kept. Default a year.
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        load_balancer: elbv2.IApplicationLoadBalancer,
        rate_limit: int,
        enabled: bool = True,
        log_retention: logs.RetentionDays = RETENTION_DAYS[SECURITY_LOG_RETENTION_DAYS],
    ) -> None:
        super().__init__(scope, construct_id)
        stack = Stack.of(self)
        # WAF's required prefix, then the stack's own UUID: unique for every stack ever created, so the
        # retained group of a deleted stack never collides with a new one.
        name = Fn.join(
            "", [LOG_GROUP_PREFIX, stack.stack_name, "-", Fn.select(2, Fn.split("/", Aws.STACK_ID))]
        )
        self.log_group = log_group(self, "Logs", retention=log_retention, name=name)
        self.web_acl: wafv2.CfnWebACL | None = None
        if not enabled:
            return
        rules = [
            wafv2.CfnWebACL.RuleProperty(
                name="RateLimitPerClientIp",
                priority=0,
                action=wafv2.CfnWebACL.RuleActionProperty(block={}),
                statement=wafv2.CfnWebACL.StatementProperty(
                    rate_based_statement=wafv2.CfnWebACL.RateBasedStatementProperty(
                        aggregate_key_type="IP", limit=rate_limit, evaluation_window_sec=RATE_WINDOW_SECONDS
                    )
                ),
                visibility_config=_visibility("RateLimitPerClientIp"),
            ),
            *(
                wafv2.CfnWebACL.RuleProperty(
                    name=group,
                    priority=priority,
                    override_action=wafv2.CfnWebACL.OverrideActionProperty(none={}),
                    statement=wafv2.CfnWebACL.StatementProperty(
                        managed_rule_group_statement=wafv2.CfnWebACL.ManagedRuleGroupStatementProperty(
                            vendor_name="AWS", name=group
                        )
                    ),
                    visibility_config=_visibility(group),
                )
                for priority, group in enumerate(MANAGED_RULE_GROUPS, start=1)
            ),
        ]
        self.web_acl = wafv2.CfnWebACL(
            self,
            "WebAcl",
            scope="REGIONAL",
            default_action=wafv2.CfnWebACL.DefaultActionProperty(allow={}),
            rules=rules,
            visibility_config=_visibility(Names.unique_id(self)[-128:]),
        )
        wafv2.CfnWebACLAssociation(
            self,
            "Association",
            resource_arn=load_balancer.load_balancer_arn,
            web_acl_arn=self.web_acl.attr_arn,
        )
        logging = wafv2.CfnLoggingConfiguration(
            self,
            "Logging",
            resource_arn=self.web_acl.attr_arn,
            # The log group's ARN without the ":*" CloudWatch Logs adds (the form WAF takes).
            log_destination_configs=[f"arn:aws:logs:{stack.region}:{stack.account}:log-group:{name}"],
            redacted_fields=[
                wafv2.CfnLoggingConfiguration.FieldToMatchProperty(single_header={"Name": header})
                for header in REDACTED_HEADERS
            ],
        )
        logging.node.add_dependency(self.log_group)  # named, not referenced: no implicit order
