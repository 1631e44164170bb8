"""The daily Temporal Schedule that starts the birthday sweep; the worker keeps it in place."""

from __future__ import annotations

from datetime import timedelta

from temporalio.client import (
    Client,
    Schedule,
    ScheduleActionStartWorkflow,
    ScheduleAlreadyRunningError,
    ScheduleCalendarSpec,
    ScheduleOverlapPolicy,
    SchedulePolicy,
    ScheduleRange,
    ScheduleSpec,
    ScheduleUpdate,
    ScheduleUpdateInput,
)

from herald.loyalty.birthdays import SWEEP_WORKFLOW
from herald.loyalty.schemas import BirthdaySweepInput

# 12:00 UTC: mid-morning in the Americas, afternoon in Europe, evening in Asia. Each customer
# is rewarded when the date in their own time zone is their birthday at that instant.
SWEEP_HOUR_UTC = 12


def birthday_schedule_id(task_queue: str) -> str:
    return f"{SWEEP_WORKFLOW}/{task_queue}"


def birthday_schedule(task_queue: str) -> Schedule:
    return Schedule(
        action=ScheduleActionStartWorkflow(
            SWEEP_WORKFLOW,
            BirthdaySweepInput(),
            # Temporal adds the scheduled time to the id: one run per day.
            id=f"{SWEEP_WORKFLOW}/{task_queue}",
            task_queue=task_queue,
        ),
        spec=ScheduleSpec(calendars=[ScheduleCalendarSpec(hour=[ScheduleRange(SWEEP_HOUR_UTC)])]),
        policy=SchedulePolicy(
            # A trigger while a sweep runs waits for it; the second finds nothing left to do.
            overlap=ScheduleOverlapPolicy.BUFFER_ONE,
            # After an outage the missed day is still swept (its birthdays use their own date).
            catchup_window=timedelta(days=1),
        ),
    )


async def ensure_birthday_schedule(client: Client, task_queue: str) -> None:
    """Create the schedule, or bring an existing one up to this version's definition."""
    schedule = birthday_schedule(task_queue)
    try:
        await client.create_schedule(birthday_schedule_id(task_queue), schedule)
    except ScheduleAlreadyRunningError:

        def replace(current: ScheduleUpdateInput) -> ScheduleUpdate:
            schedule.state = current.description.schedule.state  # an operator's pause stays
            return ScheduleUpdate(schedule=schedule)

        await client.get_schedule_handle(birthday_schedule_id(task_queue)).update(replace)
