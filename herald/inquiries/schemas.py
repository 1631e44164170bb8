from __future__ import annotations

import enum
import uuid
from datetime import datetime
from typing import Annotated, Any

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    EmailStr,
    Field,
    HttpUrl,
)

from herald.customers.schemas import to_e164
from herald.inquiries.contracts import InquiryStatus


class CompanySize(enum.StrEnum):
    xs = "1-10"
    s = "11-50"
    m = "51-200"
    l = "201-1000"  # noqa: E741
    xl = "1000+"


def _phone(value: str | None) -> str | None:
    return to_e164(value) if value else None


class InquiryIn(BaseModel):
    """The public contact form."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    name: str = Field(min_length=1, max_length=200)
    email: EmailStr
    phone: Annotated[str | None, AfterValidator(_phone)] = Field(default=None, max_length=32)
    company: str | None = Field(default=None, max_length=200)
    company_size: CompanySize | None = None
    industry: str | None = Field(default=None, max_length=100)
    website: HttpUrl | None = Field(default=None, max_length=300)
    message: str = Field(min_length=1, max_length=5000)
    source_page: str | None = Field(default=None, max_length=500)
    # A honeypot: the form hides it from people; bots fill it in.
    fax: str | None = Field(default=None, max_length=200, description="leave empty")


class InquiryOut(BaseModel):
    id: uuid.UUID
    status: InquiryStatus
    name: str
    email: str
    phone: str | None
    company: str | None
    company_size: str | None
    industry: str | None
    website: str | None
    message: str
    source_page: str | None
    assignee_id: uuid.UUID | None
    customer_id: uuid.UUID | None
    lost_reason: str | None
    created_at: datetime
    updated_at: datetime
    closed_at: datetime | None


class TimelineEntry(BaseModel):
    at: datetime
    kind: str
    actor: str
    details: dict[str, Any]


class InquiryDetail(InquiryOut):
    run_id: str
    timeline: list[TimelineEntry]


class Assignee(BaseModel):
    """Someone an inquiry can be given to (an owner, manager or sales account)."""

    id: uuid.UUID
    email: str
    role: str


class InquiryQuery(BaseModel):
    status: InquiryStatus | None = None
    assignee_id: uuid.UUID | None = None
    created_after: datetime | None = None
    created_before: datetime | None = None
    limit: int = Field(default=50, ge=1, le=500)
    offset: int = Field(default=0, ge=0, le=100_000)


class InquiryPage(BaseModel):
    items: list[InquiryOut]
    total: int


class InquirySettingsIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    unassigned_reminder_hours: int | None = Field(default=None, ge=1, le=24 * 30)
    reply_escalation_hours: int | None = Field(default=None, ge=1, le=24 * 30)
    nudge_after_days: int | None = Field(default=None, ge=1, le=90)
    lost_after_days: int | None = Field(default=None, ge=1, le=365)
    notify_emails: list[EmailStr] | None = Field(default=None, max_length=20)


class InquirySettingsOut(BaseModel):
    unassigned_reminder_hours: int
    reply_escalation_hours: int
    nudge_after_days: int
    lost_after_days: int
    notify_emails: list[str]
