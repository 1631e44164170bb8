"""A customer's in-app inbox, as staff and as the customer's own app see it.

The merchant's backend asks for an app token for one customer (``issue_app_token``); the app
then calls Herald directly with it, and everything it reaches is that customer's: their inbox
messages, which banner or modal to show now, and their push devices. A token is a JWT signed with
a key derived for this purpose alone, short-lived, and bound to one organization and customer.

Display rules live in the message's content: its kind (inbox only, banner, modal), a priority,
an expiry (``expires_in`` after it was sent, or ``expires_at``) and the triggers that show it
(the app opening, a named screen). Expired and dismissed messages are gone from every view.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

import jwt
from pydantic import BaseModel, Field, TypeAdapter
from sqlalchemy import Select, func, or_, select
from sqlalchemy.orm import Session

from herald.customers.service import get_customer
from herald.db import utcnow
from herald.errors import NotFound, Unauthorized
from herald.messaging.contracts import MessageStatus
from herald.messaging.models import Channel, Message
from herald.secrets import SecretKeys

APP_TOKEN_PURPOSE = "app-tokens"
APP_TOKEN_AUDIENCE = "herald-app"
DEFAULT_APP_TOKEN_TTL = timedelta(hours=1)
MAX_APP_TOKEN_TTL = timedelta(hours=24)
# Delivered in-app messages; failed, skipped and queued ones never reach the inbox.
SHOWN = (MessageStatus.sent, MessageStatus.delivered, MessageStatus.opened, MessageStatus.clicked)
_DURATION = TypeAdapter(timedelta)
_MOMENT = TypeAdapter(datetime)


class AppTokenIn(BaseModel):
    ttl_seconds: int = Field(
        default=int(DEFAULT_APP_TOKEN_TTL.total_seconds()),
        ge=60,
        le=int(MAX_APP_TOKEN_TTL.total_seconds()),
        description="how long the token works (60 s to 24 h; one hour unless asked)",
    )


class AppTokenOut(BaseModel):
    token: str
    customer_id: uuid.UUID
    expires_at: datetime


class AppCustomer(BaseModel):
    """Who an app token speaks for, and until when."""

    organization_id: uuid.UUID
    customer_id: uuid.UUID
    expires_at: datetime


class InboxMessage(BaseModel):
    """An in-app message as the customer's app shows it: content and display rules only."""

    id: uuid.UUID
    title: str
    body: str
    data: dict[str, str]
    link: str | None
    image: str | None
    kind: Literal["inbox", "banner", "modal"]
    priority: int
    triggers: list[dict[str, str]]
    created_at: datetime
    sent_at: datetime | None
    read_at: datetime | None
    expires_at: datetime | None


class InboxPage(BaseModel):
    items: list[InboxMessage]
    unread: int


def issue_app_token(
    session: Session,
    keys: SecretKeys,
    organization_id: uuid.UUID,
    customer_id: uuid.UUID,
    data: AppTokenIn,
) -> AppTokenOut:
    get_customer(session, customer_id)
    expires_at = utcnow() + timedelta(seconds=data.ttl_seconds)
    claims = {
        "sub": str(customer_id),
        "org": str(organization_id),
        "aud": APP_TOKEN_AUDIENCE,
        "exp": expires_at,
        "iat": utcnow(),
    }
    token = jwt.encode(claims, keys.for_purpose(APP_TOKEN_PURPOSE)[0], algorithm="HS256")
    return AppTokenOut(token=token, customer_id=customer_id, expires_at=expires_at)


def read_app_token(keys: SecretKeys, token: str) -> AppCustomer:
    """Whom a token speaks for; Unauthorized when it is not one Herald issued, or has expired.
    Tokens signed under a secret since rotated keep working while that secret is listed."""
    for key in keys.for_purpose(APP_TOKEN_PURPOSE):
        try:
            claims = jwt.decode(
                token,
                key,
                algorithms=["HS256"],
                audience=APP_TOKEN_AUDIENCE,
                options={"require": ["exp", "sub", "org", "aud"]},
            )
        except jwt.ExpiredSignatureError as exc:
            raise Unauthorized("the app token has expired: ask the backend for a new one") from exc
        except jwt.InvalidSignatureError:
            continue
        except jwt.InvalidTokenError as exc:
            raise Unauthorized("not an app token") from exc
        try:
            return AppCustomer(
                organization_id=uuid.UUID(claims["org"]),
                customer_id=uuid.UUID(claims["sub"]),
                expires_at=datetime.fromtimestamp(claims["exp"], UTC),
            )
        except (ValueError, TypeError) as exc:
            raise Unauthorized("not an app token") from exc
    raise Unauthorized("not an app token")


