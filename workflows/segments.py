"""``SegmentSweep``: every few minutes (a Temporal Schedule), each tracked segment's entries
and exits since the last sweep become events."""

from __future__ import annotations

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from activities.segments import SegmentActivities
    from herald.segments.contracts import (
        SEGMENT_SWEEP_WORKFLOW,
        SegmentSweepInput,
        SegmentSweepOutcome,
        SegmentSweepRequest,
    )
    from workflows.policies import DB_RETRY, DB_TIMEOUT, SWEEP_TIMEOUT
    from workflows.timing import scheduled_or_now


@workflow.defn(name=SEGMENT_SWEEP_WORKFLOW)
class SegmentSweep:
    @workflow.run
    async def run(self, sweep: SegmentSweepInput) -> SegmentSweepOutcome:
        at = sweep.at or scheduled_or_now()
        segments = await workflow.execute_activity_method(
            SegmentActivities.list_tracked_segments,
            start_to_close_timeout=DB_TIMEOUT,
            retry_policy=DB_RETRY,
        )
        total = SegmentSweepOutcome(segments=len(segments), entered=0, exited=0)
        for segment in segments:
            outcome = await workflow.execute_activity_method(
                SegmentActivities.sweep_tracked_segment,
                SegmentSweepRequest(segment=segment, at=at),
                start_to_close_timeout=SWEEP_TIMEOUT,
                summary=f"segment {segment.segment_id}",
                retry_policy=DB_RETRY,
            )
            total.entered += outcome.entered
            total.exited += outcome.exited
        return total
