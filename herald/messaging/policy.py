"""Send-time rules: consent, suppression, frequency caps and quiet hours.

Checked when a message is about to go, not when it was planned: a customer who unsubscribed
yesterday gets nothing from a campaign scheduled last week.
"""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Collection
from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from herald.db import one_of, session_organization
from herald.messaging.contracts import MessageStatus
from herald.messaging.models import Channel, Consent, ConsentStatus, Message, Suppression

# Messages that went out (and count against a frequency cap).
WENT_OUT = (
    MessageStatus.sent,
    MessageStatus.delivered,
    MessageStatus.opened,
    MessageStatus.clicked,
)


class FrequencyCap(BaseModel):
    model_config = ConfigDict(frozen=True)

    channel: Channel
    max_messages: int = Field(ge=1, le=1000)
    window_hours: int = Field(ge=1, le=24 * 90)


def quiet_until(
    now: datetime, timezone: str | None, start: time | None, end: time | None
) -> datetime | None:
    """When the quiet window the recipient is in ends (UTC), or None if sending is fine now.

    The window runs from ``start`` to ``end`` in the recipient's local time and may wrap midnight
    (21:00-08:00). Without a known time zone the window is read in UTC.
    """
    if start is None or end is None or start == end:
        return None
    zone = ZoneInfo(timezone) if timezone else UTC
    local = now.astimezone(zone)
    at = local.time().replace(tzinfo=None)
    inside = (start <= at < end) if start < end else (at >= start or at < end)
    if not inside:
        return None
    resume = datetime.combine(local.date(), end, tzinfo=zone)
    if resume <= local:
        resume = datetime.combine(local.date() + timedelta(days=1), end, tzinfo=zone)
    return resume.astimezone(UTC)


def consented(
    session: Session, customer_ids: Collection[uuid.UUID], channel: Channel
) -> set[uuid.UUID]:
    """The customers among ``customer_ids`` who granted consent on the channel."""
    if not customer_ids:
        return set()
    return set(
        session.scalars(
            select(Consent.customer_id).where(
                one_of(session, Consent.customer_id, customer_ids),
                Consent.channel == channel,
                Consent.status == ConsentStatus.granted,
            )
        )
    )


def erased_address(organization_id: uuid.UUID, address: str) -> str:
    """What the suppression list keeps of an erased person's address: a hash, salted with the
    organization, that a later message to the same address still matches."""
    digest = hashlib.sha256(f"{organization_id}:{address.lower()}".encode()).hexdigest()
    return f"erased:{digest}"


def suppressed(session: Session, channel: Channel, addresses: Collection[str]) -> dict[str, str]:
    """Why each suppressed address among ``addresses`` is suppressed (keys lower-cased); an
    erased person's addresses are matched by their hashes."""
    if not addresses:
        return {}
    wanted = {a.lower() for a in addresses}
    org = session_organization(session)
    hashed = {erased_address(org, a): a for a in wanted}
    rows = session.execute(
        select(Suppression.address, Suppression.reason).where(
            Suppression.channel == channel,
            one_of(session, Suppression.address, wanted | set(hashed)),
        )
    )
    return {hashed.get(address, address): reason.value for address, reason in rows}


def sent_counts(
    session: Session,
    customer_ids: Collection[uuid.UUID],
    channel: Channel,
    since: datetime,
) -> dict[uuid.UUID, int]:
    """How many messages on the channel went out to each customer since ``since``."""
    if not customer_ids:
        return {}
    rows = session.execute(
        select(Message.customer_id, func.count())
        .where(
            one_of(session, Message.customer_id, customer_ids),
            Message.channel == channel,
            Message.status.in_(WENT_OUT),
            Message.sent_at >= since,
        )
        .group_by(Message.customer_id)
    )
    return {customer_id: count for customer_id, count in rows if customer_id is not None}
