from __future__ import annotations

import uuid
from datetime import datetime
from decimal import Decimal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, model_validator

from herald.campaigns.contracts import ABTest, CampaignStatus, Metric
from herald.messaging.models import Channel
from herald.newsletter.schemas import TOPIC_PATTERN
from herald.segments.schemas import SEGMENT_KEY_PATTERN

CAMPAIGN_KEY_PATTERN = SEGMENT_KEY_PATTERN
VARIANT_NAME_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9 _-]{0,39}$"
# A list audience travels in the campaign row; larger audiences are segments.
MAX_LISTED_CUSTOMERS = 10_000


class Audience(BaseModel):
    """Who the campaign goes to: a saved segment (evaluated at send time), listed customers,
    or a newsletter topic's subscribers; a topic with a segment or list narrows it to those
    subscribed to the topic."""

    model_config = ConfigDict(extra="forbid")

    segment: str | None = None
    customers: list[uuid.UUID] | None = Field(
        default=None, min_length=1, max_length=MAX_LISTED_CUSTOMERS
    )
    topic: str | None = Field(default=None, pattern=TOPIC_PATTERN)

    @model_validator(mode="after")
    def _one_audience(self) -> Audience:
        if self.segment is not None and self.customers is not None:
            raise ValueError("give a segment or a list of customers, not both")
        if self.segment is None and self.customers is None and self.topic is None:
            raise ValueError("give a segment, a list of customers or a newsletter topic")
        return self


class AudienceSize(BaseModel):
    customers: int


class VariantIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(pattern=VARIANT_NAME_PATTERN)
    template: str = Field(min_length=1, max_length=100, description="A template key")


class CampaignIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    key: str = Field(pattern=CAMPAIGN_KEY_PATTERN)
    name: str = Field(min_length=1, max_length=200)
    channel: Channel
    audience: Audience
    variants: list[VariantIn] = Field(min_length=1, max_length=10)
    ab: ABTest | None = None
    send_at: AwareDatetime | None = Field(default=None, description="Now when not given")
    rate_limit_per_s: int | None = Field(default=None, ge=1, le=100_000)
    attribution_hours: int = Field(default=120, ge=1, le=24 * 30)

    @model_validator(mode="after")
    def _variants_fit_the_test(self) -> CampaignIn:
        names = [v.name for v in self.variants]
        if len(set(names)) != len(names):
            raise ValueError("variant names repeat")
        if self.ab is not None:
            if len(names) < 2:
                raise ValueError("an A/B test needs at least two variants")
            if self.ab.default_variant is not None and self.ab.default_variant not in names:
                raise ValueError(f"default_variant {self.ab.default_variant!r} is not a variant")
        return self


class CampaignStart(BaseModel):
    """A new draft as the console starts one: its first variant's template is made from a
    starter of the template library, or copied from a saved template."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=200)
    channel: Channel
    audience: Audience
    starter: str | None = Field(default=None, max_length=100, description="A library starter")
    template: str | None = Field(default=None, max_length=100, description="A saved template")

    @model_validator(mode="after")
    def _one_source(self) -> CampaignStart:
        if (self.starter is None) == (self.template is None):
            raise ValueError("start from a library starter or from a saved template")
        return self


class CampaignFilters(BaseModel):
    """Which campaigns a list shows; archived ones only when ``status`` asks for them. The
    dates bound when each goes out (its send time, else its start, else its creation)."""

    status: CampaignStatus | None = None
    channel: Channel | None = None
    since: AwareDatetime | None = None
    until: AwareDatetime | None = None


class CampaignUpdate(BaseModel):
    """A draft's fields; every one optional, the rest stay."""

    model_config = ConfigDict(extra="forbid")

    name: str | None = Field(default=None, min_length=1, max_length=200)
    audience: Audience | None = None
    variants: list[VariantIn] | None = Field(default=None, min_length=1, max_length=10)
    ab: ABTest | None = None
    send_at: AwareDatetime | None = None
    rate_limit_per_s: int | None = Field(default=None, ge=1, le=100_000)
    attribution_hours: int | None = Field(default=None, ge=1, le=24 * 30)


class Progress(BaseModel):
    """Where a send stands, counted from the recipients and their messages."""

    recipients: int | None
    test_size: int | None
    handed_over: int
    by_status: dict[str, int]


class Rate(BaseModel):
    """A proportion of the messages sent, with its 95% Wilson score interval."""

    count: int
    rate: float | None
    low: float | None
    high: float | None


class CampaignSummary(BaseModel):
    """A campaign's totals over its variants: what a list shows."""

    sent: int
    delivered: Rate
    opened: Rate
    clicked: Rate
    converted: Rate


class CampaignOut(BaseModel):
    id: uuid.UUID
    key: str
    name: str
    channel: Channel
    status: CampaignStatus
    audience: Audience
    variants: list[VariantIn]
    ab: ABTest | None
    send_at: datetime | None
    rate_limit_per_s: int | None
    attribution_hours: int
    winner: str | None
    workflow_id: str
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    # Why a failed send stopped.
    failure: str | None = None
    # What an archived campaign was before.
    archived_from: CampaignStatus | None = None
    progress: Progress | None = None
    summary: CampaignSummary | None = None


class VariantAnalytics(BaseModel):
    variant: str
    recipients: int
    sent: int
    skipped: int
    failed: int
    delivered: Rate
    opened: Rate
    clicked: Rate
    # Recipients with an order attributed to their message (the organization's model).
    converted: Rate
    unsubscribed: Rate
    bounced: Rate
    # Attributed orders (shares under the model add up) and their revenue.
    orders: float = 0.0
    revenue: Decimal = Decimal(0)
    revenue_per_recipient: Decimal | None = None


class VariantResult(BaseModel):
    variant: str
    sent: int
    successes: int
    # The success rate, or for revenue the mean revenue per recipient.
    rate: float | None
    # Revenue: its sum and the sum of each recipient's revenue squared (their variance).
    revenue: float | None = None
    revenue_squares: float | None = None


class Decision(BaseModel):
    """How the winner was picked, with the numbers behind it."""

    metric: Metric
    results: list[VariantResult]
    winner: str
    # The best variant against the runner-up, two-sided: the two-proportion z-test's z, or for
    # revenue per recipient Welch's t-test's t.
    z: float | None
    p_value: float | None
    significant: bool
    reason: str
    decided_at: datetime


class CampaignAnalytics(BaseModel):
    campaign: str
    status: CampaignStatus
    # The window after a send in which an unsubscribe counts against it.
    attribution_hours: int
    variants: list[VariantAnalytics]
    winner: str | None
    decision: Decision | None
    # Orders are attributed by the organization's model (revenue analytics' settings).
    attribution_model: str = "last_touch"
    currency: str = "USD"
    revenue: Decimal = Decimal(0)
    # Its messages at the declared cost per message, plus its fixed spend.
    cost: Decimal = Decimal(0)
    roi: float | None = None
