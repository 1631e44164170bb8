from __future__ import annotations

import uuid
from datetime import date, datetime
from decimal import Decimal

from pydantic import BaseModel, ConfigDict, Field

from herald.segments.rules import Rule

SEGMENT_KEY_PATTERN = r"^[a-z0-9][a-z0-9-]{0,99}$"


class SegmentIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    key: str = Field(pattern=SEGMENT_KEY_PATTERN)
    name: str = Field(min_length=1, max_length=200)
    description: str = Field(default="", max_length=1000)
    rule: Rule
    # Record entries and exits as segment.entered / segment.exited events (every few minutes).
    track_entries: bool = False


class SegmentUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str | None = Field(default=None, min_length=1, max_length=200)
    description: str | None = Field(default=None, max_length=1000)
    rule: Rule | None = None
    track_entries: bool | None = None


class SegmentOut(BaseModel):
    id: uuid.UUID
    key: str
    name: str
    description: str
    rule: Rule
    track_entries: bool
    swept_at: datetime | None
    created_at: datetime
    updated_at: datetime


class Member(BaseModel):
    id: uuid.UUID
    name: str
    primary_email: str | None
    created_at: datetime


class SegmentPreview(BaseModel):
    count: int
    first: list[Member]


class MemberPage(BaseModel):
    items: list[Member]
    next_cursor: str | None


class SegmentTemplate(BaseModel):
    key: str
    name: str
    description: str
    rule: Rule


class SegmentSizePoint(BaseModel):
    day: date
    size: int


class SegmentSizes(BaseModel):
    """The daily record of a saved segment's size, oldest first."""

    segment: str
    items: list[SegmentSizePoint]


class AudienceFigures(BaseModel):
    """How many customers, and what they have spent (lifetime value, paid less refunded, in
    the reporting currency)."""

    customers: int
    revenue: Decimal


class SegmentComparison(BaseModel):
    """Two segments side by side, and the customers in both."""

    a: str
    b: str
    currency: str
    only_a: AudienceFigures
    only_b: AudienceFigures
    both: AudienceFigures
    in_a: AudienceFigures
    in_b: AudienceFigures
