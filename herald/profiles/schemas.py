from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, Field

TimelineKind = Literal["message", "event", "note", "inquiry", "loyalty", "activity"]


class TimelineItem(BaseModel):
    """One thing that happened to a customer, from whichever record holds it."""

    at: datetime
    kind: TimelineKind
    id: uuid.UUID = Field(description="the id of the message, event, note... it stands for")
    summary: str
    details: dict[str, Any]


class CustomerSegment(BaseModel):
    id: uuid.UUID
    key: str
    name: str
