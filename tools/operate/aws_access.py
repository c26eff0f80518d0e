"""How every operator command reaches AWS: its clients, its one-line errors."""

from __future__ import annotations

from datetime import UTC, datetime

import botocore.session
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

# What an operator command reports in one line instead of a traceback.
AWS_ERRORS = (ClientError, BotoCoreError)
# Short timeouts and AWS's standard retry mode (throttling is retried) for every operator command.
CLIENT_CONFIG = Config(connect_timeout=5, read_timeout=20, retries={"mode": "standard", "max_attempts": 3})


class OperatorError(RuntimeError):
    """The command cannot run; the message is one line saying what to do next."""


def has_credentials() -> bool:
    """Whether botocore finds credentials (environment, profile, SSO, instance role)."""
    return botocore.session.get_session().get_credentials() is not None


def aws_client(service: str, region: str):
    """A botocore client from the operator's credentials, as every operator command makes them."""
    return botocore.session.get_session().create_client(service, region_name=region, config=CLIENT_CONFIG)


def utc_minute(when: datetime) -> str:
    """``when`` as ``YYYY-MM-DD HH:MM UTC``: botocore gives timestamps in the machine's own time zone."""
    return f"{when.astimezone(UTC):%Y-%m-%d %H:%M} UTC"
