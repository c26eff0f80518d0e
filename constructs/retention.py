"""How the project keeps data: retained on update and delete, never left behind by a failed first create.

CloudFormation's ``Retain`` keeps a resource even when the stack operation that
created it rolls back; with a fixed (even generated) name the retry then
fails with "already exists". ``RetainExceptOnCreate`` (CDK's
``RETAIN_ON_UPDATE_OR_DELETE``) keeps the resource on updates and stack
deletion but deletes it when its own create is rolled back.
"""

from __future__ import annotations

from aws_cdk import RemovalPolicy
from aws_cdk import aws_logs as logs

from constructs import Construct

RETAINED = RemovalPolicy.RETAIN_ON_UPDATE_OR_DELETE
DEFAULT_LOG_RETENTION = logs.RetentionDays.ONE_MONTH


def log_group(
    scope: Construct,
    construct_id: str,
    *,
    retention: logs.RetentionDays = DEFAULT_LOG_RETENTION,
    name: str | None = None,
) -> logs.LogGroup:
    """A log group with a retention, kept when its stack is deleted (``RETAINED``).

    ``name`` only where a service requires one (generate it; a fixed name would collide with the
    retained group when the stack is created again). Default: CloudFormation names it.
    """
    return logs.LogGroup(
        scope, construct_id, retention=retention, removal_policy=RETAINED, log_group_name=name
    )
