from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, Field

from herald.journeys.keys import JOURNEY_KEY_PATTERN, STEP_ID_PATTERN

RunStatus = Literal[
    "running", "completed", "failed", "canceled", "terminated", "continued_as_new", "timed_out"
]


class RunQuery(BaseModel):
    type: str | None = Field(default=None, pattern=r"^[A-Za-z][A-Za-z0-9_]{0,99}$")
    customer_id: uuid.UUID | None = None
    status: RunStatus | None = None
    # Journey runs: by journey key, and by the step they are in.
    journey: str | None = Field(default=None, pattern=JOURNEY_KEY_PATTERN)
    step: str | None = Field(default=None, pattern=STEP_ID_PATTERN)
    limit: int = Field(default=50, ge=1, le=500)
    cursor: str | None = None


class RunOut(BaseModel):
    workflow_id: str
    run_id: str
    type: str
    status: RunStatus
    customer_id: uuid.UUID | None
    journey: str | None = None
    step: str | None = None
    start_time: datetime
    close_time: datetime | None


class RunDetail(RunOut):
    result: Any | None = None
    failure: str | None = None
    # A journey run's answer to its progress query: current step and timeline.
    progress: Any | None = None
    temporal_ui_path: str


class RunPage(BaseModel):
    items: list[RunOut]
    next_cursor: str | None


class ExitRequest(BaseModel):
    reason: str = Field(min_length=1, max_length=500)
