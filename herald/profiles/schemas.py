from __future__ import annotations

import uuid
from datetime import date, datetime
from decimal import Decimal
from typing import Any, Literal

from pydantic import BaseModel, Field

TimelineKind = Literal["message", "event", "note", "inquiry", "loyalty", "activity"]


class TimelineItem(BaseModel):
    """One thing that happened to a customer, from whichever record holds it."""

    at: datetime
    kind: TimelineKind
    id: uuid.UUID = Field(description="the id of the message, event, note... it stands for")
    summary: str
    details: dict[str, Any]


class CustomerSegment(BaseModel):
    id: uuid.UUID
    key: str
    name: str


Period = Literal["day", "week", "month"]


class PeriodFigures(BaseModel):
    start: date
    new: int = Field(description="customers created in the period")
    active: int = Field(description="customers who paid for an order in the period")


class CountryFigures(BaseModel):
    country: str | None
    customers: int
    buyers: int
    lifetime_value: Decimal


class CustomerStats(BaseModel):
    """The organization's customers at a glance; money in the reporting currency."""

    currency: str
    total: int = Field(description="customers not deleted")
    buyers: int = Field(description="customers with at least one order")
    repeat_buyers: int = Field(description="customers with two orders or more")
    repeat_purchase_rate: float | None = Field(description="repeat buyers over buyers")
    average_lifetime_value: Decimal | None = Field(description="over buyers")
    periods: list[PeriodFigures]
    by_country: list[CountryFigures] = Field(description="the 50 largest, by customers")
