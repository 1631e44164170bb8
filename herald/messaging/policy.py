"""Send-time rules: consent, suppression, frequency caps and quiet hours.

Checked when a message is about to go, not when it was planned: a customer who unsubscribed
yesterday gets nothing from a campaign scheduled last week.
"""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

from pydantic import BaseModel, Field
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from herald.messaging.models import (
    Channel,
    Consent,
    ConsentStatus,
    Message,
    MessageStatus,
    Suppression,
)

# Messages that count against a frequency cap: the ones that went out.
_COUNTED = (
    MessageStatus.sent,
    MessageStatus.delivered,
    MessageStatus.opened,
    MessageStatus.clicked,
)


class FrequencyCap(BaseModel):
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


def consent_granted(session: Session, customer_id: object, channel: Channel) -> bool:
    status = session.scalar(
        select(Consent.status).where(Consent.customer_id == customer_id, Consent.channel == channel)
    )
    return status is ConsentStatus.granted


def suppression_reason(session: Session, channel: Channel, address: str) -> str | None:
    reason = session.scalar(
        select(Suppression.reason).where(
            Suppression.channel == channel, Suppression.address == address.lower()
        )
    )
    return reason.value if reason is not None else None


def capped(
    session: Session, customer_id: object, caps: list[FrequencyCap], channel: Channel, now: datetime
) -> FrequencyCap | None:
    for cap in caps:
        if cap.channel is not channel:
            continue
        sent = session.scalar(
            select(func.count())
            .select_from(Message)
            .where(
                Message.customer_id == customer_id,
                Message.channel == channel,
                Message.status.in_(_COUNTED),
                Message.sent_at >= now - timedelta(hours=cap.window_hours),
            )
        )
        if (sent or 0) >= cap.max_messages:
            return cap
    return None
