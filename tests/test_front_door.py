"""The service's own domain: certificates, HTTPS listeners, names, health checks and latency or residency routing."""

from __future__ import annotations

import json
import re

import botocore.session
import pytest
from aws_cdk import App, Environment, Stack
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_elasticloadbalancingv2 as elbv2
from aws_cdk.assertions import Template
from conftest import CERTIFICATE, DOMAIN_NAME, RESIDENCY, ZONE_ID, ZONE_NAME
from template_queries import only, props, resources
from test_config import config_error

from constructs.region.regional_domain import (
    HEALTH_CHECK_FAILURES,
    HEALTH_CHECK_INTERVAL_SECONDS,
    RegionalDomain,
)
from constructs.settings.domain_settings import MAX_COMMON_NAME, DomainSettings
from constructs.settings.locations import COUNTRIES

# TLS 1.3 and 1.2 only (Elastic Load Balancing user guide, "Security policies for your Application Load Balancer").
TLS_12_OR_LATER = "ELBSecurityPolicy-TLS13-1-2-2021-06"


def balancer_id(template: dict) -> str:
    (found,) = resources(template, "AWS::ElasticLoadBalancingV2::LoadBalancer")
    return found


def alias_of(template: dict) -> dict:
    """The alias target of a record that points at this stack's load balancer."""
    balancer = balancer_id(template)
    return {
        "DNSName": {"Fn::Join": ["", ["dualstack.", {"Fn::GetAtt": [balancer, "DNSName"]}]]},
        "HostedZoneId": {"Fn::GetAtt": [balancer, "CanonicalHostedZoneID"]},
    }


def records(template: dict, name: str) -> list[dict]:
    found = [r["Properties"] for r in resources(template, "AWS::Route53::RecordSet").values()]
    assert all(r["HostedZoneId"] == ZONE_ID and r["Type"] == "A" for r in found)
    return [r for r in found if r["Name"] == f"{name}."]


def listeners(template: dict) -> dict[int, dict]:
    return {
        r["Properties"]["Port"]: r["Properties"]
        for r in resources(template, "AWS::ElasticLoadBalancingV2::Listener").values()
    }


def certificate_of(template: dict) -> object:
    """The production listener's certificate: the stack's own (a Ref) or a configured ARN."""
    (certificate,) = listeners(template)[443]["Certificates"]
    return certificate["CertificateArn"]


def test_without_a_domain_there_are_no_names_and_http_serves(default_synth):
    for template in default_synth.templates.values():
        for kind in (
            "AWS::Route53::RecordSet",
            "AWS::Route53::HealthCheck",
            "AWS::CertificateManager::Certificate",
        ):
            assert not resources(template, kind)
    assert listeners(default_synth.regional("eu-west-2"))[80]["Protocol"] == "HTTP"


@pytest.mark.parametrize("name", ["domain_latency", "domain_geolocation"])
def test_every_production_region_gets_a_certificate_for_the_domain_and_its_own_name(synth_cache, name):
    synthesized = synth_cache(name)
    configured = dict(synthesized.config.certificate_arns)
    for region in (r for r in synthesized.config.regions if r not in configured):
        template = synthesized.regional(region)
        certificate_id, certificate = only(template, "AWS::CertificateManager::Certificate")
        certificate = certificate["Properties"]
        assert certificate["DomainName"] == DOMAIN_NAME
        assert certificate["SubjectAlternativeNames"] == [f"{region}.{DOMAIN_NAME}"]
        assert certificate["ValidationMethod"] == "DNS"
        # Validated in the named zone: CloudFormation writes the validation records there itself.
        assert certificate["DomainValidationOptions"] == [
            {"DomainName": DOMAIN_NAME, "HostedZoneId": ZONE_ID},
            {"DomainName": f"{region}.{DOMAIN_NAME}", "HostedZoneId": ZONE_ID},
        ]
        assert certificate_of(template) == {"Ref": certificate_id}


def test_a_configured_certificate_replaces_the_regions_own(synth_cache):
    template = synth_cache("domain_latency").regional("us-east-1")
    assert not resources(template, "AWS::CertificateManager::Certificate")
    assert certificate_of(template) == CERTIFICATE
    # The names are the same: the configured certificate must cover them (docs/front-door.md).
    assert records(template, f"us-east-1.{DOMAIN_NAME}")


@pytest.mark.parametrize("name", ["domain_latency", "domain_geolocation"])
def test_https_with_tls_12_or_later_port_80_redirects_and_the_test_listener_is_unchanged(synth_cache, name):
    synthesized = synth_cache(name)
    for stack_name, template in synthesized.templates.items():
        if stack_name.endswith("-pipeline"):
            continue
        by_port = listeners(template)
        assert sorted(by_port) == [80, 443, 8080], stack_name
        assert by_port[443]["Protocol"] == "HTTPS"
        assert by_port[443]["SslPolicy"] == TLS_12_OR_LATER
        assert by_port[80]["DefaultActions"] == [
            {
                "Type": "redirect",
                "RedirectConfig": {"Port": "443", "Protocol": "HTTPS", "StatusCode": "HTTP_301"},
            }
        ]
        assert by_port[8080]["Protocol"] == "HTTP"
        assert "Certificates" not in by_port[8080]
        # The web ACL stays in front of the load balancer (both listeners).
        association = props(template, "AWS::WAFv2::WebACLAssociation")
        assert association["ResourceArn"] == {"Ref": balancer_id(template)}


