from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Any

from sqlalchemy import ForeignKey, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from herald.db import Base, TenantScoped, utcnow


class Segment(TenantScoped, Base):
    """A named audience: a rule tree evaluated live (members are whoever matches now)."""

    __tablename__ = "segments"
    __table_args__ = (UniqueConstraint("organization_id", "key"),)

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    key: Mapped[str] = mapped_column(String(100))
    name: Mapped[str] = mapped_column(String(200))
    description: Mapped[str] = mapped_column(String(1000), default="")
    rule: Mapped[dict[str, Any]]
    # Entries and exits become segment.entered / segment.exited events (journeys that start
    # or wait on the segment turn this on when published).
    track_entries: Mapped[bool] = mapped_column(default=False)
    # The last membership sweep; before the first, today's members are the baseline.
    swept_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class SegmentMembership(TenantScoped, Base):
    """Who was in a tracked segment at its last sweep."""

    __tablename__ = "segment_memberships"

    segment_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("segments.id", ondelete="CASCADE"), primary_key=True
    )
    customer_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("customers.id", ondelete="CASCADE"), primary_key=True
    )
    entered_at: Mapped[datetime] = mapped_column(default=utcnow)


class SegmentSize(TenantScoped, Base):
    """How many customers a saved segment held on a day (the daily record's count): its size
    over time, which a live rule cannot tell afterwards."""

    __tablename__ = "segment_sizes"

    segment_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("segments.id", ondelete="CASCADE"), primary_key=True
    )
    day: Mapped[date] = mapped_column(primary_key=True)
    size: Mapped[int]
    recorded_at: Mapped[datetime] = mapped_column(default=utcnow)
