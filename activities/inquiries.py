from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

from temporalio import activity

from herald.database import Database
from herald.inquiries import service
from herald.inquiries.contracts import ConvertRequest, EmailRequest, Recorded, SentEmail
from herald.messaging.delivery import delivery_env
from herald.messaging.unsubscribe import Links
from herald.outbound import Outbound


class InquiryActivities:
    """The follow-up's side effects. Each is idempotent under retries (keys in the database)."""

    def __init__(self, db: Database, links: Links, outbound: Outbound) -> None:
        self._db = db
        self._links = links
        self._outbound = outbound

    def all_activities(self) -> list[Callable[..., Any]]:
        return [self.record_inquiry, self.send_inquiry_email, self.convert_inquiry]

    @activity.defn
    def record_inquiry(self, change: Recorded) -> None:
        with self._db.session(change.organization_id) as session:
            service.record(session, change)

    @activity.defn
    def send_inquiry_email(self, request: EmailRequest) -> list[SentEmail]:
        with self._db.session(request.organization_id) as session:
            env = delivery_env(session, self._links, self._outbound, request.workflow_time)
            return service.send_email(session, request, env)

    @activity.defn
    def convert_inquiry(self, request: ConvertRequest) -> uuid.UUID | None:
        with self._db.session(request.organization_id) as session:
            return service.convert_customer(session, request)
