from __future__ import annotations

from datetime import timedelta

from temporalio import activity
from temporalio.exceptions import ApplicationError

from herald.db import Database, utcnow
from herald.messaging.delivery import (
    DeliveryEnv,
    DeliveryOutcome,
    DeliveryRequest,
    SendRules,
    deliver,
)
from herald.messaging.providers import ProviderError, providers_for
from herald.messaging.setup import load_messaging_settings
from herald.messaging.unsubscribe import Links


class MessagingActivities:
    """Message delivery. Idempotent by the message's unique intent key."""

    def __init__(self, db: Database, links: Links) -> None:
        self._db = db
        self._links = links

    @activity.defn
    def deliver_message(self, request: DeliveryRequest) -> DeliveryOutcome:
        with self._db.session(request.organization_id) as session:
            settings = load_messaging_settings(session)
            env = DeliveryEnv(
                providers=providers_for(settings, self._links.public_url),
                rules=SendRules.of(settings),
                links=self._links,
                now=max(utcnow(), request.workflow_time or utcnow()),
            )
            try:
                return deliver(session, request, env)
            except ProviderError as exc:  # the provider said "later": retry, at its pace
                delay = timedelta(seconds=exc.retry_after_s) if exc.retry_after_s else None
                raise ApplicationError(
                    exc.reason, type="ProviderError", next_retry_delay=delay
                ) from exc
