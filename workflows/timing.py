"""Durable waits shared by the workflows."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta

from temporalio import workflow


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
