from __future__ import annotations

import uuid
from datetime import datetime
from decimal import Decimal
from itertools import pairwise
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_serializer, model_validator

from herald.loyalty.contracts import RedemptionStatus
from herald.loyalty.models import EntryKind, RewardKind, Rounding, TierBasis


class LoyaltySettingsIn(BaseModel):
    points_per_unit: Decimal = Field(gt=0, le=10_000, decimal_places=4)
    rounding: Rounding = Rounding.down
    # Left out: unchanged. On: every customer with a birthday gets the ``loyalty-birthday``
    # message and ``birthday_points`` on their birthday, in their own time zone.
    birthday_enabled: bool | None = None
    birthday_points: int | None = Field(default=None, ge=0, le=1_000_000)
    # A reward whose code is the birthday gift; null removes it, left out leaves it.
    birthday_reward_id: uuid.UUID | None = None
    # How long a reward's code waits for an order before its points come back.
    redemption_hold_minutes: int | None = Field(default=None, ge=1, le=60 * 24 * 30)
    # Points for the referrer and for the customer they brought, on the latter's first order.
    referral_points_referrer: int | None = Field(default=None, ge=0, le=1_000_000)
    referral_points_referred: int | None = Field(default=None, ge=0, le=1_000_000)
    # The most points one journey run may award in all its award steps together.
    journey_points_per_run: int | None = Field(default=None, ge=0, le=1_000_000)
    # Points lapse this many days after they were earned, oldest first; 0 turns expiry off.
    points_expire_after_days: int | None = Field(default=None, ge=0, le=10 * 365)
    expiry_notice_days: int | None = Field(default=None, ge=1, le=90)


def plain_decimal(value: Decimal) -> str:
    """``2.5000`` as stored by the database, ``2.5`` as people write it."""
    return format(value.normalize(), "f")


class LoyaltySettingsOut(BaseModel):
    points_per_unit: Decimal
    rounding: Rounding
    birthday_enabled: bool = False
    birthday_points: int = 0
    birthday_reward_id: uuid.UUID | None = None
    redemption_hold_minutes: int = 60
    referral_points_referrer: int = 0
    referral_points_referred: int = 0
    journey_points_per_run: int = 1000
    points_expire_after_days: int | None = None
    expiry_notice_days: int = 14
    updated_at: datetime | None

    @field_serializer("points_per_unit")
    def _plain(self, value: Decimal) -> str:
        return plain_decimal(value)


class LedgerEntryOut(BaseModel):
    id: uuid.UUID
    kind: EntryKind
    points: int
    source: str
    source_id: str
    reverses_entry_id: uuid.UUID | None
    details: dict[str, Any]
    created_at: datetime


class PointsOut(BaseModel):
    customer_id: uuid.UUID
    balance: int
    lifetime_earned: int
    tier: str | None = None
    tier_since: datetime | None = None
    entries: list[LedgerEntryOut]
    next_cursor: str | None


# -- rewards and redemption ---------------------------------------------------------------------


class RewardFields(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=200)
    kind: RewardKind
    value: Decimal | None = Field(default=None, gt=0, max_digits=12, decimal_places=2)
    sku: str | None = Field(default=None, min_length=1, max_length=100)
    cost_points: int = Field(gt=0, le=100_000_000)
    stock: int | None = Field(default=None, ge=0, le=1_000_000_000)
    per_customer_limit: int | None = Field(default=None, ge=1, le=1_000_000)
    active: bool = True

    @model_validator(mode="after")
    def _what_it_gives(self) -> RewardFields:
        if self.kind in (RewardKind.discount_fixed, RewardKind.discount_percent):
            if self.value is None:
                raise ValueError(f"a {self.kind.value} reward needs a value")
            if self.kind is RewardKind.discount_percent and self.value > 100:
                raise ValueError("a percent discount is at most 100")
        if self.kind is RewardKind.free_item and not self.sku:
            raise ValueError("a free_item reward needs the item's sku")
        return self


class RewardCreate(RewardFields):
    pass


class RewardUpdate(BaseModel):
    """Changes to a reward; codes already issued keep the points they cost."""

    model_config = ConfigDict(extra="forbid")

    name: str | None = Field(default=None, min_length=1, max_length=200)
    cost_points: int | None = Field(default=None, gt=0, le=100_000_000)
    stock: int | None = Field(default=None, ge=0, le=1_000_000_000)
    per_customer_limit: int | None = Field(default=None, ge=1, le=1_000_000)
    active: bool | None = None


class RewardOut(BaseModel):
    id: uuid.UUID
    name: str
    kind: RewardKind
    value: Decimal | None
    sku: str | None
    cost_points: int
    stock: int | None
    stock_left: int | None
    per_customer_limit: int | None
    active: bool
    created_at: datetime


class RedeemIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reward_id: uuid.UUID


