"""Segment sweeps' Temporal names: what the schedule and the worker agree on."""

from __future__ import annotations

SEGMENT_SWEEP_WORKFLOW = "SegmentSweep"
