from __future__ import annotations

from collections.abc import Callable
from typing import Any

from temporalio import activity

from herald.database import Database
from herald.segments.contracts import (
    SegmentPage,
    SegmentSizeRequest,
    SegmentSweepRequest,
    SweepOutcome,
    TrackedSegment,
)
from herald.segments.membership import sweep_segment, tracked_segments
from herald.segments.service import record_size, segments_after


class SegmentActivities:
    """Segment membership sweeps (who matches; entries and exits as events) and the daily
    record of each segment's size."""

    def __init__(self, db: Database) -> None:
        self._db = db

    def all_activities(self) -> list[Callable[..., Any]]:
        return [
            self.list_tracked_segments,
            self.sweep_tracked_segment,
            self.list_segments_page,
            self.record_segment_size,
        ]

    @activity.defn
    def list_tracked_segments(self) -> list[TrackedSegment]:
        with self._db.system_session() as session:
            return tracked_segments(session)

    @activity.defn
    def sweep_tracked_segment(self, request: SegmentSweepRequest) -> SweepOutcome:
        with self._db.session(request.segment.organization_id) as session:
            return sweep_segment(session, request.segment.segment_id, request.at)

    @activity.defn
    def list_segments_page(self, page: SegmentPage) -> list[TrackedSegment]:
        with self._db.system_session() as session:
            return segments_after(session, page.after, page.limit)

    @activity.defn
    def record_segment_size(self, request: SegmentSizeRequest) -> int | None:
        with self._db.session(request.segment.organization_id) as session:
            return record_size(session, request.segment.segment_id, request.day)
