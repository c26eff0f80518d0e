"""How every operator command reaches AWS: its clients, its one-line errors."""

from __future__ import annotations

from datetime import UTC, datetime

import botocore.session
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError, HTTPClientError, ProfileNotFound
from botocore.exceptions import ConnectionError as NoConnection

# What an operator command reports in one line instead of a traceback.
AWS_ERRORS = (ClientError, BotoCoreError)
# No answer from AWS at all: the machine (network, proxy, TLS), not the account or its profile.
UNREACHABLE = (NoConnection, HTTPClientError)
# Short timeouts and AWS's standard retry mode (throttling is retried) for every operator command.
CLIENT_CONFIG = Config(connect_timeout=5, read_timeout=20, retries={"mode": "standard", "max_attempts": 3})


class OperatorError(RuntimeError):
    """The command cannot run; the message is one line saying what to do next."""


def has_credentials() -> bool:
    """Whether botocore finds credentials (environment, profile, SSO, instance role); one line when the
    profile ``AWS_PROFILE`` names is not configured."""
    try:
        return botocore.session.get_session().get_credentials() is not None
    except ProfileNotFound as error:
        raise OperatorError(
            f"AWS_PROFILE: {error.kwargs.get('profile')!r} is not a profile of your AWS configuration "
            "(~/.aws/config, ~/.aws/credentials); name one that is, or unset AWS_PROFILE"
        ) from None


def aws_client(service: str, region: str):
    """A botocore client from the operator's credentials, as every operator command makes them."""
    return botocore.session.get_session().create_client(service, region_name=region, config=CLIENT_CONFIG)


def utc_minute(when: datetime) -> str:
    """``when`` as ``YYYY-MM-DD HH:MM UTC``: botocore gives timestamps in the machine's own time zone."""
    return f"{when.astimezone(UTC):%Y-%m-%d %H:%M} UTC"


def error_line(error: Exception) -> str:
    """The one line an operator command prints for ``error``: an unreachable AWS is said so, in the same words
    everywhere."""
    if isinstance(error, UNREACHABLE):
        return (
            f"AWS cannot be reached from this machine ({type(error).__name__}: {error}); check the network, any "
            "proxy and the credentials, then run the command again"
        )
    return str(error)