def in_app_expiry(content: dict[str, Any], sent_at: datetime) -> datetime | None:
    """When an in-app message stops being shown, from its display rules."""
    if content.get("expires_at"):
        return _MOMENT.validate_python(content["expires_at"])
    if content.get("expires_in"):
        return sent_at + _DURATION.validate_python(content["expires_in"])
    return None


def _inbox_message(message: Message) -> InboxMessage:
    content = message.content
    return InboxMessage(
        id=message.id,
        title=content.get("title", ""),
        body=content.get("body", ""),
        data=content.get("data", {}),
        link=content.get("link"),
        image=content.get("image"),
        kind=content.get("kind", "inbox"),
        priority=int(content.get("priority", 0)),
        triggers=content.get("triggers", []),
        created_at=message.created_at,
        sent_at=message.sent_at,
        read_at=message.read_at,
        expires_at=message.expires_at,
    )


def _visible(customer_id: uuid.UUID, now: datetime) -> Select[Message]:
    """The customer's in-app messages still to be seen: delivered, not removed, not expired."""
    return select(Message).where(
        Message.customer_id == customer_id,
        Message.channel == Channel.in_app,
        Message.status.in_(SHOWN),
        Message.dismissed_at.is_(None),
        or_(Message.expires_at.is_(None), Message.expires_at > now),
    )


def inbox(
    session: Session, customer_id: uuid.UUID, *, unread_only: bool = False, limit: int = 50
) -> InboxPage:
    """The customer's inbox, newest first, with how many are unread."""
    get_customer(session, customer_id)
    visible = _visible(customer_id, utcnow())
    stmt = visible.where(Message.read_at.is_(None)) if unread_only else visible
    rows = session.scalars(stmt.order_by(Message.created_at.desc()).limit(limit))
    unread = session.scalar(
        select(func.count()).select_from(visible.where(Message.read_at.is_(None)).subquery())
    )
    return InboxPage(items=[_inbox_message(m) for m in rows], unread=unread or 0)


def to_show(
    session: Session,
    customer_id: uuid.UUID,
    *,
    on: Literal["app_open", "screen"],
    screen: str | None = None,
) -> list[InboxMessage]:
    """The banners and modals to show now, first to show first: unread, unexpired, and with a
    trigger that matches (a message without triggers shows at the next chance)."""
    rows = session.scalars(
        _visible(customer_id, utcnow()).where(Message.read_at.is_(None)).limit(200)
    )
    shown = [
        m
        for m in map(_inbox_message, rows)
        if m.kind != "inbox"
        and (
            not m.triggers
            or any(
                t.get("on") == on and (on == "app_open" or t.get("screen") == screen)
                for t in m.triggers
            )
        )
    ]
    return sorted(shown, key=lambda m: (-m.priority, -m.created_at.timestamp()))


def _own(session: Session, customer_id: uuid.UUID, message_id: uuid.UUID) -> Message:
    message = session.get(Message, message_id)
    if (
        message is None
        or message.customer_id != customer_id
        or message.channel is not Channel.in_app
        or message.status not in SHOWN
        or message.dismissed_at is not None
    ):
        raise NotFound("no such inbox message")
    return message


def get_inbox_message(
    session: Session, customer_id: uuid.UUID, message_id: uuid.UUID
) -> InboxMessage:
    return _inbox_message(_own(session, customer_id, message_id))


def mark_read(session: Session, customer_id: uuid.UUID, message_id: uuid.UUID) -> InboxMessage:
    """Read counts as the message's open (once)."""
    message = _own(session, customer_id, message_id)
    if message.read_at is None:
        message.read_at = utcnow()
        message.opened_at = message.opened_at or message.read_at
        if message.status in (MessageStatus.sent, MessageStatus.delivered):
            message.status = MessageStatus.opened
        session.commit()
    return _inbox_message(message)


def dismiss(session: Session, customer_id: uuid.UUID, message_id: uuid.UUID) -> None:
    """The customer removed it: gone from their inbox and never shown again."""
    message = _own(session, customer_id, message_id)
    message.dismissed_at = utcnow()
    session.commit()


def arrived_since(session: Session, customer_id: uuid.UUID, since: datetime) -> list[InboxMessage]:
    """Messages that reached the inbox after ``since``, oldest first (for the live stream)."""
    rows = session.scalars(
        _visible(customer_id, utcnow())
        .where(Message.sent_at > since)
        .order_by(Message.sent_at)
        .limit(50)
    )
    return [_inbox_message(m) for m in rows]
