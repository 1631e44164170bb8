from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated

from pydantic import BaseModel, ConfigDict, EmailStr, Field

from herald.newsletter.models import SubscriberStatus

TOPIC_PATTERN = r"^[a-z0-9][a-z0-9_-]{0,49}$"
Topic = Annotated[str, Field(pattern=TOPIC_PATTERN)]
Topics = Annotated[list[Topic], Field(max_length=20)]


class SubscribeIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    email: EmailStr
    topics: Topics = []
    locale: str | None = Field(default=None, pattern=r"^[A-Za-z]{2,3}(?:-[A-Za-z0-9]{2,8})*$")
    source: str | None = Field(default=None, max_length=200)
    # A honeypot: hidden from people, filled in by bots.
    website: str | None = Field(default=None, max_length=200)


class SubscriberCreate(BaseModel):
    """Staff add an address they were given leave to write to: subscribed at once."""

    model_config = ConfigDict(extra="forbid")

    email: EmailStr
    topics: Topics = []
    locale: str | None = Field(default=None, pattern=r"^[A-Za-z]{2,3}(?:-[A-Za-z0-9]{2,8})*$")


class SubscriberUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    topics: Topics


class SubscriberOut(BaseModel):
    id: uuid.UUID
    email: str
    status: SubscriberStatus
    topics: list[str]
    locale: str | None
    customer_id: uuid.UUID | None
    source: str | None
    created_at: datetime
    confirmed_at: datetime | None
    unsubscribed_at: datetime | None


class MonthlyGrowth(BaseModel):
    month: str
    subscribed: int
    unsubscribed: int
    net: int


class NewsletterStats(BaseModel):
    total: int = Field(description="subscribed now")
    new_this_month: int
    by_status: dict[SubscriberStatus, int]
    monthly_growth: list[MonthlyGrowth]
