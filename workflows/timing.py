"""Durable waits shared by the workflows."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta

from temporalio import workflow
from temporalio.common import SearchAttributeKey

# Set by Temporal on every run a schedule starts (also on a trigger or a backfill).
SCHEDULED_START = SearchAttributeKey.for_datetime("TemporalScheduledStartTime")


def scheduled_or_now() -> datetime:
    """The instant a scheduled run stands for (its scheduled time, so a late or backfilled
    run still sweeps its own day), else now."""
    return workflow.info().typed_search_attributes.get(SCHEDULED_START) or workflow.now()


async def changed_before(due: datetime, state: Callable[[], object]) -> bool:
    """Sleep until ``due`` (a durable timer) unless ``state()`` changes first, e.g. through a
    signal or an update. True if it changed; False once ``due`` has come."""
    seen = state()
    wait = due - workflow.now()
    if wait <= timedelta(0):
        return False
    try:
        await workflow.wait_condition(lambda: state() != seen, timeout=wait)
    except TimeoutError:
        return False
    return True
