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
# Security logs (flow logs, WAF logs, database logs, access logs): a year (PCI DSS 3.2.1, requirement 10.7).
SECURITY_LOG_RETENTION_DAYS = 365
# The periods CloudWatch Logs keeps events for (PutRetentionPolicy's retentionInDays; tests/test_config.py
# checks them against botocore's model), as CDK names them.
RETENTION_DAYS = {
    1: logs.RetentionDays.ONE_DAY,
    3: logs.RetentionDays.THREE_DAYS,
    5: logs.RetentionDays.FIVE_DAYS,
    7: logs.RetentionDays.ONE_WEEK,
    14: logs.RetentionDays.TWO_WEEKS,
    30: logs.RetentionDays.ONE_MONTH,
    60: logs.RetentionDays.TWO_MONTHS,
    90: logs.RetentionDays.THREE_MONTHS,
    120: logs.RetentionDays.FOUR_MONTHS,
    150: logs.RetentionDays.FIVE_MONTHS,
    180: logs.RetentionDays.SIX_MONTHS,
    365: logs.RetentionDays.ONE_YEAR,
    400: logs.RetentionDays.THIRTEEN_MONTHS,
    545: logs.RetentionDays.EIGHTEEN_MONTHS,
    731: logs.RetentionDays.TWO_YEARS,
    1096: logs.RetentionDays.THREE_YEARS,
    1827: logs.RetentionDays.FIVE_YEARS,
    2192: logs.RetentionDays.SIX_YEARS,
    2557: logs.RetentionDays.SEVEN_YEARS,
    2922: logs.RetentionDays.EIGHT_YEARS,
    3288: logs.RetentionDays.NINE_YEARS,
    3653: logs.RetentionDays.TEN_YEARS,
}


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
