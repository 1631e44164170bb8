"""Reading messages (the outbox included), preparing test sends and one-off sends to a customer."""

from __future__ import annotations

import uuid
from typing import Any

from email_validator import EmailNotValidError, validate_email
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import select
from sqlalchemy.orm import Session

from herald.customers.schemas import to_e164
from herald.customers.service import get_customer
from herald.errors import InvalidInput, NotFound
from herald.messaging.contracts import (
    SEND_WORKFLOW,
    DeliveryRequest,
    send_workflow_id,
)
from herald.messaging.models import AdHocRecipient, Channel, Message, PushDelivery
from herald.messaging.schemas import MessageOut, MessagePage, PushDeliveryOut
from herald.messaging.templates import get_template
from herald.pagination import keyset_page
from herald.temporal import WorkflowStart


class TestSendRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    to: str | None = Field(default=None, description="email address or E.164 number")
    customer_id: uuid.UUID | None = Field(default=None, description="render for this customer")
    sample_customer: dict[str, Any] | None = Field(
        default=None, description="or render with these customer fields (sample data)"
    )


def checked_recipient(channel: Channel, to: str, field: str = "to") -> str:
    """An email address or E.164 number in its normal form, or a 422 naming the field."""
    try:
        if channel is Channel.email:
            return validate_email(to, check_deliverability=False).normalized
        if channel is Channel.sms:
            return to_e164(to)
    except (EmailNotValidError, ValueError) as exc:
        raise InvalidInput(f"not a valid {channel.value} recipient: {exc}", field=field) from exc
    raise InvalidInput(f"{channel.value} messages go to a customer, not an address", field=field)


def test_send(
    session: Session, organization_id: uuid.UUID, template_id: uuid.UUID, body: TestSendRequest
) -> WorkflowStart:
    """A one-off send of a template (each call its own intent), through the normal delivery path."""
    template = get_template(session, template_id)
    if body.to is None and body.customer_id is None:
        raise InvalidInput("give a recipient (to) or a customer_id", field="to")
    to = checked_recipient(template.channel, body.to) if body.to else None
    if body.customer_id is not None:
        get_customer(session, body.customer_id)
    key = f"test-send/{uuid.uuid4()}"
    recipient = None
    if to is not None:
        recipient = AdHocRecipient(id=uuid.uuid4(), address=to)
        session.add(recipient)
        session.commit()
    request = DeliveryRequest(
        organization_id=organization_id,
        idempotency_key=key,
        template_id=template.id,
        customer_id=body.customer_id,
        to_id=recipient.id if recipient is not None else None,
        test=True,
        sample_customer=body.sample_customer if body.customer_id is None else None,
    )
    return _send_run(request, f"Test send of {template.channel.value} template '{template.key}'")


def _send_run(request: DeliveryRequest, summary: str) -> WorkflowStart:
    """The SendMessage run of one message: its id is the intent's, so a repeat finds it."""
    return WorkflowStart(
        workflow=SEND_WORKFLOW,
        workflow_id=send_workflow_id(request.organization_id, request.idempotency_key),
        arg=request,
        organization_id=request.organization_id,
        customer_id=request.customer_id,
        summary=summary,
    )


class DirectSend(BaseModel):
    """One message to one customer, now: a staff member's note, an answer, a reminder."""

    model_config = ConfigDict(extra="forbid")

    template_id: uuid.UUID
    # The send's intent: the same key sends once, however often the request is repeated.
    idempotency_key: str = Field(
        default_factory=lambda: str(uuid.uuid4()), min_length=1, max_length=200
    )


def send_to_customer(
    session: Session, organization_id: uuid.UUID, customer_id: uuid.UUID, body: DirectSend
) -> WorkflowStart:
    """A SendMessage run for the customer: consent, suppression, caps and quiet hours apply as
    the template's category says (marketing needs consent; transactional does not)."""
    template = get_template(session, body.template_id)
    get_customer(session, customer_id)
    request = DeliveryRequest(
        organization_id=organization_id,
        idempotency_key=f"direct/{customer_id}/{body.idempotency_key}",
        template_id=template.id,
        customer_id=customer_id,
    )
    return _send_run(
        request, f"One {template.channel.value} message ('{template.key}') to a customer"
    )


def get_message(session: Session, message_id: uuid.UUID) -> MessageOut:
    message = session.get(Message, message_id)
    if message is None:
        raise NotFound("no such message")
    out = MessageOut.model_validate(message, from_attributes=True)
    if message.channel is Channel.push:
        rows = session.scalars(
            select(PushDelivery)
            .where(PushDelivery.message_id == message_id)
            .order_by(PushDelivery.created_at)
        )
        out.devices = [PushDeliveryOut.model_validate(r, from_attributes=True) for r in rows]
    return out


def list_messages(
    session: Session,
    *,
    provider: str | None = None,
    customer_id: uuid.UUID | None = None,
    limit: int = 50,
    cursor: str | None = None,
) -> MessagePage:
    stmt = select(Message)
    if provider is not None:
        stmt = stmt.where(Message.provider == provider)
    if customer_id is not None:
        stmt = stmt.where(Message.customer_id == customer_id)
    rows, next_cursor = keyset_page(
        session, stmt, Message.created_at, Message.id, limit=limit, cursor=cursor
    )
    return MessagePage(
        items=[MessageOut.model_validate(m, from_attributes=True) for m in rows],
        next_cursor=next_cursor,
    )
