"""Revenue analytics over HTTP: settings, spend, and every report (each says as of when)."""

from __future__ import annotations

import enum
import re
from datetime import date, datetime
from decimal import Decimal
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from herald.analytics.models import AttributionModel, Granularity
from herald.messaging.models import Channel
from herald.segments.rules import FieldName, Scalar


def _hours(default: int) -> Any:
    return Field(default=default, ge=1, le=24 * 90)


class AnalyticsSettingsIn(BaseModel):
    """What ``PUT /v1/analytics/settings`` replaces; a field left out takes its default."""

    model_config = ConfigDict(extra="forbid")

    attribution_model: AttributionModel = AttributionModel.last_touch
    click_window_hours: int = _hours(120)
    open_window_hours: int = _hours(24)
    delivery_window_hours: int = _hours(24)
    half_life_hours: int = _hours(168)
    # What one message costs per channel, in the reporting currency.
    message_costs: dict[Channel, Decimal] = Field(default_factory=dict)

    @field_validator("message_costs")
    @classmethod
    def _not_negative(cls, costs: dict[Channel, Decimal]) -> dict[Channel, Decimal]:
        if any(cost < 0 for cost in costs.values()):
            raise ValueError("a message cannot cost less than nothing")
        return costs


class AnalyticsSettingsOut(AnalyticsSettingsIn):
    model_config = ConfigDict(from_attributes=True)


_SUBJECT = re.compile(r"^((campaign|journey):[a-z0-9][a-z0-9_-]{0,99})?$")


class SpendIn(BaseModel):
    """Spend of one month on one channel; ``subject`` names a campaign or journey whose fixed
    cost it is (``campaign:<key>``). An amount of 0 removes the entry."""

    model_config = ConfigDict(extra="forbid")

    month: date = Field(description="Any day of the month, or YYYY-MM")
    channel: str = Field(min_length=1, max_length=100)
    subject: str = Field(default="", max_length=120)
    amount: Decimal = Field(ge=0, max_digits=18, decimal_places=4)

    @model_validator(mode="before")
    @classmethod
    def _month_alone(cls, data: Any) -> Any:
        month = data.get("month") if isinstance(data, dict) else None
        if isinstance(month, str) and re.fullmatch(r"\d{4}-\d{2}", month):
            data = {**data, "month": f"{month}-01"}
        return data

    @field_validator("month")
    @classmethod
    def _first_day(cls, month: date) -> date:
        return month.replace(day=1)

    @field_validator("channel")
    @classmethod
    def _channel_name(cls, channel: str) -> str:
        return channel.strip().lower()

    @field_validator("subject")
    @classmethod
    def _subject(cls, subject: str) -> str:
        if not _SUBJECT.match(subject):
            raise ValueError("a subject is empty, campaign:<key> or journey:<key>")
        return subject


class SpendPut(BaseModel):
    model_config = ConfigDict(extra="forbid")

    spend: list[SpendIn] = Field(min_length=1, max_length=1000)


class SpendOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    month: date
    channel: str
    subject: str
    amount: Decimal


class Report(BaseModel):
    """What every report carries: the rollups' instant and the money's currency."""

    as_of: datetime | None = Field(description="Everything recorded before this is counted")
    currency: str


class SeriesPoint(BaseModel):
    start: date
    revenue: Decimal
    orders: int
    new_customers: int
    active_customers: int
    messages: int
    opens: int
    clicks: int
    unsubscribes: int
    attributed_revenue: Decimal
    orders_not_converted: int


class SeriesReport(Report):
    granularity: Granularity
    since: date
    until: date
    points: list[SeriesPoint]
    # The same number of periods just before, for comparison.
    previous: list[SeriesPoint]
    totals: dict[str, Decimal | int]
    previous_totals: dict[str, Decimal | int]


