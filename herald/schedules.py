"""Herald's Temporal Schedules: the daily sweeps (birthday rewards, points expiry, segment
sizes) and the segment membership sweep every few minutes. Every worker puts them in place when
it starts."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from pydantic import BaseModel
from temporalio.client import (
    Client,
    Schedule,
    ScheduleActionStartWorkflow,
    ScheduleAlreadyRunningError,
    ScheduleCalendarSpec,
    ScheduleIntervalSpec,
    ScheduleOverlapPolicy,
    SchedulePolicy,
    ScheduleRange,
    ScheduleSpec,
    ScheduleUpdate,
    ScheduleUpdateInput,
)

from herald.analytics.contracts import ANALYTICS_SWEEP_WORKFLOW, AnalyticsSweepInput
from herald.loyalty.contracts import (
    BIRTHDAY_SWEEP_WORKFLOW,
    EXPIRY_SWEEP_WORKFLOW,
    BirthdaySweepInput,
    ExpirySweepInput,
)
from herald.predictions.contracts import PREDICTIONS_SWEEP_WORKFLOW, PredictionsSweepInput
from herald.segments.contracts import (
    SEGMENT_SIZES_WORKFLOW,
    SEGMENT_SWEEP_WORKFLOW,
    SegmentSizesInput,
    SegmentSweepInput,
)

# 12:00 UTC: mid-morning in the Americas, afternoon in Europe, evening in Asia. Each customer
# is rewarded when the date in their own time zone is their birthday at that instant.
SWEEP_HOUR_UTC = 12
# Expiry runs at night in Europe, away from the birthday sweep.
EXPIRY_HOUR_UTC = 2
# Segment sizes are counted at night in the Americas and Europe, after the expiry sweep.
SEGMENT_SIZES_HOUR_UTC = 3
# Predictions are refitted at night everywhere but the Pacific, after the segment sizes.
PREDICTIONS_HOUR_UTC = 4
# Segment entries and exits become events this often (journeys start and wake on them).
SEGMENT_SWEEP_EVERY = timedelta(minutes=5)
# Analytics rollups catch up with new orders and messages this often.
ANALYTICS_SWEEP_EVERY = timedelta(minutes=5)


def _daily(hour: int) -> ScheduleSpec:
    return ScheduleSpec(calendars=[ScheduleCalendarSpec(hour=[ScheduleRange(hour)])])


@dataclass(frozen=True)
class Sweep:
    """A cross-tenant run Temporal starts on a schedule."""

    workflow: str
    arg: BaseModel
    spec: ScheduleSpec
    # How far back a missed run is still made up after an outage.
    catchup: timedelta
    # What each run is, in the Temporal UI's list.
    summary: str


SCHEDULES: list[Sweep] = [
    Sweep(
        BIRTHDAY_SWEEP_WORKFLOW,
        BirthdaySweepInput(),
        _daily(SWEEP_HOUR_UTC),
        timedelta(days=1),
        "Daily birthday sweep: a reward run for everyone whose birthday it is where they live",
    ),
    Sweep(
        EXPIRY_SWEEP_WORKFLOW,
        ExpirySweepInput(),
        _daily(EXPIRY_HOUR_UTC),
        timedelta(days=1),
        "Daily points expiry: oldest points first, with a notice before they go",
    ),
    Sweep(
        SEGMENT_SWEEP_WORKFLOW,
        SegmentSweepInput(),
        ScheduleSpec(intervals=[ScheduleIntervalSpec(every=SEGMENT_SWEEP_EVERY)]),
        SEGMENT_SWEEP_EVERY,
        "Segment sweep: entries and exits of tracked segments become events",
    ),
    Sweep(
        SEGMENT_SIZES_WORKFLOW,
        SegmentSizesInput(),
        _daily(SEGMENT_SIZES_HOUR_UTC),
        timedelta(days=1),
        "Daily segment sizes: each saved segment's member count, kept for its size over time",
    ),
    Sweep(
        ANALYTICS_SWEEP_WORKFLOW,
        AnalyticsSweepInput(),
        ScheduleSpec(intervals=[ScheduleIntervalSpec(every=ANALYTICS_SWEEP_EVERY)]),
        ANALYTICS_SWEEP_EVERY,
        "Analytics sweep: each organization with new orders or messages gets its rollups updated",
    ),
    Sweep(
        PREDICTIONS_SWEEP_WORKFLOW,
        PredictionsSweepInput(),
        _daily(PREDICTIONS_HOUR_UTC),
        timedelta(days=1),
        "Daily predictions: lifetime value and churn risk refitted, recommendations relearned",
    ),
]


def schedule_id(workflow: str, task_queue: str) -> str:
    return f"{workflow}/{task_queue}"


def birthday_schedule_id(task_queue: str) -> str:
    return schedule_id(BIRTHDAY_SWEEP_WORKFLOW, task_queue)


def segment_sweep_schedule_id(task_queue: str) -> str:
    return schedule_id(SEGMENT_SWEEP_WORKFLOW, task_queue)


def segment_sizes_schedule_id(task_queue: str) -> str:
    return schedule_id(SEGMENT_SIZES_WORKFLOW, task_queue)


def _schedule(sweep: Sweep, task_queue: str) -> Schedule:
    return Schedule(
        action=ScheduleActionStartWorkflow(
            sweep.workflow,
            sweep.arg,
            # Temporal adds the scheduled time to the id: one run per tick.
            id=schedule_id(sweep.workflow, task_queue),
            task_queue=task_queue,
            static_summary=sweep.summary,
        ),
        spec=sweep.spec,
        policy=SchedulePolicy(
            # A trigger while a sweep runs waits for it; the second finds nothing left to do.
            overlap=ScheduleOverlapPolicy.BUFFER_ONE,
            # After an outage the missed run is still made (it uses its scheduled time).
            catchup_window=sweep.catchup,
        ),
    )


async def ensure_schedules(client: Client, task_queue: str) -> None:
    """Create each schedule, or bring an existing one up to this version's definition."""
    for sweep in SCHEDULES:
        schedule = _schedule(sweep, task_queue)
        sid = schedule_id(sweep.workflow, task_queue)
        try:
            await client.create_schedule(sid, schedule)
        except ScheduleAlreadyRunningError:

            def replace(current: ScheduleUpdateInput, new: Schedule = schedule) -> ScheduleUpdate:
                new.state = current.description.schedule.state  # an operator's pause stays
                return ScheduleUpdate(schedule=new)

            await client.get_schedule_handle(sid).update(replace)
