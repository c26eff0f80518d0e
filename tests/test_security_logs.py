"""Security logs kept a year by default (PCI DSS 3.2.1, 10.7), application logs a month; plain HTTP only by choice."""

from __future__ import annotations

import json

import pytest
from template_queries import resources, service_task_definition
from test_config import config_error, from_context

from constructs.region.blue_green_load_balancer import PLAIN_HTTP_REASON
from constructs.settings.config_checks import LOG_RETENTION_DAYS
from constructs.settings.retention import RETENTION_DAYS
from tools.cloud_assembly import CloudAssembly
from tools.plan.release_plan import plan_of, render_table


def retention_of(template: dict, group: object) -> int:
    return template["Resources"][group["Ref"]]["Properties"]["RetentionInDays"]


def security_retentions(template: dict) -> dict[str, int]:
    """What each kind of security log of a regional stack is kept for, in days."""
    found = {}
    (flow_log,) = resources(template, "AWS::EC2::FlowLog").values()
    found["flow logs"] = retention_of(template, flow_log["Properties"]["LogGroupName"])
    # WAF's log group: the one named aws-waf-logs-... (WAF writes only to such names).
    (waf,) = [
        g["Properties"]
        for g in resources(template, "AWS::Logs::LogGroup").values()
        if "aws-waf-logs-" in json.dumps(g["Properties"].get("LogGroupName", ""))
    ]
    found["WAF logs"] = waf["RetentionInDays"]
    for retention in resources(template, "Custom::LogRetention").values():
        found["database logs"] = int(retention["Properties"]["RetentionInDays"])
    (access_logs,) = [
        b for lid, b in resources(template, "AWS::S3::Bucket").items() if lid.startswith("AccessLogs")
    ]
    (rule,) = access_logs["Properties"]["LifecycleConfiguration"]["Rules"]
    found["access logs"] = rule["ExpirationInDays"]
    return found


@pytest.mark.parametrize(("name", "days"), [("database", 365), ("two_year_security_logs", 731)])
def test_every_security_log_is_kept_as_configured_and_application_logs_a_month(synth_cache, name, days):
    synthesized = synth_cache(name)
    for stack_name, template in synthesized.regional_templates.items():
        kept = security_retentions(template)
        assert set(kept) == {"flow logs", "WAF logs", "database logs", "access logs"}, stack_name
        assert set(kept.values()) == {days}, (stack_name, kept)
        (container,) = service_task_definition(template)["ContainerDefinitions"]
        group = container["LogConfiguration"]["Options"]["awslogs-group"]
        assert retention_of(template, group) == 30
    (pipeline_access_logs,) = [
        b for lid, b in resources(synthesized.pipeline, "AWS::S3::Bucket").items() if "AccessLogs" in lid
    ]
    assert (
        pipeline_access_logs["Properties"]["LifecycleConfiguration"]["Rules"][0]["ExpirationInDays"] == days
    )


def test_the_retention_periods_are_cloudwatch_logs_own():
    import botocore.session

    model = botocore.session.Session().get_service_model("logs")
    text = model.operation_model("PutRetentionPolicy").input_shape.members["retentionInDays"].documentation
    listed = text.split("Possible values are: ")[1].split(".")[0].replace("and ", "")
    assert tuple(int(v) for v in listed.split(", ")) == LOG_RETENTION_DAYS == tuple(RETENTION_DAYS)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (
            "100",
            "security_log_retention_days: 100 is not allowed; expected one of CloudWatch Logs' retention periods",
        ),
        ("a year", "security_log_retention_days: 'a year' is not allowed; expected a whole number"),
    ],
)
def test_a_retention_cloudwatch_logs_does_not_offer_is_refused(value, expected):
    assert config_error(security_log_retention_days=value).startswith(expected)


# --- plain HTTP only by choice -------------------------------------------------------------------------


def test_production_over_plain_http_is_refused_unless_chosen():
    message = config_error(allow_plain_http=False)
    assert message == (
        "allow_plain_http: false is not allowed; production in eu-west-2, ap-southeast-1 would serve plain HTTP "
        "on the internet (no domain_name, no certificate_arns); give it HTTPS, or set allow_plain_http to true "
        "to try the app out"
    )


def test_a_region_without_its_own_certificate_is_named():
    certificate = "arn:aws:acm:ap-southeast-1:123456789012:certificate/0b8e8b2c-1d3a-4f5e-9a7b-123456789abc"
    message = config_error(
        allow_plain_http=False, account="123456789012", certificate_arns={"ap-southeast-1": certificate}
    )
    assert "production in eu-west-2 would serve plain HTTP" in message


def test_https_everywhere_or_a_domain_needs_no_choice():
    domain = {
        "domain_name": "shop.example.com",
        "hosted_zone_id": "Z0123456789ABCDEFGHIJ",
        "hosted_zone_name": "example.com",
    }
    config = from_context(allow_plain_http=False, staging_regions="eu-west-1", **domain)
    assert config.plain_http_regions == ()


def test_the_plain_http_listener_says_why_to_scanners_and_make_plan_names_the_regions(
    default_synth, synth_cache
):
    for template in default_synth.regional_templates.values():
        listeners = resources(template, "AWS::ElasticLoadBalancingV2::Listener")
        (production,) = [listener for lid, listener in listeners.items() if "Production" in lid]
        assert production["Metadata"]["checkov"] == {
            "skip": [{"id": check, "comment": PLAIN_HTTP_REASON} for check in ("CKV_AWS_2", "CKV_AWS_103")]
        }
    table = render_table(plan_of(CloudAssembly.read(default_synth.outdir)))
    assert (
        "Plain HTTP on the internet (allow_plain_http, for trying the app out; staging copies may): "
        "eu-west-2, ap-southeast-1\n" in table
    )
    # With a domain every production listener is HTTPS (port 80 only redirects): nothing to say or skip.
    latency = synth_cache("domain_latency")
    assert "Plain HTTP" not in render_table(plan_of(CloudAssembly.read(latency.outdir)))
    for template in latency.regional_templates.values():
        for listener in resources(template, "AWS::ElasticLoadBalancingV2::Listener").values():
            assert "checkov" not in listener.get("Metadata", {})
