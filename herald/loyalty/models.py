from __future__ import annotations

import enum
import uuid
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import Enum, ForeignKey, Index, Numeric, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from herald.db import Base, TenantScoped, utcnow
from herald.loyalty.contracts import RedemptionStatus


class Rounding(enum.StrEnum):
    down = "down"
    half_up = "half_up"
    up = "up"


class TierBasis(enum.StrEnum):
    points_earned = "points_earned"  # points earned from orders and gifts in the period
    amount_spent = "amount_spent"  # order amounts paid in the period


class EntryKind(enum.StrEnum):
    earn = "earn"
    reversal = "reversal"
    adjustment = "adjustment"
    # Points held for a reward; a release gives them back when the redemption lapses.
    redemption = "redemption"
    release = "release"
    expiry = "expiry"


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
    # And/or a code for this reward, as a gift (it costs no points).
    birthday_reward_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("loyalty_rewards.id", ondelete="SET NULL")
    )
    # How long a redeemed reward's code waits for an order before its points come back.
    redemption_hold_minutes: Mapped[int] = mapped_column(default=60)
    # Tiers qualify on this over a rolling period; a member is reviewed once a period.
    tier_basis: Mapped[TierBasis] = mapped_column(
        Enum(TierBasis, native_enum=False, length=20), default=TierBasis.points_earned
    )
    tier_period_days: Mapped[int] = mapped_column(default=365)
    # Referral: points for the referrer and the new customer when the latter's first order
    # is paid (0 and 0: no referral program).
    referral_points_referrer: Mapped[int] = mapped_column(default=0)
    referral_points_referred: Mapped[int] = mapped_column(default=0)
    # The most points one journey run may award in all its steps (a loop cannot drain the
    # program); owners raise it.
    journey_points_per_run: Mapped[int] = mapped_column(default=1000)
    # Points lapse this long after they were earned, oldest first (None: never), with a
    # ``loyalty.points_expiring`` event this many days before.
    points_expire_after_days: Mapped[int | None]
    expiry_notice_days: Mapped[int] = mapped_column(default=14)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class LoyaltyTier(TenantScoped, Base):
    """A rung of the ladder (Bronze, Silver, ...): reached at ``threshold`` of the program's
    basis within its period; earns ``multiplier`` times the base rate."""

    __tablename__ = "loyalty_tiers"
    __table_args__ = (UniqueConstraint("organization_id", "name"),)

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    name: Mapped[str] = mapped_column(String(100))
    threshold: Mapped[Decimal] = mapped_column(Numeric(14, 2))
    multiplier: Mapped[Decimal] = mapped_column(Numeric(6, 3), default=Decimal(1))


class LoyaltyAccount(TenantScoped, Base):
    """A customer's running balance; always equal to the sum of their ledger entries."""

    __tablename__ = "loyalty_accounts"

    customer_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("customers.id", ondelete="CASCADE"), primary_key=True
    )
    balance: Mapped[int] = mapped_column(default=0)
    lifetime_earned: Mapped[int] = mapped_column(default=0)
    tier_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("loyalty_tiers.id", ondelete="SET NULL")
    )
    # Since when the member holds the tier, and when it was last confirmed at a review.
    tier_since: Mapped[datetime | None]
    tier_reviewed_at: Mapped[datetime | None]
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


class RewardKind(enum.StrEnum):
    discount_fixed = "discount_fixed"  # ``value`` off, in the order's currency
    discount_percent = "discount_percent"  # ``value`` percent off
    free_item = "free_item"  # ``sku``
    custom = "custom"


class Reward(TenantScoped, Base):
    """An entry of the rewards catalog: what a customer can spend points on."""

    __tablename__ = "loyalty_rewards"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    name: Mapped[str] = mapped_column(String(200))
    kind: Mapped[RewardKind] = mapped_column(Enum(RewardKind, native_enum=False, length=20))
    value: Mapped[Decimal | None] = mapped_column(Numeric(12, 2))
    sku: Mapped[str | None] = mapped_column(String(100))
    cost_points: Mapped[int]
    # None: unlimited. ``stock_left`` counts down as codes are reserved, up as they lapse.
    stock: Mapped[int | None]
    stock_left: Mapped[int | None]
    per_customer_limit: Mapped[int | None]
    active: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class Redemption(TenantScoped, Base):
    __tablename__ = "loyalty_redemptions"
    __table_args__ = (
        UniqueConstraint("organization_id", "code"),
        Index("ix_loyalty_redemptions_customer", "organization_id", "customer_id", "reward_id"),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    customer_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("customers.id", ondelete="CASCADE"))
    reward_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("loyalty_rewards.id"))
    code: Mapped[str] = mapped_column(String(32))
    points: Mapped[int]
    status: Mapped[RedemptionStatus] = mapped_column(
        Enum(RedemptionStatus, native_enum=False, length=20)
    )
    order_id: Mapped[str | None] = mapped_column(String(200))
    release_reason: Mapped[str | None] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime]
    settled_at: Mapped[datetime | None]


class ReferralCode(TenantScoped, Base):
    """A customer's code to hand to friends; made the first time it is asked for."""

    __tablename__ = "loyalty_referral_codes"
    __table_args__ = (UniqueConstraint("organization_id", "code"),)

    customer_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("customers.id", ondelete="CASCADE"), primary_key=True
    )
    code: Mapped[str] = mapped_column(String(32))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Referral(TenantScoped, Base):
    """Who brought whom. A customer is referred once; both are rewarded once, on the referred
    customer's first paid order."""

    __tablename__ = "loyalty_referrals"
    __table_args__ = (UniqueConstraint("organization_id", "referred_id"),)

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    referrer_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("customers.id", ondelete="CASCADE"), index=True
    )
    referred_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("customers.id", ondelete="CASCADE"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    rewarded_at: Mapped[datetime | None]
    order_id: Mapped[str | None] = mapped_column(String(200))
