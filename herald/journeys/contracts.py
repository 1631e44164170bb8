"""Journey runs' Temporal contract: the names starters and the worker agree on, the run's id and
its message intents, and every payload and state JourneyRun and its activities exchange. A run
in flight depends on these: rename nothing, and give new fields defaults."""

from __future__ import annotations

import enum
import uuid
from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel

from herald.journeys.definition import JourneyDefinition
from herald.segments.rules import Rule
from herald.temporal import LegacyId, tenant_workflow_id

JOURNEY_WORKFLOW = "JourneyRun"
# Events reach a running journey as this signal (or with its start).
EVENT_SIGNAL = "event"
PROGRESS_QUERY = "progress"
EXIT_UPDATE = "exit"
SKIP_WAIT_UPDATE = "skip_wait"
MIGRATE_UPDATE = "migrate"
# Where a run stands, in its progress query.
RunState = Literal["entering", "active", "completed", "exited", "not_entered"]

# Runs started before the one id scheme were "journey/<organization>/<key>/<customer>".
LEGACY_PREFIX = "journey/"


def journey_workflow_id(organization_id: uuid.UUID, key: str, customer_id: uuid.UUID) -> str:
    """One id per journey and customer: never two runs at once; entry rules decide re-entry."""
    return tenant_workflow_id(JOURNEY_WORKFLOW, organization_id, key, customer_id)


def legacy_journey_id(organization_id: uuid.UUID, key: str, customer_id: uuid.UUID) -> LegacyId:
    """The same run's id under the retired scheme: events reach such a run until it ends."""
    return LegacyId(f"{LEGACY_PREFIX}{organization_id}/{key}/{customer_id}", LEGACY_PREFIX)


class JourneyEvent(BaseModel):
    """An event as a run sees it: a signal, or the one that started the run."""

    id: uuid.UUID
    type: str
    properties: dict[str, Any] = {}
    occurred_at: datetime


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


class JourneyRunInput(BaseModel):
    organization_id: uuid.UUID
    journey_id: uuid.UUID
    journey_key: str
    customer_id: uuid.UUID
    trigger: JourneyEvent | None = None
    # Set when the run continues as new: where it was, so it picks up there.
    resume: ResumeState | None = None


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
    # The trigger's properties as the run holds them (those its journey compares); with its
    # id, the send reads all of them from the stored event. Runs started before carry them all.
    event: dict[str, Any]
    workflow_time: datetime
    event_id: uuid.UUID | None = None


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


class EnrollmentStatus(enum.StrEnum):
    active = "active"
    completed = "completed"  # reached the end of a path
    exited = "exited"  # an exit step, an exit event, a conversion, or by hand


def message_intent(key: str, enrollment_id: uuid.UUID | None, step_id: str, visit: int) -> str:
    """What makes a journey step's send (or award) happen once: journey, enrollment, step, visit."""
    return f"{intent_prefix(key)}{enrollment_id}/{step_id}/{visit}"


def intent_prefix(key: str) -> str:
    """Every intent of one journey starts so."""
    return f"journey/{key}/"


def intent_step(intent: str) -> str:
    return intent.split("/")[3]


def journey_of_intent(intent: str) -> tuple[str, str] | None:
    """The journey key and step id of a journey step's intent, else None."""
    parts = intent.split("/")
    if parts[0] != "journey" or len(parts) != 5:
        return None
    return parts[1], parts[3]
