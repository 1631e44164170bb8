from __future__ import annotations

import enum
import uuid
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import Enum, ForeignKey, Index, Numeric, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from herald.db import Base, TenantScoped, utcnow


class Rounding(enum.StrEnum):
    down = "down"
    half_up = "half_up"
    up = "up"


class EntryKind(enum.StrEnum):
    earn = "earn"
    reversal = "reversal"
    adjustment = "adjustment"


class LoyaltySettings(TenantScoped, Base):
    """The merchant's earning rule: points per unit of order currency, and how fractions round."""

    __tablename__ = "loyalty_settings"
    __table_args__ = (UniqueConstraint("organization_id"),)

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    points_per_unit: Mapped[Decimal] = mapped_column(Numeric(12, 4), default=Decimal(1))
    rounding: Mapped[Rounding] = mapped_column(
        Enum(Rounding, native_enum=False, length=10), default=Rounding.down
    )
    # Birthday rewards: a message (template ``loyalty-birthday``) and these points, once a year.
    birthday_enabled: Mapped[bool] = mapped_column(default=False)
    birthday_points: Mapped[int] = mapped_column(default=0)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class LoyaltyAccount(TenantScoped, Base):
    """A customer's running balance; always equal to the sum of their ledger entries."""

    __tablename__ = "loyalty_accounts"

    customer_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("customers.id", ondelete="CASCADE"), primary_key=True
    )
    balance: Mapped[int] = mapped_column(default=0)
    lifetime_earned: Mapped[int] = mapped_column(default=0)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class LedgerEntry(TenantScoped, Base):
    """Append-only. One entry per (organization, source, source id): retries cannot award twice."""

    __tablename__ = "loyalty_ledger"
    __table_args__ = (
        UniqueConstraint("organization_id", "source", "source_id"),
        Index("ix_loyalty_ledger_customer", "organization_id", "customer_id", "created_at"),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    customer_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("customers.id", ondelete="CASCADE"))
    kind: Mapped[EntryKind] = mapped_column(Enum(EntryKind, native_enum=False, length=20))
    points: Mapped[int]
    source: Mapped[str] = mapped_column(String(50))
    source_id: Mapped[str] = mapped_column(String(200))
    event_id: Mapped[uuid.UUID | None]
    reverses_entry_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("loyalty_ledger.id"))
    # The rule and amounts that produced the points, so a reversal never re-derives them.
    details: Mapped[dict[str, Any]] = mapped_column(default=dict)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
