"""Provider events: delivery statuses, bounces, complaints, and inbound SMS keywords.

Every event is applied once (a receipt per provider event id), statuses only move forward, and
an event for a message whose outcome was lost settles it.
"""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from herald.customers.models import Customer, CustomerPhone
from herald.db import utcnow
from herald.messaging.audience import set_consent, suppress
from herald.messaging.contracts import MessageStatus
from herald.messaging.models import (
    Channel,
    ConsentStatus,
    Message,
    Suppression,
    SuppressionReason,
    WebhookReceipt,
)
from herald.messaging.schemas import ConsentIn

# A later status never goes back to an earlier one (a late "delivered" after "clicked").
_PROGRESS = [
    MessageStatus.queued,
    MessageStatus.unknown,
    MessageStatus.sent,
    MessageStatus.delivered,
    MessageStatus.opened,
    MessageStatus.clicked,
    MessageStatus.failed,
    MessageStatus.bounced,
    MessageStatus.complained,
]
_SENDGRID_STATUS = {
    "processed": MessageStatus.sent,
    "delivered": MessageStatus.delivered,
    "open": MessageStatus.opened,
    "click": MessageStatus.clicked,
    "bounce": MessageStatus.bounced,
    "dropped": MessageStatus.failed,
    "spamreport": MessageStatus.complained,
}
_TWILIO_STATUS = {
    "sent": MessageStatus.sent,
    "delivered": MessageStatus.delivered,
    "undelivered": MessageStatus.failed,
    "failed": MessageStatus.failed,
}
# Carrier opt-out words (CTIA) and FCC equivalents; START and HELP as carriers require.
STOP_WORDS = frozenset(
    {"STOP", "STOPALL", "UNSUBSCRIBE", "CANCEL", "END", "QUIT", "REVOKE", "OPTOUT", "OPT OUT"}
)
START_WORDS = frozenset({"START", "UNSTOP", "YES"})
HELP_WORDS = frozenset({"HELP", "INFO"})


def first_receipt(session: Session, provider: str, receipt_id: str) -> bool:
    """Record that an event was applied; False if it already was (a retry or a duplicate)."""
    session.add(WebhookReceipt(provider=provider, receipt_id=receipt_id[:200]))
    try:
        session.flush()
    except IntegrityError:
        session.rollback()
        return False
    return True


def advance(message: Message, status: MessageStatus, reason: str | None = None) -> bool:
    """Move the message's status forward; opens and clicks are also kept with their first time.
    A click counts as an open too: it needs the message opened, and pixels are often blocked."""
    if status in (MessageStatus.opened, MessageStatus.clicked) and message.opened_at is None:
        message.opened_at = utcnow()
    if status is MessageStatus.clicked and message.clicked_at is None:
        message.clicked_at = utcnow()
    if _PROGRESS.index(status) <= _PROGRESS.index(message.status):
        return False
    message.status = status
    message.status_reason = reason
    message.in_flight = False
    message.updated_at = utcnow()
    return True


def _message(session: Session, raw_id: Any) -> Message | None:
    try:
        return session.get(Message, uuid.UUID(str(raw_id)))
    except ValueError:
        return None


def apply_sendgrid_events(session: Session, events: list[dict[str, Any]]) -> int:
    """Apply a batch from SendGrid's Event Webhook; returns how many events were new."""
    applied = 0
    for event in events:
        event_id = event.get("sg_event_id")
        if not event_id or not first_receipt(session, "sendgrid", str(event_id)):
            continue
        applied += 1
        kind = str(event.get("event", ""))
        message = _message(session, event.get("herald_message_id"))
        status = _SENDGRID_STATUS.get(kind)
        if kind == "bounce" and event.get("type") == "blocked":
            status = MessageStatus.failed  # a soft block, not a dead address
        if message is not None and status is not None:
            advance(message, status, event.get("reason"))
        address = str(event.get("email") or "")
        if address and kind == "bounce" and event.get("type") != "blocked":
            suppress(session, Channel.email, address, SuppressionReason.hard_bounce)
        elif address and kind == "spamreport":
            suppress(session, Channel.email, address, SuppressionReason.spam_complaint)
        if kind in ("unsubscribe", "group_unsubscribe") and message and message.customer_id:
            set_consent(
                session,
                message.customer_id,
                ConsentIn(email=ConsentStatus.revoked, source="sendgrid unsubscribe"),
                include_deleted=True,
            )
        session.commit()
    return applied


def apply_twilio_status(session: Session, message: Message, params: dict[str, str]) -> bool:
    status = _TWILIO_STATUS.get(params.get("MessageStatus", ""))
    receipt = f"{params.get('MessageSid', '')}:{params.get('MessageStatus', '')}"
    if status is None or not first_receipt(session, "twilio", receipt):
        return False
    error = params.get("ErrorCode")
    changed = advance(message, status, f"Twilio error {error}" if error else None)
    if error == "21610":  # the recipient had texted STOP to this sender
        suppress(session, Channel.sms, message.recipient, SuppressionReason.sms_stop)
    session.commit()
    return changed


def _set_sms_consent(session: Session, phone: str, status: ConsentStatus, source: str) -> None:
    """Every profile with this number follows what the number itself texted."""
    customers = session.scalars(
        select(Customer.id)
        .join(CustomerPhone, CustomerPhone.customer_id == Customer.id)
        .where(CustomerPhone.phone == phone)
    )
    for customer_id in list(customers):
        set_consent(
            session, customer_id, ConsentIn(sms=status, source=source), include_deleted=True
        )
    session.commit()


def handle_inbound_sms(
    session: Session, organization_name: str, phone: str, body: str, message_sid: str
) -> str | None:
    """Act on a keyword texted to the organization; returns the reply to send, if any."""
    if not first_receipt(session, "twilio-inbound", message_sid):
        return None
    word = " ".join(body.strip().upper().split())
    if word in STOP_WORDS:
        suppress(session, Channel.sms, phone, SuppressionReason.sms_stop)
        _set_sms_consent(session, phone, ConsentStatus.revoked, "SMS STOP")
        return None  # the carrier confirms the opt-out itself
    if word in START_WORDS:
        session.execute(
            delete(Suppression).where(
                Suppression.channel == Channel.sms,
                Suppression.address == phone,
                Suppression.reason == SuppressionReason.sms_stop,
            )
        )
        _set_sms_consent(session, phone, ConsentStatus.granted, "SMS START")
        return f"{organization_name}: you are subscribed again. Reply STOP to opt out."
    if word in HELP_WORDS:
        session.commit()
        return f"{organization_name}: reply STOP to opt out, START to opt back in."
    session.commit()
    return None
