from __future__ import annotations

import enum
import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import Enum, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from herald.db import Base, JSONType, TenantScoped, utcnow
from herald.journeys.contracts import EnrollmentStatus


class JourneyStatus(enum.StrEnum):
    draft = "draft"  # never published: nobody can enter
    active = "active"
    paused = "paused"  # no new entries; runs hold before their next send
    archived = "archived"


class Journey(TenantScoped, Base):
    """A journey's working draft and its state. What runs is an immutable JourneyVersion."""

    __tablename__ = "journeys"
    __table_args__ = (UniqueConstraint("organization_id", "key"),)

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    key: Mapped[str] = mapped_column(String(100))
    name: Mapped[str] = mapped_column(String(200))
    status: Mapped[JourneyStatus] = mapped_column(
        Enum(JourneyStatus, native_enum=False, length=10), default=JourneyStatus.draft
    )
    draft: Mapped[dict[str, Any]] = mapped_column(default=dict)
    current_version: Mapped[int | None] = mapped_column(Integer)
    # What event dispatch reads: the current version's trigger (an EventMatch), and every event
    # type any published version listens for (runs on older versions still wait for theirs).
    trigger: Mapped[dict[str, Any] | None] = mapped_column(JSONType)
    listens_to: Mapped[list[str]] = mapped_column(JSONType, default=list)
    # Every event property any published version compares: runs are handed these of an event
    # and its id, never the rest (which may be personal data); a send reads them by the id.
    matched_properties: Mapped[list[str]] = mapped_column(JSONType, default=list)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class JourneyVersion(TenantScoped, Base):
    __tablename__ = "journey_versions"
    __table_args__ = (UniqueConstraint("organization_id", "journey_id", "version"),)

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    journey_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("journeys.id", ondelete="CASCADE"))
    version: Mapped[int] = mapped_column(Integer)
    definition: Mapped[dict[str, Any]] = mapped_column(default=dict)
    published_at: Mapped[datetime] = mapped_column(default=utcnow)


class JourneyEnrollment(TenantScoped, Base):
    """One customer's pass through a journey: what stats count and entry rules consult."""

    __tablename__ = "journey_enrollments"
    __table_args__ = (
        UniqueConstraint("organization_id", "run_id"),
        Index("ix_enrollments_customer", "organization_id", "journey_id", "customer_id"),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    journey_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("journeys.id", ondelete="CASCADE"))
    customer_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("customers.id", ondelete="CASCADE"))
    version: Mapped[int] = mapped_column(Integer)
    workflow_id: Mapped[str] = mapped_column(String(300))
    # The first run of the workflow; a continued-as-new run keeps the same enrollment.
    run_id: Mapped[str] = mapped_column(String(100))
    status: Mapped[EnrollmentStatus] = mapped_column(
        Enum(EnrollmentStatus, native_enum=False, length=10), default=EnrollmentStatus.active
    )
    exit_reason: Mapped[str | None] = mapped_column(Text)
    entered_at: Mapped[datetime] = mapped_column(default=utcnow)
    finished_at: Mapped[datetime | None]
    converted_at: Mapped[datetime | None]


class RateLimitWindow(TenantScoped, Base):
    """How many customers passed a journey's rate-limit step in one period."""

    __tablename__ = "journey_rate_windows"
    __table_args__ = (UniqueConstraint("organization_id", "journey_id", "step_id", "starts_at"),)

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    journey_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("journeys.id", ondelete="CASCADE"))
    step_id: Mapped[str] = mapped_column(String(64))
    starts_at: Mapped[datetime]
    passed: Mapped[int] = mapped_column(Integer, default=0)
