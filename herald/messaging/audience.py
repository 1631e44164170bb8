"""Who may be reached: per-channel consent and the suppression list."""

from __future__ import annotations

import uuid

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from herald.customers.service import get_customer
from herald.db import one_of, utcnow
from herald.errors import Conflict, InvalidInput, NotFound
from herald.events.models import NEWSLETTER_UNSUBSCRIBED, Event
from herald.messaging.messages import checked_recipient
from herald.messaging.models import (
    Channel,
    Consent,
    ConsentStatus,
    Device,
    Suppression,
    SuppressionReason,
)
from herald.messaging.schemas import (
    ConsentIn,
    ConsentOut,
    DeviceIn,
    DeviceOut,
    SuppressionIn,
    SuppressionOut,
)
from herald.messaging.unsubscribe import Links
from herald.newsletter.models import Subscriber, SubscriberStatus
from herald.pagination import Page, page_of


def get_consent(session: Session, customer_id: uuid.UUID) -> ConsentOut:
    get_customer(session, customer_id)
    rows = session.scalars(select(Consent).where(Consent.customer_id == customer_id))
    return ConsentOut(customer_id=customer_id, channels={r.channel: r.status for r in rows})


def set_consent(
    session: Session, customer_id: uuid.UUID, data: ConsentIn, *, include_deleted: bool = False
) -> ConsentOut:
    get_customer(session, customer_id, include_deleted=include_deleted)
    record_consent(session, customer_id, data)
    session.commit()
    rows = session.scalars(select(Consent).where(Consent.customer_id == customer_id))
    return ConsentOut(customer_id=customer_id, channels={r.channel: r.status for r in rows})


def record_consent(session: Session, customer_id: uuid.UUID, data: ConsentIn) -> None:
    """Write the channels ``data`` names in the caller's transaction; an unchanged status keeps
    its source and time."""
    record_consents(session, {customer_id: data})


def new_consents(customer_id: uuid.UUID, data: ConsentIn) -> list[Consent]:
    """The consent rows of a profile that has none yet, not added to a session."""
    return [
        Consent(customer_id=customer_id, channel=channel, status=status, source=data.source)
        for channel in Channel
        if (status := getattr(data, channel.value)) is not None
    ]


def record_consents(session: Session, changes: dict[uuid.UUID, ConsentIn]) -> set[uuid.UUID]:
    """``record_consent`` for many customers, their current consent read in one query: the
    customers whose consent changed."""
    if not changes:
        return set()
    existing = {
        (r.customer_id, r.channel): r
        for r in session.scalars(
            select(Consent).where(one_of(session, Consent.customer_id, list(changes)))
        )
    }
    changed: set[uuid.UUID] = set()
    for customer_id, data in changes.items():
        for channel in Channel:
            status = getattr(data, channel.value)
            if status is None:
                continue
            row = existing.get((customer_id, channel))
            if row is None:
                session.add(
                    Consent(
                        customer_id=customer_id, channel=channel, status=status, source=data.source
                    )
                )
            elif row.status is not status:
                row.status, row.source, row.updated_at = status, data.source, utcnow()
            else:
                continue
            changed.add(customer_id)
    return changed


def suppress(
    session: Session, channel: Channel, address: str, reason: SuppressionReason
) -> Suppression:
    """Add an address to the suppression list; adding it again keeps the first entry."""
    address = address.lower()
    row = session.scalar(
        select(Suppression).where(Suppression.channel == channel, Suppression.address == address)
    )
    if row is not None:
        return row
    row = Suppression(channel=channel, address=address, reason=reason)
    session.add(row)
    try:
        session.commit()
    except IntegrityError:  # suppressed concurrently (a webhook and a retry of it)
        session.rollback()
        return suppress(session, channel, address, reason)
    return row


