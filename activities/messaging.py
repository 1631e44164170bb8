from __future__ import annotations

from datetime import timedelta

from temporalio import activity
from temporalio.exceptions import ApplicationError

from herald.db import Database
from herald.messaging.delivery import DeliveryOutcome, DeliveryRequest, deliver
from herald.messaging.providers import ProviderError, providers_for


class MessagingActivities:
    """Message delivery. Idempotent by the message's unique intent key."""

    def __init__(self, db: Database) -> None:
        self._db = db

    @activity.defn
    def deliver_message(self, request: DeliveryRequest) -> DeliveryOutcome:
        with self._db.session(request.organization_id) as session:
            try:
                return deliver(session, request, providers_for(request.organization_id))
            except ProviderError as exc:  # the provider said "later": retry, at its pace
                delay = timedelta(seconds=exc.retry_after_s) if exc.retry_after_s else None
                raise ApplicationError(
                    exc.reason, type="ProviderError", next_retry_delay=delay
                ) from exc
