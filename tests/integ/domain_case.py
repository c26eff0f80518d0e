"""Check 5, the domain, shared by integ_domain_latency and integ_domain_geolocation (one routing each: a
deployment has one). Run only with a hosted zone (make acceptance HOSTED_ZONE_ID=... HOSTED_ZONE_NAME=...).

Both regions' stacks create in parallel, each with a DNS-validated ACM certificate for the shared name and its
own ``<region>.<name>``: both write the shared name's validation record into the one zone. After a release
(post-deploy hook: the sample reports the region it runs in), each region's assertions, run from a Lambda
function in that region, require:

- ``https://<region>.<name>/`` to answer 200 from that region: the TLS handshake checks the certificate, which
  CloudFormation created only once ACM had issued it;
- ``https://<name>/`` to answer 200 from that region too: with latency routing Route 53 answers a resolver in
  a region with that region's record (the lowest latency from the resolver); with geolocation the residency
  map below sends Europe to eu-west-2 and Asia to ap-southeast-1, and the resolver of a function in London is
  in Europe, the one in Singapore in Asia.
"""

from __future__ import annotations

import os

from aws_cdk.integ_tests_alpha import ExpectedResult, HttpApiCall
from support import (
    POLL,
    RELEASE,
    SETTLE,
    assertion_stacks,
    new_app,
    release,
    run_id,
    synthesize,
)

from constructs.settings.domain_settings import DomainSettings

# The zone of the acceptance run (make acceptance HOSTED_ZONE_ID=... HOSTED_ZONE_NAME=...); the stand-in is
# for the offline snapshot only.
ZONE_ID = os.environ.get("ACCEPTANCE_HOSTED_ZONE_ID", "Z0123456789ABCDEFGHIJ")
ZONE_NAME = os.environ.get("ACCEPTANCE_HOSTED_ZONE_NAME", "example.com")
RESIDENCY = (("EU", "eu-west-2"), ("AS", "ap-southeast-1"), ("*", "eu-west-2"))


def check_domain(test: str, routing: str) -> None:
    app = new_app()
    built = release(
        app,
        test,
        domain=DomainSettings(
            # A name of the run's own, so that the run never touches a record it did not create; short, as
            # ACM takes at most 64 characters for a certificate's first name.
            name=f"it-{routing[:3]}-{run_id()}.{ZONE_NAME}",
            hosted_zone_id=ZONE_ID,
            hosted_zone_name=ZONE_NAME,
            routing=routing,
            residency=RESIDENCY if routing == "geolocation" else (),
        ),
    )
    asserts = assertion_stacks(app, built)
    for region, regional in built.regional_stacks.items():
        stack, domain = asserts[region], regional.domain
        calls = [
            HttpApiCall(stack, f"{construct_id}Answers", url=f"https://{name}/")
            for construct_id, name in (
                ("RegionalName", domain.regional_name),
                ("SharedName", domain.settings.name),
            )
        ]
        for call in calls:
            call.expect(ExpectedResult.object_like({"status": 200, "body": {"region": region}}))
            call.wait_for_assertions(total_timeout=SETTLE, interval=POLL)
        calls[0].next(calls[1])
    synthesize(app, test.title().replace("-", ""), built, asserts, post_deploy=(RELEASE,))