def test_latency_routing_sends_each_user_to_the_nearest_healthy_region(synth_cache):
    synthesized = synth_cache("domain_latency")
    for region in synthesized.config.regions:
        template = synthesized.regional(region)
        (regional_record,) = records(template, f"{region}.{DOMAIN_NAME}")
        assert regional_record["AliasTarget"] == alias_of(template)
        health_check_id, health_check = only(template, "AWS::Route53::HealthCheck")
        assert health_check["Properties"]["HealthCheckConfig"] == {
            "Type": "HTTPS",
            "FullyQualifiedDomainName": f"{region}.{DOMAIN_NAME}",
            "Port": 443,
            "ResourcePath": synthesized.config.service.health_check_path,
            "EnableSNI": True,
            "RequestInterval": HEALTH_CHECK_INTERVAL_SECONDS,
            "FailureThreshold": HEALTH_CHECK_FAILURES,
            "Inverted": False,
            "MeasureLatency": False,
        }
        (latency_record,) = records(template, DOMAIN_NAME)
        assert latency_record == {
            "Name": f"{DOMAIN_NAME}.",
            "Type": "A",
            "HostedZoneId": ZONE_ID,
            "Region": region,
            "SetIdentifier": region,
            "HealthCheckId": {"Ref": health_check_id},
            # The health check decides, not the load balancer's target groups (see below).
            "AliasTarget": {**alias_of(template), "EvaluateTargetHealth": False},
        }


def test_route_53_would_count_every_blue_green_load_balancer_unhealthy_by_its_target_groups():
    """Why the latency records do not evaluate target health: the idle target group of a pair has no targets."""
    model = botocore.session.Session().get_service_model("route53")
    text = re.sub(
        r"<[^>]+>", "", model.shape_for("AliasTarget").members["EvaluateTargetHealth"].documentation
    )
    assert "A target group that has no registered targets is considered unhealthy." in text
    assert (
        "If any target group contains only unhealthy targets, the load balancer is considered unhealthy"
        in text
    )


def test_the_redirect_takes_port_80_only_after_the_production_listener_left_it(synth_cache):
    """A running region given HTTPS moves its production listener from 80 to 443 in place; ELB allows one
    listener per port, so the new redirect listener waits for that update."""
    for stack_name, template in synth_cache("domain_latency").templates.items():
        if stack_name.endswith("-pipeline"):
            continue
        found = resources(template, "AWS::ElasticLoadBalancingV2::Listener")
        (production,) = (i for i, r in found.items() if r["Properties"]["Port"] == 443)
        (redirect,) = (i for i, r in found.items() if r["Properties"]["Port"] == 80)
        assert production in found[redirect].get("DependsOn", []), stack_name


def test_routing_none_keeps_the_regional_names_and_the_health_check_without_a_shared_record(small_domains):
    names = [
        r["Properties"]["Name"]
        for i, r in small_domains.find_resources("AWS::Route53::RecordSet").items()
        if i.startswith("NoShare")
    ]
    assert names == [f"eu-west-2.{DOMAIN_NAME}."]
    assert [i for i in small_domains.find_resources("AWS::Route53::HealthCheck") if i.startswith("NoShare")]


def test_staging_answers_only_on_its_staging_name(synth_cache):
    template = synth_cache("domain_latency").regional("staging-eu-west-1")
    staging_name = f"eu-west-1.staging.{DOMAIN_NAME}"
    certificate = props(template, "AWS::CertificateManager::Certificate")
    assert certificate["DomainName"] == staging_name
    assert "SubjectAlternativeNames" not in certificate
    assert [r["Name"] for r in resources_props(template, "AWS::Route53::RecordSet")] == [f"{staging_name}."]
    assert not resources(template, "AWS::Route53::HealthCheck")


def resources_props(template: dict, kind: str) -> list[dict]:
    return [r["Properties"] for r in resources(template, kind).values()]


def test_geolocation_serves_every_location_from_its_residency_region_only(synth_cache):
    synthesized = synth_cache("domain_geolocation")
    served = {}
    for region in synthesized.config.regions:
        template = synthesized.regional(region)
        assert records(template, f"{region}.{DOMAIN_NAME}")
        # Every production region keeps a health check on its own name, for its operators: no record uses it.
        only(template, "AWS::Route53::HealthCheck")
        for record in records(template, DOMAIN_NAME):
            # No fail-over: Route 53 would answer a failed region's users with another region's copy.
            assert "HealthCheckId" not in record
            assert record["AliasTarget"] == {**alias_of(template), "EvaluateTargetHealth": False}
            assert "Region" not in record
            location = record["GeoLocation"]
            code = location.get("ContinentCode") or location["CountryCode"]
            assert code not in served, f"{code} is served twice"
            served[code] = region
    assert served == RESIDENCY
    (everywhere_else,) = (
        r
        for r in records(synthesized.regional("eu-west-2"), DOMAIN_NAME)
        if r["GeoLocation"] == {"CountryCode": "*"}
    )
    assert everywhere_else["SetIdentifier"] == "eu-west-2-elsewhere"


