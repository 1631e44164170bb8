"""Segment sweeps' Temporal contract: the name the schedule and the worker agree on, and the
payloads the SegmentSweep run and its activities exchange."""

from __future__ import annotations

import uuid
from datetime import datetime

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
