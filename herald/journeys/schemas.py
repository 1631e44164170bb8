"""API shapes for journeys, and what the JourneyRun workflow and its activities exchange."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, Field

from herald.journeys.contracts import JOURNEY_KEY_PATTERN
from herald.journeys.definition import JourneyDefinition
from herald.journeys.models import EnrollmentStatus, JourneyStatus
from herald.segments.rules import Rule


class JourneyCreate(BaseModel):
    key: str = Field(pattern=JOURNEY_KEY_PATTERN)
    definition: JourneyDefinition


class JourneyUpdate(BaseModel):
    definition: JourneyDefinition


class JourneyVersionOut(BaseModel):
    version: int
    published_at: datetime


class JourneyOut(BaseModel):
    id: uuid.UUID
    key: str
    name: str
    status: JourneyStatus
    current_version: int | None
    draft: dict[str, Any]
    # Whether the draft differs from the current version (publishing would make a new one).
    unpublished_changes: bool
    versions: list[JourneyVersionOut]
    created_at: datetime
    updated_at: datetime


class EnrollRequest(BaseModel):
    customer_id: uuid.UUID
    # Properties the journey's templates see as ``event``.
    properties: dict[str, Any] = {}


class JourneyStats(BaseModel):
    entered: int
    active: int
    completed: int
    exited: int
    converted: int
    # Runs waiting or working in each step right now (from Temporal's visibility).
    active_per_step: dict[str, int] = {}
    # Messages that went out, by the step that sent them.
    messages_per_step: dict[str, int]


# -- the workflow's side ------------------------------------------------------------------------


class JourneyEvent(BaseModel):
    """An event as a run sees it: a signal, or the one that started the run."""

    id: uuid.UUID
    type: str
    properties: dict[str, Any] = {}
    occurred_at: datetime


class JourneyRunInput(BaseModel):
    organization_id: uuid.UUID
    journey_id: uuid.UUID
    journey_key: str
    customer_id: uuid.UUID
    trigger: JourneyEvent | None = None
    # Set when the run continues as new: where it was, so it picks up there.
    resume: ResumeState | None = None


class TimelineEntry(BaseModel):
    at: datetime
    step: str | None
    what: str


class ResumeState(BaseModel):
    enrollment_id: uuid.UUID
    version: int
    definition: JourneyDefinition
    entered_at: datetime
    step: str
    visits: dict[str, int]
    timeline: list[TimelineEntry]
    # Events already taken in (dispatch may deliver one twice).
    seen: list[uuid.UUID]
    converted_at: datetime | None


class EnterRequest(BaseModel):
    organization_id: uuid.UUID
    journey_id: uuid.UUID
    customer_id: uuid.UUID
    workflow_id: str
    run_id: str
    at: datetime


class Entered(BaseModel):
    enrollment_id: uuid.UUID | None = None  # None: not entered, see reason
    reason: str | None = None
    version: int = 0
    definition: JourneyDefinition | None = None


class FinishRequest(BaseModel):
    organization_id: uuid.UUID
    enrollment_id: uuid.UUID
    status: EnrollmentStatus
    reason: str | None
    at: datetime
    converted_at: datetime | None


class SendRequest(BaseModel):
    organization_id: uuid.UUID
    journey_id: uuid.UUID
    customer_id: uuid.UUID
    template: str
    # Unique per enrollment, step and visit: the message's intent.
    idempotency_key: str
    event: dict[str, Any]
    workflow_time: datetime


class SendResult(BaseModel):
    status: str
    reason: str | None = None
    message_id: uuid.UUID | None = None
    # Quiet hours, or the journey is paused: try again then.
    retry_at: datetime | None = None


class VersionRequest(BaseModel):
    organization_id: uuid.UUID
    journey_id: uuid.UUID
    version: int


class MigrateRequest(BaseModel):
    # The version to move waiting runs to; the current one if omitted.
    version: int | None = Field(default=None, ge=1)


class MigrateOutcome(BaseModel):
    version: int
    migrated: int
    # Runs that stayed where they were, and why (their step is gone or changed shape).
    refused: dict[str, str]


class ConditionRequest(BaseModel):
    organization_id: uuid.UUID
    customer_id: uuid.UUID
    condition: Rule
    at: datetime


class WaitRequest(BaseModel):
    organization_id: uuid.UUID
    customer_id: uuid.UUID
    after: datetime
    until_time: str | None = None  # HH:MM:SS in the customer's time zone
    until_attribute: str | None = None
    offset_s: float = 0


class ProfileUpdate(BaseModel):
    organization_id: uuid.UUID
    customer_id: uuid.UUID
    add_tags: list[str]
    remove_tags: list[str]
    set_attributes: dict[str, Any]


class PointsRequest(BaseModel):
    organization_id: uuid.UUID
    customer_id: uuid.UUID
    points: int
    reason: str
    source_id: str


class WebhookRequest(BaseModel):
    url: str
    body: dict[str, Any]


class RateSlotRequest(BaseModel):
    organization_id: uuid.UUID
    journey_id: uuid.UUID
    step_id: str
    max_customers: int
    period_s: float
    at: datetime


RunState = Literal["entering", "active", "completed", "exited", "not_entered"]


class JourneyProgress(BaseModel):
    """What the run's query answers: where the customer is and what happened so far."""

    journey: str
    version: int
    step: str | None
    status: RunState
    waiting_until: datetime | None
    converted_at: datetime | None
    timeline: list[TimelineEntry]


class JourneyRunResult(BaseModel):
    status: Literal["completed", "exited", "not_entered"]
    reason: str | None
    version: int
    converted: bool


JourneyRunInput.model_rebuild()
