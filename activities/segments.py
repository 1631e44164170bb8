from __future__ import annotations

from collections.abc import Callable
from typing import Any

from temporalio import activity

from herald.database import Database
from herald.segments.contracts import SegmentSweepRequest, SweepOutcome, TrackedSegment
from herald.segments.membership import sweep_segment, tracked_segments


class SegmentActivities:
    """Segment membership sweeps: read who matches, record entries and exits as events."""

    def __init__(self, db: Database) -> None:
        self._db = db

    def all_activities(self) -> list[Callable[..., Any]]:
        return [self.list_tracked_segments, self.sweep_tracked_segment]

    @activity.defn
    def list_tracked_segments(self) -> list[TrackedSegment]:
        with self._db.system_session() as session:
            return tracked_segments(session)

    @activity.defn
    def sweep_tracked_segment(self, request: SegmentSweepRequest) -> SweepOutcome:
        with self._db.session(request.segment.organization_id) as session:
            return sweep_segment(session, request.segment.segment_id, request.at)
