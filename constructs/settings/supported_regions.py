"""The AWS regions a release can deploy to, from botocore's bundled endpoint data.

A region qualifies when botocore (pinned in requirements.txt) lists an endpoint
for CodePipeline, CodeDeploy, ECS and WAF (wafv2) in the commercial ``aws``
partition: the pipeline's cross-region actions, the blue/green deployment
group, the Fargate service and the load balancer's web ACL must all exist there. Bumping botocore is how new regions
arrive; nobody edits a hand-typed list.
"""

from __future__ import annotations

import functools

from botocore.loaders import Loader

PARTITION = "aws"
REQUIRED_SERVICES = ("codepipeline", "codedeploy", "ecs", "wafv2")

# CodePipeline quota: at most 50 actions in one stage. Every region is one
# deploy action in the production stage.
MAX_ACTIONS_PER_STAGE = 50


@functools.cache
def supported_regions() -> tuple[str, ...]:
    """Sorted region codes where every service in REQUIRED_SERVICES has an endpoint."""
    endpoints = Loader().load_data("endpoints")
    partition = next(p for p in endpoints["partitions"] if p["partition"] == PARTITION)
    region_codes = set(partition["regions"])
    for service in REQUIRED_SERVICES:
        service_endpoints = partition["services"].get(service, {}).get("endpoints", {})
        region_codes &= {
            code for code, endpoint in service_endpoints.items() if not endpoint.get("deprecated")
        }
    return tuple(sorted(region_codes))
