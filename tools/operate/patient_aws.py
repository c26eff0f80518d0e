"""AWS calls for the operator commands that poll many regions for many minutes.

botocore's standard retry mode (``tools.operate.cdk_commands.CLIENT_CONFIG``) retries a
throttled call three times within seconds; a release followed across thirty
regions can still be throttled past that. ``Aws.call`` waits such errors out
(botocore's own list of throttling codes, capped exponential backoff with
jitter) and makes one client per service and region.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from typing import Any

from botocore.exceptions import ClientError
from botocore.retries.standard import RetryContext, ThrottledRetryableChecker

# botocore's throttling codes, less LimitExceededException: CodePipeline and CodeDeploy use it for quotas,
# which waiting does not lift.
THROTTLED = ThrottledRetryableChecker(
    [code for code in ThrottledRetryableChecker._THROTTLED_ERROR_CODES if code != "LimitExceededException"]
)
ATTEMPTS = 8
MAX_BACKOFF_SECONDS = 20.0


def throttled(error: ClientError) -> bool:
    return THROTTLED.is_retryable(RetryContext(attempt_number=1, parsed_response=error.response))


def error_code(error: ClientError) -> str:
    return error.response.get("Error", {}).get("Code", "")


class Aws:
    """Clients per (service, region) from ``client_for``; calls that wait out throttling.

    Args:
        client_for: makes a botocore client for a service and region (tests pass Stubber-backed ones).
        sleep: how to wait between attempts.
        attempts: how often a throttled call is tried before its error is raised.
        jitter: the share (0.5-1) of the capped exponential wait actually waited, so that many callers
            throttled at once do not retry at once. Default random.
        accounts: account -> ``(service, region) -> client`` factory, for an app in several accounts
            (:meth:`of`). Default none: every call goes through ``client_for``.
    """

    def __init__(
        self,
        client_for: Callable[[str, str], Any],
        *,
        sleep: Callable[[float], None] = time.sleep,
        attempts: int = ATTEMPTS,
        jitter: Callable[[], float] = lambda: random.uniform(0.5, 1.0),
        accounts: Callable[[str], Callable[[str, str], Any]] | None = None,
    ) -> None:
        self._client_for = client_for
        self._clients: dict[tuple[str, str], Any] = {}
        self.sleep = sleep
        self.attempts = attempts
        self.jitter = jitter
        self._accounts = accounts
        self._of: dict[str, Aws] = {}

    def of(self, account: str) -> Aws:
        """The calls into ``account``, with that account's credentials; these very calls for a one-account app."""
        if self._accounts is None:
            return self
        if account not in self._of:
            calls = Aws(
                self._accounts(account),
                sleep=self.sleep,
                attempts=self.attempts,
                jitter=self.jitter,
                accounts=self._accounts,
            )
            calls._of = self._of  # every account's calls reach every other account's
            self._of[account] = calls
        return self._of[account]

    def client(self, service: str, region: str):
        key = (service, region)
        if key not in self._clients:
            self._clients[key] = self._client_for(service, region)
        return self._clients[key]

    def call(self, service: str, region: str, operation: str, /, **params) -> dict:
        for attempt in range(1, self.attempts + 1):
            try:
                return getattr(self.client(service, region), operation)(**params)
            except ClientError as error:
                if attempt == self.attempts or not throttled(error):
                    raise
                self.sleep(self.jitter() * min(2.0**attempt, MAX_BACKOFF_SECONDS))
        raise AssertionError("unreachable")

    def pages(self, service: str, region: str, operation: str, items: str, token: str, /, **params) -> list:
        """Every item of a paginated list call (``token`` is the operation's next-token field name)."""
        found, page = [], self.call(service, region, operation, **params)
        found += page.get(items, [])
        while page.get(token):
            page = self.call(service, region, operation, **params, **{token: page[token]})
            found += page.get(items, [])
        return found
