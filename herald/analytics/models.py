"""Revenue analytics' tables: the merchant's settings and spend, which message each order is
attributed to, and the rollups reports read (kept current by the ``AnalyticsRollup`` run)."""

from __future__ import annotations

import enum
import uuid
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import Enum, ForeignKey, Index, Numeric, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from herald.db import Base, JSONType, TenantScoped, utcnow

Money = Numeric(18, 4)


class AttributionModel(enum.StrEnum):
    last_touch = "last_touch"
    first_touch = "first_touch"
    linear = "linear"
    time_decay = "time_decay"


class Granularity(enum.StrEnum):
    day = "day"
    week = "week"
    month = "month"


class AnalyticsSettings(TenantScoped, Base):
    """How an organization's orders are attributed, and what its messages cost. One row per
    organization; without one the defaults apply."""

    __tablename__ = "analytics_settings"
    __table_args__ = (UniqueConstraint("organization_id"),)

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    # Defaults: ``schemas.AnalyticsSettingsIn``.
    attribution_model: Mapped[AttributionModel] = mapped_column(
        Enum(AttributionModel, native_enum=False, length=20)
    )
    click_window_hours: Mapped[int]
    open_window_hours: Mapped[int]
    delivery_window_hours: Mapped[int]
    half_life_hours: Mapped[int]
    # What one message costs per channel, in the reporting currency: {"sms": "0.0079"}.
    message_costs: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class MarketingSpend(TenantScoped, Base):
    """Money the merchant spent in a month on a marketing channel ("google", "instagram",
    "email"), in the reporting currency. ``subject`` empty: the channel's spend; otherwise the
    fixed cost of one campaign or journey (``campaign:<key>``, ``journey:<key>``), which counts
    in its ROI and in its channel's spend."""

    __tablename__ = "marketing_spend"
    __table_args__ = (UniqueConstraint("organization_id", "month", "channel", "subject"),)

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    month: Mapped[date]
    channel: Mapped[str] = mapped_column(String(100))
    subject: Mapped[str] = mapped_column(String(120), default="")
    amount: Mapped[Decimal] = mapped_column(Money)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class OrderAttribution(TenantScoped, Base):
    """One message's share of one order under each model (the weights of an order add up to
    1 per model, or the order has no row: nothing touched it). Money is not copied here: a
    report joins the order, so a refund shows at once. What the message belonged to is copied
    from it, so reports group without parsing intents."""

    __tablename__ = "order_attributions"
    __table_args__ = (
        UniqueConstraint("organization_id", "order_pk", "message_id"),
        Index("ix_order_attributions_paid", "organization_id", "paid_at"),
        Index("ix_order_attributions_campaign", "organization_id", "campaign_id"),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    order_pk: Mapped[uuid.UUID] = mapped_column(ForeignKey("orders.id", ondelete="CASCADE"))
    message_id: Mapped[uuid.UUID]
    customer_id: Mapped[uuid.UUID | None]
    paid_at: Mapped[datetime]
    channel: Mapped[str] = mapped_column(String(10))
    template_id: Mapped[uuid.UUID | None]
    campaign_id: Mapped[uuid.UUID | None]
    variant: Mapped[str | None] = mapped_column(String(40))
    journey_key: Mapped[str | None] = mapped_column(String(100))
    step_id: Mapped[str | None] = mapped_column(String(100))
    # "click", "open" or "delivery": what made the message count, and when.
    touch: Mapped[str] = mapped_column(String(10))
    touch_at: Mapped[datetime]
    weight_last_touch: Mapped[float]
    weight_first_touch: Mapped[float]
    weight_linear: Mapped[float]
    weight_time_decay: Mapped[float]


class AnalyticsPeriod(TenantScoped, Base):
    """An organization's figures for one day, week (from Monday) or month, UTC."""

    __tablename__ = "analytics_periods"
    __table_args__ = (UniqueConstraint("organization_id", "granularity", "start"),)

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    granularity: Mapped[Granularity] = mapped_column(
        Enum(Granularity, native_enum=False, length=10)
    )
    start: Mapped[date]
    revenue: Mapped[Decimal] = mapped_column(Money, default=Decimal(0))
    orders: Mapped[int] = mapped_column(default=0)
    # Orders in another currency with no rate for their month: left out of revenue.
    orders_not_converted: Mapped[int] = mapped_column(default=0)
    new_customers: Mapped[int] = mapped_column(default=0)
    # Customers who ordered in the period.
    active_customers: Mapped[int] = mapped_column(default=0)
    messages: Mapped[int] = mapped_column(default=0)
    opens: Mapped[int] = mapped_column(default=0)
    clicks: Mapped[int] = mapped_column(default=0)
    unsubscribes: Mapped[int] = mapped_column(default=0)
    attributed_revenue: Mapped[Decimal] = mapped_column(Money, default=Decimal(0))


class AnalyticsCohort(TenantScoped, Base):
    """Customers whose first order fell in ``cohort`` (a week or month), ``period`` weeks or
    months later: how many of them ordered, how many orders, what revenue."""

    __tablename__ = "analytics_cohorts"
    __table_args__ = (UniqueConstraint("organization_id", "granularity", "cohort", "period"),)

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    granularity: Mapped[Granularity] = mapped_column(
        Enum(Granularity, native_enum=False, length=10)
    )
    cohort: Mapped[date]
    period: Mapped[int]
    # The week or month the cell counts (cohort + period): what a run recomputes from.
    at: Mapped[date]
    customers: Mapped[int]
    orders: Mapped[int]
    revenue: Mapped[Decimal] = mapped_column(Money)


class AnalyticsAcquisition(TenantScoped, Base):
    """New customers per month and acquisition channel (their first ``utm_source`` or
    ``source``, else "direct"), and how many of them have ordered since."""

    __tablename__ = "analytics_acquisition"
    __table_args__ = (UniqueConstraint("organization_id", "month", "channel"),)

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    month: Mapped[date]
    channel: Mapped[str] = mapped_column(String(100))
    new_customers: Mapped[int]
    buyers: Mapped[int]
    revenue: Mapped[Decimal] = mapped_column(Money)


class AnalyticsState(TenantScoped, Base):
    """Where an organization's rollups stand. ``as_of``: everything written before it is in
    them. ``dirty_from``: a change that reaches back (a currency rate, the attribution
    settings) asks the next run to recompute from that day on; ``reattribute``, to attribute
    every order again (new windows). ``figures``: the whole-history
    figures the last run computed (repeat rate, time between orders)."""

    __tablename__ = "analytics_state"
    __table_args__ = (UniqueConstraint("organization_id"),)

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    as_of: Mapped[datetime | None]
    attributed_through: Mapped[datetime | None]
    dirty_from: Mapped[date | None]
    reattribute: Mapped[bool] = mapped_column(default=False)
    rebuilt_at: Mapped[datetime | None]
    figures: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)