@pytest.fixture(scope="module")
def small_domains() -> Template:
    """One small stack, synthesized once: a load balancer under a residency domain that names a country whose
    code is also a continent's (Geo) and under a domain with routing none (NoShare)."""
    stack = Stack(App(), "Domains", env=Environment(account="111111111111", region="eu-west-2"))
    balancer = elbv2.ApplicationLoadBalancer(stack, "Lb", vpc=ec2.Vpc(stack, "Vpc"))
    zone = {"name": DOMAIN_NAME, "hosted_zone_id": ZONE_ID, "hosted_zone_name": ZONE_NAME}
    residency = (("*", "eu-west-2"), ("NA", "eu-west-2"), ("country:NA", "eu-west-2"))
    for construct_id, settings in (
        ("Geo", DomainSettings(**zone, routing="geolocation", residency=residency)),
        ("NoShare", DomainSettings(**zone, routing="none")),
    ):
        domain = RegionalDomain(stack, construct_id, settings=settings, region="eu-west-2")
        domain.route_to(balancer, health_check_path="/")
    return Template.from_stack(stack)


def test_a_country_whose_code_is_a_continents_is_written_with_its_prefix(small_domains):
    assert {"AF", "AS", "NA", "SA"} <= COUNTRIES, "each is both a continent and a country"
    locations = sorted(
        json.dumps(r["Properties"]["GeoLocation"], sort_keys=True)
        for i, r in small_domains.find_resources("AWS::Route53::RecordSet").items()
        if i.startswith("Geo") and "GeoLocation" in r["Properties"]
    )
    assert locations == sorted(
        json.dumps(g) for g in ({"CountryCode": "*"}, {"ContinentCode": "NA"}, {"CountryCode": "NA"})
    )


ZONE = {"domain_name": DOMAIN_NAME, "hosted_zone_id": ZONE_ID, "hosted_zone_name": ZONE_NAME}
GEO = {**ZONE, "routing": "geolocation"}


@pytest.mark.parametrize(
    ("context", "expected"),
    [
        ({"domain_name": DOMAIN_NAME}, "hosted_zone_id: missing; domain_name shop.example.com needs"),
        ({"domain_name": DOMAIN_NAME, "hosted_zone_id": ZONE_ID}, "hosted_zone_name: missing"),
        (
            {"hosted_zone_id": ZONE_ID},
            "hosted_zone_id: 'Z0123456789ABCDEFGHIJ' is not allowed; it applies only",
        ),
        (
            {**ZONE, "domain_name": "Shop.Example.com"},
            "domain_name: 'Shop.Example.com' is not allowed; expected",
        ),
        (
            {**ZONE, "hosted_zone_id": "zone-1"},
            "hosted_zone_id: 'zone-1' is not allowed; expected a Route 53",
        ),
        ({**ZONE, "hosted_zone_name": "example.org"}, "it is not in hosted_zone_name example.org"),
        ({**ZONE, "domain_name": "a" * 60 + ".example.com"}, f"at most {MAX_COMMON_NAME} characters"),
        (
            {**ZONE, "routing": "nearest"},
            "routing: 'nearest' is not allowed; expected one of latency, geolocation",
        ),
        ({**ZONE, "residency": '{"*": "eu-west-2"}'}, "it applies only with routing geolocation"),
        ({**GEO}, 'residency: {} is not allowed; it needs "*"'),
        (
            {**GEO, "residency": '{"EU": "eu-west-2"}'},
            "residency: {'EU': 'eu-west-2'} is not allowed; it needs",
        ),
        ({**GEO, "residency": '{"XX": "eu-west-2", "*": "eu-west-2"}'}, "residency: 'XX' is not allowed"),
        (
            {**GEO, "residency": '{"Europe": "eu-west-2", "*": "eu-west-2"}'},
            "residency: 'Europe' is not allowed",
        ),
        (
            {**GEO, "residency": '{"DE": "eu-central-1", "*": "eu-west-2"}'},
            "residency: {'DE': 'eu-central-1'} is not allowed; it is not a production region",
        ),
        (
            {**GEO, "staging_regions": "eu-west-1", "residency": '{"*": "eu-west-1"}'},
            "residency: {'*': 'eu-west-1'} is not allowed; it is not a production region",
        ),
        (
            {**GEO, "residency": "EU=eu-west-2"},
            "residency: 'EU=eu-west-2' is not allowed; expected a JSON object",
        ),
        (
            {**ZONE, "domain_name": "a" * 37 + ".example.com", "staging_regions": "ap-southeast-1"},
            "the staging name ap-southeast-1.staging." + "a" * 37,
        ),
    ],
)
def test_bad_domain_settings_are_refused_with_one_line(context, expected):
    assert expected in config_error(**context)
