"""The stack in the hosted zone's account that lets regions of other accounts write their names."""

from __future__ import annotations

from collections.abc import Sequence

from aws_cdk import Environment, Stack

from constructs import Construct
from constructs.region.remote_zone import ZoneWriterRole
from constructs.settings.feature_flags import pin_feature_flags


class DnsStack(Stack):
    """One :class:`~constructs.region.remote_zone.ZoneWriterRole` per regional stack of another account.

    It deploys before those stacks (they write through their role while they deploy); it holds no records
    itself: each region's stack owns its records, so they come and go with its load balancer.

    Args:
        env: the hosted zone's account and the home region (IAM is global; the stack needs a region).
        zone_id: the hosted zone's ID.
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        env: Environment,
        stack_name: str,
        zone_id: str,
        description: str | None = None,
    ) -> None:
        super().__init__(scope, construct_id, env=env, stack_name=stack_name, description=description)
        pin_feature_flags(self)
        self.zone_id = zone_id

    def writer_for(
        self, stack_name: str, *, account: str, record_names: Sequence[str], validated_names: Sequence[str]
    ) -> ZoneWriterRole:
        """The writer role of the regional stack ``stack_name`` in ``account`` (it must deploy after this one:
        :meth:`serve`)."""
        return ZoneWriterRole(
            self,
            stack_name,
            zone_id=self.zone_id,
            writer_account=account,
            record_names=record_names,
            validated_names=validated_names,
        )

    def serve(self, stack: Stack) -> None:
        """Let ``stack``, which writes through one of this stack's roles, deploy after it."""
        stack.add_stack_dependency(self, "its records are written through a role of this stack")
