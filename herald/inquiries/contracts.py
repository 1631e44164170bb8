"""Inquiry follow-ups' Temporal contract: the names starters and the worker agree on, the
transitions the API asks of a run (its updates' arguments), and the payloads and state the run
and its activities exchange. A run in flight depends on these: rename nothing, and give new
fields defaults."""

from __future__ import annotations

import enum
import uuid
from datetime import datetime, timedelta
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, model_validator

from herald.messaging.contracts import MessageStatus

FOLLOW_UP_WORKFLOW = "InquiryFollowUp"
STATE_QUERY = "state"
# One update per transition, named as the transition.
ASSIGN_UPDATE = "assign"
REPLY_UPDATE = "reply"
LEAD_RESPONSE_UPDATE = "lead_response"
CONVERT_UPDATE = "convert"
LOSE_UPDATE = "lose"
TRANSITION_UPDATES = (
    ASSIGN_UPDATE,
    REPLY_UPDATE,
    LEAD_RESPONSE_UPDATE,
    CONVERT_UPDATE,
    LOSE_UPDATE,
)


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


class InquiryStatus(enum.StrEnum):
    new = "new"  # nobody has taken it yet
    assigned = "assigned"  # someone owns it and owes the lead an answer
    replied = "replied"  # the lead has our answer; the ball is in their court
    converted = "converted"
    lost = "lost"


CLOSED = frozenset({InquiryStatus.converted, InquiryStatus.lost})
