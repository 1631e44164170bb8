"""Segment sweeps' Temporal contract: the name the schedule and the worker agree on, and the
payloads the SegmentSweep run and its activities exchange."""

from __future__ import annotations

import uuid
from datetime import date, datetime

from pydantic import BaseModel

SEGMENT_SWEEP_WORKFLOW = "SegmentSweep"


class SegmentSweepInput(BaseModel):
    """What the schedule starts; ``at`` fixes the sweep's instant when started by hand."""

    at: datetime | None = None


class TrackedSegment(BaseModel):
    organization_id: uuid.UUID
    segment_id: uuid.UUID


class SweepOutcome(BaseModel):
    entered: int
    exited: int
    baseline: bool


class SegmentSweepRequest(BaseModel):
    segment: TrackedSegment
    at: datetime


class SegmentSweepOutcome(BaseModel):
    segments: int
    entered: int
    exited: int
    # Segments that could not be swept (one naming a segment since deleted): the sweep goes on.
    skipped: int = 0


SEGMENT_SIZES_WORKFLOW = "SegmentSizeRecord"


class SegmentSizesInput(BaseModel):
    """What the daily schedule starts: the day to record (default: the scheduled day), and
    where a run continued as new goes on from."""

    day: date | None = None
    after: uuid.UUID | None = None
    recorded: int = 0
    skipped: int = 0


class SegmentPage(BaseModel):
    """Saved segments of every organization after ``after``, by id."""

    after: uuid.UUID | None
    limit: int


class SegmentSizeRequest(BaseModel):
    segment: TrackedSegment
    day: date


class SegmentSizesOutcome(BaseModel):
    day: date
    recorded: int
    # Segments that could not be counted (one naming a segment since deleted): the run goes on.
    skipped: int = 0