class CohortPeriod(BaseModel):
    period: int
    customers: int
    retention: float
    orders: int
    revenue: Decimal
    # Revenue so far per customer of the cohort: its historical lifetime value at this age.
    lifetime_value: Decimal


class CohortRow(BaseModel):
    cohort: date
    customers: int
    periods: list[CohortPeriod]


class CohortReport(Report):
    granularity: Granularity
    cohorts: list[CohortRow]


class RetentionReport(Report):
    buyers: int
    # What a buyer has paid on average so far, refunds deducted: historical lifetime value.
    average_lifetime_value: Decimal | None = None
    repeat_buyers: int
    repeat_purchase_rate: float | None
    churn_after_days: int
    # Buyers whose last order is older than ``churn_after_days``.
    churned: int
    churn_rate: float | None
    median_days_between_orders: float | None
    mean_days_between_orders: float | None


class AttributionDimension(enum.StrEnum):
    campaign = "campaign"
    variant = "variant"
    journey = "journey"
    step = "step"
    template = "template"
    channel = "channel"


class AttributionRow(BaseModel):
    key: str
    name: str | None = None
    messages: int
    orders: float = Field(description="Attributed orders: shares under the model add up")
    revenue: Decimal
    revenue_per_recipient: Decimal | None
    cost: Decimal
    roi: float | None = Field(description="(revenue - cost) / cost; none without a cost")


class AttributionReport(Report):
    model: AttributionModel
    by: AttributionDimension
    since: date
    until: date
    rows: list[AttributionRow]


class AcquisitionRow(BaseModel):
    month: date
    channel: str
    new_customers: int
    buyers: int
    revenue: Decimal
    spend: Decimal
    cac: Decimal | None = Field(description="Spend over new customers")


class AcquisitionTotal(BaseModel):
    """One channel over the whole range."""

    channel: str
    new_customers: int
    buyers: int
    revenue: Decimal
    spend: Decimal
    cac: Decimal | None


class AcquisitionReport(Report):
    rows: list[AcquisitionRow]
    channels: list[AcquisitionTotal] = []
    # All spend over all new customers of the range.
    cac: Decimal | None = None


class FunnelStep(BaseModel):
    model_config = ConfigDict(extra="forbid")

    event: str = Field(min_length=1, max_length=100)
    where: dict[FieldName, Scalar] = Field(default={}, max_length=10)


class FunnelQuery(BaseModel):
    model_config = ConfigDict(extra="forbid")

    steps: list[FunnelStep] = Field(min_length=2, max_length=10)
    since: datetime
    until: datetime
    within_hours: int = Field(default=24 * 7, ge=1, le=24 * 90)
    # Split by a profile field or an attribute (``country``, ``attribute:plan``) or a segment.
    split_by: str | None = Field(default=None, max_length=120)
    segment: str | None = Field(default=None, max_length=100)

    @model_validator(mode="after")
    def _window(self) -> FunnelQuery:
        if self.until <= self.since:
            raise ValueError("until must be after since")
        if self.split_by and self.segment:
            raise ValueError("split by a field or a segment, not both")
        return self


class FunnelStepResult(BaseModel):
    event: str
    customers: int
    conversion: float | None = Field(description="Of the first step's customers")
    from_previous: float | None
    drop_off: int
    median_seconds_to_convert: float | None


class FunnelGroup(BaseModel):
    group: str | None
    steps: list[FunnelStepResult]


class FunnelReport(BaseModel):
    since: datetime
    until: datetime
    within_hours: int
    split: Literal["none", "field", "segment"]
    groups: list[FunnelGroup]
    computed_at: datetime


class InquirySource(BaseModel):
    source: str
    inquiries: int
    converted: int
    conversion_rate: float | None


class InquiryReport(BaseModel):
    since: date
    until: date
    inquiries: int
    replied: int
    # From the inquiry's arrival to staff's first reply.
    median_hours_to_reply: float | None
    converted: int
    conversion_rate: float | None
    by_source: list[InquirySource]