class RedemptionOut(BaseModel):
    id: uuid.UUID
    customer_id: uuid.UUID
    reward_id: uuid.UUID
    code: str
    points: int
    status: RedemptionStatus
    order_id: str | None
    release_reason: str | None
    created_at: datetime
    expires_at: datetime
    settled_at: datetime | None


class ConfirmRedemptionIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    order_id: str = Field(min_length=1, max_length=200)


class ReleaseRedemptionIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reason: str = Field(default="cancelled", min_length=1, max_length=200)


class AdjustmentIn(BaseModel):
    """A manual correction of a customer's balance (owner only, audited)."""

    model_config = ConfigDict(extra="forbid")

    points: int = Field(ge=-100_000_000, le=100_000_000)
    reason: str = Field(min_length=3, max_length=500)

    @model_validator(mode="after")
    def _not_zero(self) -> AdjustmentIn:
        if self.points == 0:
            raise ValueError("an adjustment adds or removes at least one point")
        return self


# -- tiers -------------------------------------------------------------------------------------


class TierIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=100)
    # Points earned, or amount spent, within the period to reach the tier.
    threshold: Decimal = Field(ge=0, max_digits=14, decimal_places=2)
    multiplier: Decimal = Field(default=Decimal(1), ge=Decimal("0.1"), le=10, decimal_places=3)


class TierLadderIn(BaseModel):
    """The whole ladder, lowest first. Members keep their tier by name across changes."""

    model_config = ConfigDict(extra="forbid")

    basis: TierBasis = TierBasis.points_earned
    period_days: int = Field(default=365, ge=30, le=3 * 365)
    tiers: list[TierIn] = Field(max_length=10)

    @model_validator(mode="after")
    def _a_ladder(self) -> TierLadderIn:
        names = [t.name.casefold() for t in self.tiers]
        if len(set(names)) != len(names):
            raise ValueError("tier names must differ")
        thresholds = [t.threshold for t in self.tiers]
        if any(b <= a for a, b in pairwise(thresholds)):
            raise ValueError("each tier's threshold must be above the one before")
        return self


class TierOut(BaseModel):
    id: uuid.UUID
    name: str
    threshold: Decimal
    multiplier: Decimal

    @field_serializer("threshold", "multiplier")
    def _plain(self, value: Decimal) -> str:
        return plain_decimal(value)


class TierLadderOut(BaseModel):
    basis: TierBasis
    period_days: int
    tiers: list[TierOut]


# -- referral ----------------------------------------------------------------------------------


class ReferralCodeOut(BaseModel):
    customer_id: uuid.UUID
    code: str


class ReferredByIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    code: str = Field(min_length=4, max_length=32)


class ReferralOut(BaseModel):
    id: uuid.UUID
    referrer_id: uuid.UUID
    referred_id: uuid.UUID
    created_at: datetime
    rewarded_at: datetime | None
    order_id: str | None


# -- analytics and the customer's own view -----------------------------------------------------


class MonthFigures(BaseModel):
    month: str  # YYYY-MM
    issued: int
    redeemed: int
    expired: int


class LoyaltyAnalytics(BaseModel):
    members: int
    members_per_tier: dict[str, int]
    months: list[MonthFigures]
    issued: int
    redeemed: int
    expired: int
    # Redeemed over issued in the period shown; none when nothing was issued.
    redemption_rate: float | None
    # The points members hold today: what the program owes.
    outstanding_points: int
    # Members with a ledger entry (earned, redeemed, adjusted, expired) in the period shown.
    active_members: int = 0
    # The outstanding points in money, at the best rate of the active fixed-discount rewards
    # (what the points would cost the shop if spent there); none without such a reward.
    point_value: Decimal | None = None
    outstanding_liability: Decimal | None = None
    currency: str = "USD"
    # Members against customers outside the program who have ordered.
    members_vs_others: list[GroupFigures] = []
    referrals: ReferralFigures | None = None


class GroupFigures(BaseModel):
    group: str  # "members" or "non-members"
    buyers: int
    average_spend: Decimal | None
    average_orders: float | None
    # Buyers with two orders or more.
    repeat_rate: float | None


class Referrer(BaseModel):
    customer_id: uuid.UUID
    name: str
    referred: int
    converted: int
    revenue: Decimal


class ReferralFigures(BaseModel):
    referred: int
    # Referred customers who have paid an order (both sides rewarded then).
    converted: int
    conversion_rate: float | None
    reward_points: int
    # What referred customers have spent, refunds deducted, in the reporting currency.
    revenue: Decimal
    top_referrers: list[Referrer]


class HistoryEntry(BaseModel):
    """A ledger entry as its customer sees it (no internal details)."""

    kind: EntryKind
    points: int
    source: str
    created_at: datetime


class CustomerLoyaltyView(BaseModel):
    name: str
    balance: int
    tier: str | None
    tier_since: datetime | None
    history: list[HistoryEntry]
    redemptions: list[RedemptionOut]
    rewards: list[RewardOut]


class LoyaltyLinkOut(BaseModel):
    url: str
