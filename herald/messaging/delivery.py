"""The one path every message takes: record the intent, check, render, hand over once.

A message row keyed by the intent (``idempotency_key``: campaign + customer, run + step, ...)
is committed before the provider is called and its attempt counted, so a retry can tell a fresh
send from one whose outcome was lost, and never sends again what the provider accepted.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

from pydantic import BaseModel, Field
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from herald.customers.models import Customer
from herald.db import session_organization, utcnow
from herald.errors import InvalidInput
from herald.messaging.models import Channel, Message, MessageStatus, MessageTemplate
from herald.messaging.providers import OutgoingMessage, Provider, ProviderError
from herald.messaging.templates import (
    customer_context,
    get_template,
    organization_context,
    pick_variant,
    render_content,
)

# Statuses after which a message is never handed to a provider again.
SETTLED = frozenset(MessageStatus) - {MessageStatus.queued}


class DeliveryRequest(BaseModel):
    """What to send to whom, and the intent that makes it unique. Ids only, no personal data."""

    organization_id: uuid.UUID
    idempotency_key: str = Field(min_length=1, max_length=300)
    template_id: uuid.UUID
    customer_id: uuid.UUID | None = None
    # An explicit address (test sends); otherwise the customer's primary one for the channel.
    to: str | None = None
    event: dict[str, Any] = {}


class DeliveryOutcome(BaseModel):
    message_id: uuid.UUID
    status: MessageStatus
    reason: str | None = None


def _outcome(message: Message) -> DeliveryOutcome:
    return DeliveryOutcome(
        message_id=message.id, status=message.status, reason=message.status_reason
    )


def _address(customer: Customer, channel: Channel) -> str | None:
    if channel is Channel.email:
        return customer.primary_email
    if channel is Channel.sms:
        return next((p.phone for p in customer.phones if p.is_primary), None)
    return str(customer.id)  # push and in-app reach the customer's own devices and inbox


def _skip(message: Message, reason: str) -> None:
    message.status = MessageStatus.skipped
    message.status_reason = reason


ProviderChoice = Callable[[Channel], Provider]


def _prepare(session: Session, request: DeliveryRequest, providers: ProviderChoice) -> Message:
    """Find the message of this intent, or create it: rendered and checked, not yet sent."""
    existing = session.scalar(
        select(Message).where(Message.idempotency_key == request.idempotency_key)
    )
    if existing is not None:
        return existing
    template: MessageTemplate = get_template(session, request.template_id)
    message = Message(
        idempotency_key=request.idempotency_key,
        channel=template.channel,
        category=template.category,
        template_id=template.id,
        customer_id=request.customer_id,
        recipient="",
        provider=providers(template.channel).name,
        status=MessageStatus.queued,
    )
    context: dict[str, Any] = {
        "organization": organization_context(session, session_organization(session)),
        "event": request.event,
    }
    locale = None
    customer = session.get(Customer, request.customer_id) if request.customer_id else None
    if request.customer_id is not None and (customer is None or customer.deleted_at is not None):
        _skip(message, "customer deleted")
    elif customer is not None:
        context["customer"] = customer_context(session, customer)
        locale = customer.locale
    message.recipient = (
        request.to or (_address(customer, template.channel) if customer else "") or ""
    )
    if not message.recipient and message.status is MessageStatus.queued:
        _skip(message, f"no {template.channel.value} address")
    message.locale, content = pick_variant(template, locale)
    if message.status is MessageStatus.queued:
        try:
            message.content = render_content(content, context)
        except InvalidInput as exc:
            message.status = MessageStatus.failed
            message.status_reason = f"template: {exc.detail}"
    session.add(message)
    try:
        session.commit()
    except IntegrityError:  # the same intent was recorded concurrently: use that row
        session.rollback()
        return _prepare(session, request, providers)
    return message


def deliver(
    session: Session, request: DeliveryRequest, providers: ProviderChoice
) -> DeliveryOutcome:
    message = _prepare(session, request, providers)
    if message.status in SETTLED:
        return _outcome(message)
    provider = providers(message.channel)
    if message.in_flight and not provider.resend_when_in_doubt:
        # An earlier attempt may have reached the provider: sending again could duplicate it.
        message.status = MessageStatus.unknown
        message.status_reason = "outcome of an earlier attempt was lost; not sent again"
        session.commit()
        return _outcome(message)
    message.attempts += 1
    message.in_flight = True
    session.commit()  # from here on, a lost outcome is detectable

    outgoing = OutgoingMessage(
        message_id=message.id,
        channel=message.channel,
        recipient=message.recipient,
        content=message.content,
    )
    try:
        provider_id = provider.send(outgoing)
    except ProviderError as exc:
        message.in_flight = False  # it answered: the message was not taken
        message.status_reason = exc.reason
        if not exc.retryable:
            message.status = MessageStatus.failed
        session.commit()
        if exc.retryable:
            raise
        return _outcome(message)
    message.in_flight = False
    message.provider_message_id = provider_id
    message.status = MessageStatus.sent
    message.status_reason = None
    message.sent_at = utcnow()
    session.commit()
    return _outcome(message)
