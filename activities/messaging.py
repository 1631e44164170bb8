from __future__ import annotations

from temporalio import activity

from herald.database import Database
from herald.messaging.contracts import DeliveryOutcome, DeliveryRequest
from herald.messaging.delivery import deliver, delivery_env
from herald.messaging.unsubscribe import Links
from herald.outbound import Outbound


class MessagingActivities:
    """Message delivery. Idempotent by the message's unique intent key."""

    def __init__(self, db: Database, links: Links, outbound: Outbound) -> None:
        self._db = db
        self._links = links
        self._outbound = outbound

    @activity.defn
    def deliver_message(self, request: DeliveryRequest) -> DeliveryOutcome:
        with self._db.session(request.organization_id) as session:
            env = delivery_env(session, self._links, self._outbound, request.workflow_time)
            return deliver(session, request, env)
