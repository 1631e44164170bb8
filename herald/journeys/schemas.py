"""API shapes for journeys (what JourneyRun and its activities exchange is in ``contracts``)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from pydantic import BaseModel, Field

from herald.journeys.definition import JourneyDefinition
from herald.journeys.keys import JOURNEY_KEY_PATTERN
from herald.journeys.models import JourneyStatus


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


class MigrateRequest(BaseModel):
    # The version to move waiting runs to; the current one if omitted.
    version: int | None = Field(default=None, ge=1, le=1_000_000)


class MigrateOutcome(BaseModel):
    version: int
    migrated: int
    # Runs that stayed where they were, and why (their step is gone or changed shape).
    refused: dict[str, str]
