from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

from temporalio import activity
from temporalio.exceptions import ApplicationError

from activities.messaging import retry_later
from herald.db import Database
from herald.errors import HeraldError
from herald.inquiries import service
from herald.inquiries.schemas import ConvertRequest, EmailRequest, Recorded, SentEmail
from herald.messaging.delivery import delivery_env
from herald.messaging.providers import ProviderError
from herald.messaging.unsubscribe import Links


class InquiryActivities:
    """The follow-up's side effects. Each is idempotent under retries (keys in the database)."""

    def __init__(self, db: Database, links: Links) -> None:
        self._db = db
        self._links = links

    def all_activities(self) -> list[Callable[..., Any]]:
        return [self.record_inquiry, self.send_inquiry_email, self.convert_inquiry]

    @activity.defn
    def record_inquiry(self, change: Recorded) -> None:
        with self._db.session(change.organization_id) as session:
            service.record(session, change)

    @activity.defn
    def send_inquiry_email(self, request: EmailRequest) -> list[SentEmail]:
        with self._db.session(request.organization_id) as session:
            env = delivery_env(session, self._links, request.workflow_time)
            try:
                return service.send_email(session, request, env)
            except ProviderError as exc:
                raise retry_later(exc) from exc

    @activity.defn
    def convert_inquiry(self, request: ConvertRequest) -> uuid.UUID | None:
        with self._db.session(request.organization_id) as session:
            try:
                return service.convert_customer(session, request)
            except HeraldError as exc:  # the customer named is gone: retrying cannot help
                raise ApplicationError(exc.detail, type="InvalidInput", non_retryable=True) from exc
