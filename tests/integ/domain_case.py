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

With ZONE_ACCOUNT (a zone of another account), the certificates and records are written through that account's
record writer instead, as in integ_accounts.
"""

from __future__ import annotations

from support import (
    RELEASE,
    answers_on_its_names,
    assertion_stacks,
    domain,
    new_app,
    release,
    synthesize,
    zone_account,
)

RESIDENCY = (("EU", "eu-west-2"), ("AS", "ap-southeast-1"), ("*", "eu-west-2"))


def check_domain(test: str, routing: str) -> None:
    app = new_app()
    built = release(
        app,
        test,
        domain=domain(routing[:3], routing, RESIDENCY if routing == "geolocation" else ()),
        hosted_zone_account=zone_account(),
    )
    asserts = assertion_stacks(app, built)
    for region, regional in built.regional_stacks.items():
        answers_on_its_names(asserts[region], regional, region)
    synthesize(app, test.title().replace("-", ""), built, asserts, post_deploy=(RELEASE,))
