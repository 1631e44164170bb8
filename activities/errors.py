"""The one translation of Herald's errors into Temporal's, registered by the worker for every
activity.

A domain error means the same input will fail the same way: retrying it only repeats the
failure once a minute, forever. So it fails the activity at once (non-retryable), carrying its
type, and the workflow decides what the failure means. Throttling and "still running" are the
exceptions: they pass with time, so they retry. A provider's "later" retries at the provider's
pace. Anything else (a database outage, a bug fixed by a deploy) keeps the activity's retry
policy.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from temporalio.exceptions import ApplicationError
from temporalio.worker import (
    ActivityInboundInterceptor,
    ExecuteActivityInput,
    Interceptor,
)

from herald.errors import HeraldError, StillRunning, TooManyRequests
from herald.messaging.providers import ProviderError

# Domain errors that pass with time.
RETRYABLE_DOMAIN_ERRORS: tuple[type[HeraldError], ...] = (TooManyRequests, StillRunning)


def as_application_error(exc: HeraldError | ProviderError) -> ApplicationError:
    """The Temporal failure a Herald error becomes."""
    if isinstance(exc, ProviderError):
        delay = timedelta(seconds=exc.retry_after_s) if exc.retry_after_s else None
        return ApplicationError(
            exc.reason,
            type="ProviderError",
            non_retryable=not exc.retryable,
            next_retry_delay=delay,
        )
    return ApplicationError(
        exc.detail,
        {"field": exc.field, "status": exc.status},
        type=type(exc).__name__,
        non_retryable=not isinstance(exc, RETRYABLE_DOMAIN_ERRORS),
    )


class _TranslateDomainErrors(ActivityInboundInterceptor):
    async def execute_activity(self, input: ExecuteActivityInput) -> Any:
        try:
            return await self.next.execute_activity(input)
        except (HeraldError, ProviderError) as exc:
            raise as_application_error(exc) from exc


class DomainErrorInterceptor(Interceptor):
    """Worker interceptor: every activity's domain errors become Temporal application errors."""

    def intercept_activity(self, next: ActivityInboundInterceptor) -> ActivityInboundInterceptor:
        return _TranslateDomainErrors(next)
