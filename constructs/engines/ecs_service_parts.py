"""What the ECS engine's hooks and released image read from a region's service, as a type of its own.

``RegionalEcsService`` (constructs/region/regional_service.py) has these parts and builds the released image,
so naming it here would make the modules import each other; this protocol is the piece both sides share.
"""

from __future__ import annotations

from typing import Protocol

from aws_cdk import aws_ecs as ecs
from aws_cdk import aws_logs as logs

from constructs.settings.service_settings import ServiceSettings


class EcsServiceParts(Protocol):
    """A region's ECS service: its cluster, the Fargate service, its log group and its settings."""

    @property
    def cluster(self) -> ecs.Cluster: ...

    @property
    def service(self) -> ecs.FargateService: ...

    @property
    def log_group(self) -> logs.ILogGroup: ...

    @property
    def settings(self) -> ServiceSettings: ...
