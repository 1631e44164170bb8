"""``SegmentSweep``: every few minutes (a Temporal Schedule), each tracked segment's entries
and exits since the last sweep become events. ``SegmentSizeRecord``: once a day, each saved
segment's size is counted and kept."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any, TypeVar

from temporalio import workflow
from temporalio.exceptions import ActivityError

with workflow.unsafe.imports_passed_through():
    from activities.segments import SegmentActivities
    from herald.segments.contracts import (
        SEGMENT_SIZES_WORKFLOW,
        SEGMENT_SWEEP_WORKFLOW,
        SegmentPage,
        SegmentSizeRequest,
        SegmentSizesInput,
        SegmentSizesOutcome,
        SegmentSweepInput,
        SegmentSweepOutcome,
        SegmentSweepRequest,
    )
    from workflows.policies import DB_RETRY, DB_TIMEOUT, SEGMENT_COUNT_RETRY, SWEEP_TIMEOUT
    from workflows.timing import scheduled_or_now


Request = TypeVar("Request")
Result = TypeVar("Result")


class PassedOver:
    """What ``_for_one_segment`` answers for a segment whose activity failed."""


async def _for_one_segment(
    activity: Callable[[Any, Request], Result], request: Request, segment_id: uuid.UUID
) -> Result | PassedOver:
    """One segment's activity, and its result. A segment that still fails after its
    retries (a rule the database refuses, a segment it names since deleted) is logged and
    passed over: one organization's segment never holds up the others'."""
    try:
        result = await workflow.execute_activity_method(
            activity,
            request,
            start_to_close_timeout=SWEEP_TIMEOUT,
            summary=f"segment {segment_id}",
            retry_policy=SEGMENT_COUNT_RETRY,
        )
    except ActivityError as failure:
        workflow.logger.warning("segment %s passed over: %s", segment_id, failure.cause)
        return PassedOver()
    return result


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
            outcome = await _for_one_segment(
                SegmentActivities.sweep_tracked_segment,
                SegmentSweepRequest(segment=segment, at=at),
                segment.segment_id,
            )
            if isinstance(outcome, PassedOver):
                total.skipped += 1
                continue
            total.entered += outcome.entered
            total.exited += outcome.exited
        return total


# Segments counted per run: the run continues as new after each page, its history short.
SIZE_PAGE = 200


@workflow.defn(name=SEGMENT_SIZES_WORKFLOW)
class SegmentSizeRecord:
    @workflow.run
    async def run(self, record: SegmentSizesInput) -> SegmentSizesOutcome:
        day = record.day or scheduled_or_now().date()
        page = await workflow.execute_activity_method(
            SegmentActivities.list_segments_page,
            SegmentPage(after=record.after, limit=SIZE_PAGE),
            start_to_close_timeout=DB_TIMEOUT,
            retry_policy=DB_RETRY,
        )
        recorded, skipped = record.recorded, record.skipped
        for segment in page:
            size = await _for_one_segment(
                SegmentActivities.record_segment_size,
                SegmentSizeRequest(segment=segment, day=day),
                segment.segment_id,
            )
            if isinstance(size, PassedOver):
                skipped += 1
                continue
            recorded += size is not None
        if len(page) == SIZE_PAGE:
            workflow.continue_as_new(
                SegmentSizesInput(
                    day=day, after=page[-1].segment_id, recorded=recorded, skipped=skipped
                )
            )
        return SegmentSizesOutcome(day=day, recorded=recorded, skipped=skipped)
