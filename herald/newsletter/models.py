from __future__ import annotations

import enum
import uuid
from datetime import datetime

from sqlalchemy import Enum, ForeignKey, Index, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from herald.db import Base, JSONType, TenantScoped, utcnow


class SubscriberStatus(enum.StrEnum):
    pending = "pending"  # waiting for the double opt-in confirmation
    subscribed = "subscribed"
    unsubscribed = "unsubscribed"


class Subscriber(TenantScoped, Base):
    """A newsletter address, with or without a customer profile behind it."""

    __tablename__ = "subscribers"
    __table_args__ = (
        UniqueConstraint("organization_id", "email"),
        UniqueConstraint("token"),
        Index("ix_subscribers_org_created", "organization_id", "created_at"),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    email: Mapped[str] = mapped_column(String(320))
    status: Mapped[SubscriberStatus] = mapped_column(
        Enum(SubscriberStatus, native_enum=False, length=20)
    )
    topics: Mapped[list[str]] = mapped_column(JSONType, default=list)
    locale: Mapped[str | None] = mapped_column(String(35))
    customer_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("customers.id", ondelete="SET NULL")
    )
    # Unguessable; in every confirmation and unsubscribe link.
    token: Mapped[str] = mapped_column(String(64))
    source: Mapped[str | None] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    confirmed_at: Mapped[datetime | None]
    unsubscribed_at: Mapped[datetime | None]
