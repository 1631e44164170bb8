"""The loyalty program's daily Temporal Schedules (birthday rewards, points expiry); every
worker puts them in place when it starts."""

from __future__ import annotations

from datetime import timedelta

from pydantic import BaseModel
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

from herald.loyalty import birthdays, expiry
from herald.loyalty.schemas import BirthdaySweepInput, ExpirySweepInput

# 12:00 UTC: mid-morning in the Americas, afternoon in Europe, evening in Asia. Each customer
# is rewarded when the date in their own time zone is their birthday at that instant.
SWEEP_HOUR_UTC = 12
# Expiry runs at night in Europe, away from the birthday sweep.
EXPIRY_HOUR_UTC = 2
# (workflow, its input, hour of day in UTC)
DAILY: list[tuple[str, BaseModel, int]] = [
    (birthdays.SWEEP_WORKFLOW, BirthdaySweepInput(), SWEEP_HOUR_UTC),
    (expiry.SWEEP_WORKFLOW, ExpirySweepInput(), EXPIRY_HOUR_UTC),
]


def daily_schedule_id(workflow: str, task_queue: str) -> str:
    return f"{workflow}/{task_queue}"


def birthday_schedule_id(task_queue: str) -> str:
    return daily_schedule_id(birthdays.SWEEP_WORKFLOW, task_queue)


def daily_schedule(workflow: str, arg: BaseModel, hour: int, task_queue: str) -> Schedule:
    return Schedule(
        action=ScheduleActionStartWorkflow(
            workflow,
            arg,
            # Temporal adds the scheduled time to the id: one run per day.
            id=daily_schedule_id(workflow, task_queue),
            task_queue=task_queue,
        ),
        spec=ScheduleSpec(calendars=[ScheduleCalendarSpec(hour=[ScheduleRange(hour)])]),
        policy=SchedulePolicy(
            # A trigger while a sweep runs waits for it; the second finds nothing left to do.
            overlap=ScheduleOverlapPolicy.BUFFER_ONE,
            # After an outage the missed day is still swept (it uses its scheduled time).
            catchup_window=timedelta(days=1),
        ),
    )


async def ensure_daily_schedules(client: Client, task_queue: str) -> None:
    """Create each schedule, or bring an existing one up to this version's definition."""
    for workflow, arg, hour in DAILY:
        schedule = daily_schedule(workflow, arg, hour, task_queue)
        schedule_id = daily_schedule_id(workflow, task_queue)
        try:
            await client.create_schedule(schedule_id, schedule)
        except ScheduleAlreadyRunningError:

            def replace(current: ScheduleUpdateInput, new: Schedule = schedule) -> ScheduleUpdate:
                new.state = current.description.schedule.state  # an operator's pause stays
                return ScheduleUpdate(schedule=new)

            await client.get_schedule_handle(schedule_id).update(replace)
