from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import Enum, ForeignKey, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from herald.campaigns.contracts import CampaignStatus
from herald.db import Base, JSONType, TenantScoped, utcnow
from herald.messaging.models import Channel

# A campaign in one of these has a CampaignSend run that takes signals.
ACTIVE = frozenset(
    {
        CampaignStatus.scheduled,
        CampaignStatus.running,
        CampaignStatus.paused,
        CampaignStatus.testing,
        CampaignStatus.sending_winner,
    }
)


# A campaign in one of these is over: its run has ended or never began.
ENDED = frozenset({CampaignStatus.completed, CampaignStatus.cancelled, CampaignStatus.failed})
# What can be archived: nothing is sending.
ARCHIVABLE = ENDED | {CampaignStatus.draft}


class Campaign(TenantScoped, Base):
    """One send of one or more template variants to an audience snapshotted at send time."""

    __tablename__ = "campaigns"
    __table_args__ = (UniqueConstraint("organization_id", "key"),)

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    key: Mapped[str] = mapped_column(String(100))
    name: Mapped[str] = mapped_column(String(200))
    channel: Mapped[Channel] = mapped_column(Enum(Channel, native_enum=False, length=10))
    status: Mapped[CampaignStatus] = mapped_column(
        Enum(CampaignStatus, native_enum=False, length=20), default=CampaignStatus.draft
    )
    # {"segment": key} or {"customers": [ids]} (see schemas.Audience).
    audience: Mapped[dict[str, Any]]
    # [{"name": "A", "template": key, "template_id": id}, ...]
    variants: Mapped[list[dict[str, Any]]] = mapped_column(JSONType, default=list)
    # A/B settings (schemas.ABTest), or null: every variant gets an equal share, no winner.
    ab: Mapped[dict[str, Any] | None]
    send_at: Mapped[datetime | None]
    rate_limit_per_s: Mapped[int | None]
    # An unsubscribe this long after the message counts against it (orders are attributed by
    # revenue analytics' windows).
    attribution_hours: Mapped[int] = mapped_column(default=120)
    recipients_total: Mapped[int | None]
    test_size: Mapped[int | None]
    winner: Mapped[str | None] = mapped_column(String(40))
    # The winner pick's numbers: per-variant rates, the test statistic, why this variant.
    decision: Mapped[dict[str, Any] | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)
    started_at: Mapped[datetime | None]
    finished_at: Mapped[datetime | None]
    failure: Mapped[str | None] = mapped_column(String(500))
    # What an archived campaign was before (restored when it is unarchived).
    archived_from: Mapped[CampaignStatus | None] = mapped_column(
        Enum(CampaignStatus, native_enum=False, length=20)
    )
    # The id of the run carrying the send, once started.
    workflow_id: Mapped[str | None] = mapped_column(String(300))


class CampaignRecipient(TenantScoped, Base):
    """A member of the audience as it stood at send time, in a campaign-specific order.

    ``position`` is a per-campaign permutation of the snapshot: the first ``test_size``
    positions are the test group, and batches are position ranges.
    """

    __tablename__ = "campaign_recipients"
    __table_args__ = (UniqueConstraint("campaign_id", "position"),)

    campaign_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("campaigns.id", ondelete="CASCADE"), primary_key=True
    )
    customer_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("customers.id", ondelete="CASCADE"), primary_key=True
    )
    position: Mapped[int]
    # Set when the recipient's message is handed to the delivery path, with the status it had
    # then (the send's progress; engagement later is read from the message).
    variant: Mapped[str | None] = mapped_column(String(40))
    message_id: Mapped[uuid.UUID | None]
    status: Mapped[str | None] = mapped_column(String(20))