def add_suppression(session: Session, data: SuppressionIn) -> SuppressionOut:
    if data.channel not in (Channel.email, Channel.sms):
        raise InvalidInput("only email addresses and phone numbers are suppressed", field="channel")
    address = checked_recipient(data.channel, data.address, field="address")
    if session.scalar(
        select(Suppression.id).where(
            Suppression.channel == data.channel, Suppression.address == address.lower()
        )
    ):
        raise Conflict("this address is already suppressed", field="address")
    row = suppress(session, data.channel, address, SuppressionReason.manual)
    return SuppressionOut.model_validate(row, from_attributes=True)


def list_suppressions(
    session: Session, channel: Channel | None, *, limit: int, cursor: str | None
) -> Page[SuppressionOut]:
    """Newest first."""
    stmt = select(Suppression)
    if channel is not None:
        stmt = stmt.where(Suppression.channel == channel)
    return page_of(
        session,
        stmt,
        Suppression.created_at,
        Suppression.id,
        lambda row: SuppressionOut.model_validate(row, from_attributes=True),
        limit=limit,
        cursor=cursor,
    )


def remove_suppression(session: Session, suppression_id: uuid.UUID) -> None:
    row = session.get(Suppression, suppression_id)
    if row is None:
        raise NotFound("no such suppression")
    session.delete(row)
    session.commit()


def unsubscribe_with_token(
    session: Session, organization_id: uuid.UUID, token: str, links: Links, *, apply: bool
) -> uuid.UUID:
    """The customer a one-click link names; with ``apply``, their email consent is revoked."""
    customer_id = links.read_unsubscribe_token(organization_id, token)
    if customer_id is None:
        raise NotFound("this unsubscribe link is not valid")
    get_customer(session, customer_id, include_deleted=True)
    if apply:
        # Leaving by an email's link leaves the newsletter too: one consent, one list.
        for subscriber in session.scalars(
            select(Subscriber).where(
                Subscriber.customer_id == customer_id,
                Subscriber.status != SubscriberStatus.unsubscribed,
            )
        ):
            subscriber.status = SubscriberStatus.unsubscribed
            subscriber.unsubscribed_at = utcnow()
            details = {"subscriber_id": str(subscriber.id), "source": "one-click unsubscribe"}
            session.add(Event.emitted(NEWSLETTER_UNSUBSCRIBED, customer_id, details))
        set_consent(
            session,
            customer_id,
            ConsentIn(email=ConsentStatus.revoked, source="one-click unsubscribe"),
            include_deleted=True,
        )
    return customer_id


# Phones and browsers per customer; a new one past this replaces the one unseen longest.
MAX_DEVICES = 10


def register_device(session: Session, customer_id: uuid.UUID, data: DeviceIn) -> DeviceOut:
    """Add or refresh a push token; a token seen under another customer moves to this one."""
    get_customer(session, customer_id)
    device = session.scalar(select(Device).where(Device.token == data.token))
    if device is None:
        known = list(
            session.scalars(
                select(Device)
                .where(Device.customer_id == customer_id)
                .order_by(Device.last_seen_at.desc())
                .offset(MAX_DEVICES - 1)
            )
        )
        for stale in known:
            session.delete(stale)
        device = Device(customer_id=customer_id, token=data.token, platform=data.platform)
        session.add(device)
    device.customer_id, device.platform, device.last_seen_at = customer_id, data.platform, utcnow()
    # Registered again: the app holds a working token after all (FCM gave it back).
    device.active, device.deactivated_at, device.deactivated_reason = True, None, None
    try:
        session.commit()
    except IntegrityError:  # registered concurrently: refresh that row instead
        session.rollback()
        return register_device(session, customer_id, data)
    return DeviceOut.model_validate(device, from_attributes=True)


def list_devices(session: Session, customer_id: uuid.UUID) -> list[DeviceOut]:
    get_customer(session, customer_id)
    rows = session.scalars(
        select(Device).where(Device.customer_id == customer_id).order_by(Device.last_seen_at.desc())
    )
    return [DeviceOut.model_validate(d, from_attributes=True) for d in rows]


def remove_device(session: Session, customer_id: uuid.UUID, device_id: uuid.UUID) -> None:
    device = session.get(Device, device_id)
    if device is None or device.customer_id != customer_id:
        raise NotFound("no such device")
    session.delete(device)
    session.commit()
