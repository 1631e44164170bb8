from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, Field

RunStatus = Literal[
    "running", "completed", "failed", "canceled", "terminated", "continued_as_new", "timed_out"
]


class RunQuery(BaseModel):
    type: str | None = Field(default=None, pattern=r"^[A-Za-z][A-Za-z0-9_]{0,99}$")
    customer_id: uuid.UUID | None = None
    status: RunStatus | None = None
    limit: int = Field(default=50, ge=1, le=500)
    cursor: str | None = None


class RunOut(BaseModel):
    workflow_id: str
    run_id: str
    type: str
    status: RunStatus
    customer_id: uuid.UUID | None
    start_time: datetime
    close_time: datetime | None


class RunDetail(RunOut):
    result: Any | None = None
    failure: str | None = None
    temporal_ui_path: str


class RunPage(BaseModel):
    items: list[RunOut]
    next_cursor: str | None
