from __future__ import annotations

from datetime import timedelta

from temporalio import activity
from temporalio.exceptions import ApplicationError

from herald.db import Database
from herald.messaging.delivery import DeliveryOutcome, DeliveryRequest, deliver, delivery_env
from herald.messaging.providers import ProviderError
from herald.messaging.unsubscribe import Links


def retry_later(exc: ProviderError) -> ApplicationError:
    """The provider said "later": the activity retries, at the provider's pace."""
    delay = timedelta(seconds=exc.retry_after_s) if exc.retry_after_s else None
    return ApplicationError(exc.reason, type="ProviderError", next_retry_delay=delay)


class MessagingActivities:
    """Message delivery. Idempotent by the message's unique intent key."""

    def __init__(self, db: Database, links: Links) -> None:
        self._db = db
        self._links = links

    @activity.defn
    def deliver_message(self, request: DeliveryRequest) -> DeliveryOutcome:
        with self._db.session(request.organization_id) as session:
            env = delivery_env(session, self._links, request.workflow_time)
            try:
                return deliver(session, request, env)
            except ProviderError as exc:
                raise retry_later(exc) from exc
