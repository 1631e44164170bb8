from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import Enum, ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from herald.db import Base, JSONType, TenantScoped, utcnow
from herald.inquiries.contracts import InquiryStatus


class Inquiry(TenantScoped, Base):
    """A sales lead from the merchant's contact form. Its follow-up is one Temporal run."""

    __tablename__ = "inquiries"
    __table_args__ = (
        Index("ix_inquiries_org_created", "organization_id", "created_at"),
        Index("ix_inquiries_org_status", "organization_id", "status", "created_at"),
        Index("ix_inquiries_org_assignee", "organization_id", "assignee_id", "created_at"),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    status: Mapped[InquiryStatus] = mapped_column(
        Enum(InquiryStatus, native_enum=False, length=20), default=InquiryStatus.new
    )
    name: Mapped[str] = mapped_column(String(200))
    email: Mapped[str] = mapped_column(String(320))
    phone: Mapped[str | None] = mapped_column(String(32))
    company: Mapped[str | None] = mapped_column(String(200))
    company_size: Mapped[str | None] = mapped_column(String(20))
    industry: Mapped[str | None] = mapped_column(String(100))
    website: Mapped[str | None] = mapped_column(String(300))
    message: Mapped[str] = mapped_column(Text)
    source_page: Mapped[str | None] = mapped_column(String(500))
    assignee_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL")
    )
    # A known customer with this address, or the profile created or linked on conversion.
    customer_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("customers.id", ondelete="SET NULL")
    )
    lost_reason: Mapped[str | None] = mapped_column(String(500))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)
    closed_at: Mapped[datetime | None]


class InquiryEntry(TenantScoped, Base):
    """One line of an inquiry's timeline. ``key`` makes each activity's write happen once."""

    __tablename__ = "inquiry_timeline"
    __table_args__ = (
        UniqueConstraint("inquiry_id", "key"),
        Index("ix_inquiry_timeline_inquiry", "inquiry_id", "at"),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    inquiry_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("inquiries.id", ondelete="CASCADE"))
    key: Mapped[str] = mapped_column(String(200))
    at: Mapped[datetime]
    kind: Mapped[str] = mapped_column(String(40))
    # Who acted: an API key's id, or "herald" for the follow-up's own timers.
    actor: Mapped[str] = mapped_column(String(64))
    details: Mapped[dict[str, Any]] = mapped_column(default=dict)


class InquirySettings(TenantScoped, Base):
    """How patiently the follow-up waits, per organization. Read when an inquiry arrives."""

    __tablename__ = "inquiry_settings"
    __table_args__ = (UniqueConstraint("organization_id"),)

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    unassigned_reminder_hours: Mapped[int] = mapped_column(default=4)
    reply_escalation_hours: Mapped[int] = mapped_column(default=24)
    nudge_after_days: Mapped[int] = mapped_column(default=3)
    lost_after_days: Mapped[int] = mapped_column(default=14)
    # Addresses told of every new inquiry besides the sales and owner users (a shared inbox).
    notify_emails: Mapped[list[str]] = mapped_column(JSONType, default=list)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)
