"""Every regional stack outputs its copy's address (ServiceUrl): the domain's name, else the load balancer's."""

from __future__ import annotations

import pytest
from conftest import DOMAIN_NAME
from template_queries import only

from tools.operate.regional_state import SERVICE_URL


def load_balancer_url(template: dict, scheme: str) -> dict:
    """``<scheme>://`` and the stack's own load balancer's DNS name, as CloudFormation joins them."""
    balancer, _ = only(template, "AWS::ElasticLoadBalancingV2::LoadBalancer")
    return {"Fn::Join": ["", [f"{scheme}://", {"Fn::GetAtt": [balancer, "DNSName"]}]]}


def test_every_copy_outputs_its_address_and_the_tools_read_that_output(synthesized):
    assert SERVICE_URL == "ServiceUrl"
    for name, template in synthesized.regional_templates.items():
        output = template["Outputs"][SERVICE_URL]
        # Neither a domain nor a certificate in the structural configurations: plain HTTP (allow_plain_http).
        assert output["Value"] == load_balancer_url(template, "http"), name
        assert output["Description"] == (
            "This copy's address: plain HTTP on the load balancer's DNS name (allow_plain_http, or a staging copy)"
        )
    assert SERVICE_URL not in synthesized.pipeline.get("Outputs", {})


@pytest.mark.parametrize(
    ("configuration", "stack", "scheme"),
    [
        ("hardened", "us-east-1", "https"),  # certificate_arns, no domain
        ("hardened", "eu-west-2", "http"),  # the same app's region without a certificate
    ],
)
def test_without_a_domain_the_address_is_the_load_balancers_dns_name(
    synth_cache, configuration, stack, scheme
):
    template = synth_cache(configuration).regional(stack)
    output = template["Outputs"][SERVICE_URL]
    assert output["Value"] == load_balancer_url(template, scheme)
    if scheme == "https":
        assert output["Description"].startswith(
            "This copy's address: HTTPS on the load balancer's DNS name, which the certificate of "
            "certificate_arns does not name (browsers warn)"
        )


@pytest.mark.parametrize(
    ("configuration", "stack", "url", "shared"),
    [
        ("domain_latency", "eu-west-2", f"https://eu-west-2.{DOMAIN_NAME}", "by latency routing"),
        # A certificate of its own as well: the name stays the domain's (the certificate must cover it).
        ("domain_latency", "us-east-1", f"https://us-east-1.{DOMAIN_NAME}", "by latency routing"),
        ("domain_latency", "staging-eu-west-1", f"https://eu-west-1.staging.{DOMAIN_NAME}", "a staging copy"),
        (
            "domain_geolocation",
            "eu-central-1",
            f"https://eu-central-1.{DOMAIN_NAME}",
            "by geolocation routing",
        ),
    ],
)
def test_with_a_domain_the_address_is_the_copys_own_name(synth_cache, configuration, stack, url, shared):
    output = synth_cache(configuration).regional(stack)["Outputs"][SERVICE_URL]
    assert output["Value"] == url
    assert output["Description"].startswith("This copy's address: its own name (")
    assert shared in output["Description"]
