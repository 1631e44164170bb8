"""Message delivery's Temporal contract: the SendMessage name and id, and the requests and
outcomes the delivery path exchanges with every run that sends (ids only, no personal data).
Runs in flight depend on these: rename nothing, and give new fields defaults."""

from __future__ import annotations

import enum
import uuid
from datetime import datetime
from typing import Any

from pydantic import BaseModel, Field, model_validator

from herald.temporal import tenant_workflow_id

SEND_WORKFLOW = "SendMessage"


def send_workflow_id(organization_id: uuid.UUID, intent_key: str) -> str:
    """One run per message intent."""
    return tenant_workflow_id(SEND_WORKFLOW, organization_id, intent_key)


# Bounded so a batch and its outcomes stay well inside a Temporal payload (2 MB).
MAX_BATCH = 2000


class Recipient(BaseModel):
    """Who one message goes to, and the intent that makes it unique. Ids only, no personal data."""

    idempotency_key: str = Field(min_length=1, max_length=300)
    customer_id: uuid.UUID | None = None
    # An address given for this send (test sends): its ``AdHocRecipient`` row; otherwise the
    # customer's primary one for the channel.
    to_id: uuid.UUID | None = None
    # The address itself, as runs started before ``to_id`` carry it.
    to: str | None = None
    # A newsletter subscriber without a customer profile (confirmation emails).
    subscriber_id: uuid.UUID | None = None


class DeliveryBatch(BaseModel):
    """One template to many recipients."""

    organization_id: uuid.UUID
    template_id: uuid.UUID
    recipients: list[Recipient] = Field(min_length=1, max_length=MAX_BATCH)
    event: dict[str, Any] = {}
    # A marketer's test send: no consent, cap or quiet hours (suppression still applies).
    test: bool = False
    # What a test send without a customer shows for the customer's fields (sample data).
    sample_customer: dict[str, Any] | None = None
    # The workflow's clock when it asked. Rules use the later of this and the wall clock, so a
    # workflow that slept through quiet hours (on a time-skipping test server too) sees their end.
    workflow_time: datetime | None = None

    @model_validator(mode="after")
    def _one_message_per_intent(self) -> DeliveryBatch:
        if len({r.idempotency_key for r in self.recipients}) != len(self.recipients):
            raise ValueError("idempotency keys repeat within the batch")
        return self


class DeliveryRequest(Recipient):
    """One message: a batch of one."""

    organization_id: uuid.UUID
    template_id: uuid.UUID
    event: dict[str, Any] = {}
    test: bool = False
    sample_customer: dict[str, Any] | None = None
    workflow_time: datetime | None = None

    def as_batch(self) -> DeliveryBatch:
        recipient = Recipient.model_validate(self.model_dump(include=set(Recipient.model_fields)))
        return DeliveryBatch(
            organization_id=self.organization_id,
            template_id=self.template_id,
            recipients=[recipient],
            event=self.event,
            test=self.test,
            sample_customer=self.sample_customer,
            workflow_time=self.workflow_time,
        )


class DeliveryOutcome(BaseModel):
    message_id: uuid.UUID
    status: MessageStatus
    reason: str | None = None
    # Set when quiet hours hold the message: the workflow sleeps until then and tries again.
    deferred_until: datetime | None = None


class MessageStatus(enum.StrEnum):
    queued = "queued"
    sent = "sent"
    delivered = "delivered"
    opened = "opened"
    clicked = "clicked"
    bounced = "bounced"
    complained = "complained"
    failed = "failed"
    skipped = "skipped"
    unknown = "unknown"
