from __future__ import annotations

import enum
import uuid
from datetime import datetime, timedelta
from typing import Annotated, Any

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    EmailStr,
    Field,
    HttpUrl,
    model_validator,
)

from herald.customers.schemas import to_e164
from herald.inquiries.contracts import TRANSITION_UPDATES
from herald.inquiries.models import InquiryStatus
from herald.messaging.contracts import MessageStatus


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


class InquiryQuery(BaseModel):
    status: InquiryStatus | None = None
    assignee_id: uuid.UUID | None = None
    created_after: datetime | None = None
    created_before: datetime | None = None
    limit: int = Field(default=50, ge=1, le=500)
    offset: int = Field(default=0, ge=0)


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


# -- what the API asks of a follow-up run (Temporal updates) ------------------------------------


class AssignIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    assignee_id: uuid.UUID


class ReplyIn(BaseModel):
    """An email to the lead, written by the person working the inquiry."""

    model_config = ConfigDict(extra="forbid")

    subject: str = Field(min_length=1, max_length=200)
    body: str = Field(min_length=1, max_length=20_000)


class LeadResponseIn(BaseModel):
    """The lead answered (by phone, by mail to the salesperson): the ball is back with sales."""

    model_config = ConfigDict(extra="forbid")

    note: str | None = Field(default=None, max_length=2000)


class ConvertIn(BaseModel):
    """Won. Link an existing customer profile, or create one from the inquiry's contact."""

    model_config = ConfigDict(extra="forbid")

    customer_id: uuid.UUID | None = None
    create_customer: bool = False
    note: str | None = Field(default=None, max_length=2000)


class LoseIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reason: str = Field(min_length=1, max_length=500)


class Transition(BaseModel):
    """An update's argument: what was asked and by whom (an API key id)."""

    actor: str
    assign: AssignIn | None = None
    reply: ReplyIn | None = None
    lead_response: LeadResponseIn | None = None
    convert: ConvertIn | None = None
    lose: LoseIn | None = None

    @model_validator(mode="after")
    def _one_change(self) -> Transition:
        if len(self._changes()) != 1:
            raise ValueError("a transition asks for exactly one change")
        return self

    def _changes(self) -> list[str]:
        return [name for name in TRANSITION_UPDATES if getattr(self, name) is not None]

    def name(self) -> str:
        """The follow-up run's update for this change."""
        return self._changes()[0]


# -- the follow-up run and its activities ------------------------------------------------------


class FollowUpTimers(BaseModel):
    unassigned_reminder: timedelta
    reply_escalation: timedelta
    nudge_after: timedelta
    lost_after: timedelta


class FollowUpInput(BaseModel):
    organization_id: uuid.UUID
    inquiry_id: uuid.UUID
    received_at: datetime
    timers: FollowUpTimers


class FollowUpState(BaseModel):
    """What the run knows; the answer of its query and of every update."""

    status: InquiryStatus
    assignee_id: uuid.UUID | None = None
    # When the ball last came to sales (assignment, or the lead's answer) and to the lead.
    sales_owes_since: datetime | None = None
    lead_owes_since: datetime | None = None
    reminded: bool = False
    escalated: bool = False
    nudged: bool = False
    customer_id: uuid.UUID | None = None
    lost_reason: str | None = None
    next_timer: str | None = None
    next_timer_at: datetime | None = None


class Recorded(BaseModel):
    """A state change for the inquiry row and its timeline, written once under ``key``."""

    organization_id: uuid.UUID
    inquiry_id: uuid.UUID
    key: str
    at: datetime
    kind: str
    actor: str
    state: FollowUpState
    details: dict[str, Any] = {}


class EmailKind(enum.StrEnum):
    new_inquiry = "new_inquiry"  # to sales and owners
    unassigned = "unassigned"  # reminder to owners
    no_reply = "no_reply"  # escalation to owners and the assignee
    nudge = "nudge"  # to the lead
    reply = "reply"  # to the lead


class EmailRequest(BaseModel):
    organization_id: uuid.UUID
    inquiry_id: uuid.UUID
    kind: EmailKind
    # Unique per intent: the update's id for a reply, the timer's name otherwise.
    intent: str
    assignee_id: uuid.UUID | None = None
    reply: ReplyIn | None = None
    # How long the lead has waited, for reminders and escalations.
    waited: timedelta | None = None
    workflow_time: datetime | None = None


class SentEmail(BaseModel):
    message_id: uuid.UUID
    to: str
    status: MessageStatus
    reason: str | None = None


class ConvertRequest(BaseModel):
    organization_id: uuid.UUID
    inquiry_id: uuid.UUID
    convert: ConvertIn


class FollowUpOutcome(BaseModel):
    status: InquiryStatus
    customer_id: uuid.UUID | None = None
    lost_reason: str | None = None
