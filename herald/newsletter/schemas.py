from __future__ import annotations

import uuid
from datetime import datetime

from pydantic import BaseModel, ConfigDict, EmailStr, Field

from herald.newsletter.models import SubscriberStatus

Topic = Field(pattern=r"^[a-z0-9][a-z0-9_-]{0,49}$")


class SubscribeIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    email: EmailStr
    topics: list[str] = Field(default=[], max_length=20)
    locale: str | None = Field(default=None, pattern=r"^[A-Za-z]{2,3}(?:-[A-Za-z0-9]{2,8})*$")
    source: str | None = Field(default=None, max_length=200)
    # A honeypot: hidden from people, filled in by bots.
    website: str | None = Field(default=None, max_length=200)


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
