"""One account per jurisdiction: the account settings are read, checked, and give each stack its account; a
configuration that names only the pipeline's account synthesizes exactly as without them (what another
account's stacks hold: tests/test_cross_account_release.py)."""

from __future__ import annotations

import json

import pytest
from aws_cdk import App
from conftest import ROOT

from constructs.multi_region_release import MultiRegionBlueGreenRelease
from constructs.settings.release_config import ConfigError, ReleaseConfig

TOOLS, EU, APAC, STAGING, DNS = "111122223333", "222233334444", "333344445555", "444455556666", "555566667777"
DOMAIN = {
    "domain_name": "shop.example.com",
    "hosted_zone_id": "Z0123456789ABCDEFGHIJ",
    "hosted_zone_name": "example.com",
}


def config(**context: object) -> ReleaseConfig:
    return ReleaseConfig.from_context(
        {"account": TOOLS, "allow_plain_http": True, **context}, default_account=None
    )


def refused(**context: object) -> str:
    with pytest.raises(ConfigError) as raised:
        config(**context)
    assert "\n" not in str(raised.value)
    return str(raised.value)


def test_each_stack_has_the_account_of_its_region_staging_copy_or_zone():
    residency = config(
        extra_regions="eu-central-1,ap-southeast-1",
        region_accounts=json.dumps({"eu-west-2": EU, "eu-central-1": EU, "ap-southeast-1": APAC}),
        staging_regions="eu-west-1",
        staging_account=STAGING,
        hosted_zone_account=DNS,
        **DOMAIN,
    )
    assert [residency.account_of(r) for r in residency.regions] == [EU, EU, APAC]
    assert residency.account_of("eu-west-1", staging=True) == STAGING
    assert residency.zone_account == DNS
    assert residency.other_accounts == (EU, APAC, STAGING, DNS)


def test_unset_every_stack_and_the_zone_are_in_the_pipelines_account():
    plain = config(**DOMAIN, extra_regions="ap-southeast-1")
    assert [plain.account_of(r) for r in plain.regions] == [TOOLS, TOOLS]
    assert (plain.zone_account, plain.other_accounts) == (TOOLS, ())


@pytest.mark.parametrize(
    ("context", "message"),
    [
        (
            {"region_accounts": json.dumps({"us-east-1": EU})},
            "region_accounts: 'us-east-1' is not allowed; it is not a production region (eu-west-2, ap-southeast-1)",
        ),
        (
            {"region_accounts": json.dumps({"eu-west-1": EU}), "staging_regions": "eu-west-1"},
            "region_accounts: 'eu-west-1' is not allowed; it is not a production region (eu-west-2, ap-southeast-1) "
            "(a staging copy's account is staging_account)",
        ),
        (
            {"region_accounts": json.dumps({"eu-west-2": "12345"})},
            "region_accounts: '12345' is not allowed; expected 12 digits, the account of eu-west-2",
        ),
        (
            {"region_accounts": "eu-west-2=222233334444"},
            "region_accounts: 'eu-west-2=222233334444' is not allowed; expected a JSON object",
        ),
        (
            {"staging_account": STAGING},
            f"staging_account: '{STAGING}' is not allowed; it applies only with staging_regions; set staging_regions too",
        ),
        (
            {"hosted_zone_account": DNS},
            f"hosted_zone_account: '{DNS}' is not allowed; it applies only with domain_name; set domain_name too",
        ),
        (
            {"staging_regions": "eu-west-1", "staging_account": "x" * 12},
            f"staging_account: '{'x' * 12}' is not allowed; expected 12 digits",
        ),
    ],
    ids=[
        "not-a-production-region",
        "a-staging-region",
        "short-account",
        "not-json",
        "staging-without-staging",
        "zone-without-domain",
        "letters",
    ],
)
def test_a_bad_account_setting_is_refused_with_one_line(context, message):
    assert refused(**context).startswith(message)


def test_a_regions_certificate_must_be_in_that_regions_account():
    certificate = f"arn:aws:acm:ap-southeast-1:{TOOLS}:certificate/0a1b2c3d-1111-2222-3333-444455556666"
    message = refused(
        region_accounts=json.dumps({"ap-southeast-1": APAC}),
        certificate_arns=json.dumps({"ap-southeast-1": certificate}),
    )
    assert message.startswith(
        f"certificate_arns: '{certificate}' is not allowed; expected arn:aws:acm:ap-southeast-1:{APAC}:"
    )


def test_naming_only_the_pipelines_account_synthesizes_the_same_templates():
    def templates(**context: object) -> dict[str, dict]:
        app = App()
        MultiRegionBlueGreenRelease(app, "app", config=config(**context))
        assembly = app.synth()
        return {stack.stack_name: stack.template for stack in assembly.stacks}

    same = {"region_accounts": json.dumps({"eu-west-2": TOOLS, "ap-southeast-1": TOOLS})}
    assert templates(**same) == templates()


def test_the_docs_residency_example_is_a_valid_configuration_placing_each_stack_as_it_says():
    text = (ROOT / "docs" / "accounts.md").read_text()
    example = json.loads(text.split("```json\n", 1)[1].split("```", 1)[0])
    documented = ReleaseConfig.from_context({**example, "allow_plain_http": True}, default_account=None)
    assert [documented.account_of(r) for r in documented.regions] == [EU, EU, APAC]
    assert documented.account_of("eu-west-1", staging=True) == STAGING
    assert (documented.account, documented.zone_account) == (TOOLS, DNS)
    # Residency routing: every production region serves its jurisdiction's users.
    assert documented.domain.routing == "geolocation"
    assert {region for _, region in documented.domain.residency} == set(documented.regions)
