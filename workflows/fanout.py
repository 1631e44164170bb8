"""How sweeps start their runs: each one a child abandoned to finish on its own (the sweep
holds up none of them, and a large one holds up no other), a bounded number at a time, one
still running or already done under its id counted as not started."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, TypeVar

from temporalio import workflow
from temporalio.common import TypedSearchAttributes, WorkflowIDReusePolicy
from temporalio.exceptions import WorkflowAlreadyStartedError

with workflow.unsafe.imports_passed_through():
    from herald.temporal import tenant_priority

Item = TypeVar("Item")


async def start_each(
    items: Sequence[Item], start: Callable[[Item], Awaitable[int]], concurrency: int
) -> int:
    """``start`` for every item, ``concurrency`` at once; how many started."""
    started = 0
    for first in range(0, len(items), concurrency):
        chunk = items[first : first + concurrency]
        started += sum(await asyncio.gather(*(start(item) for item in chunk)))
    return started


async def start_abandoned(
    run: Any,
    arg: Any,
    *,
    workflow_id: str,
    id_reuse_policy: WorkflowIDReusePolicy,
    search_attributes: TypedSearchAttributes,
    summary: str,
    organization_id: uuid.UUID,
) -> int:
    """1 if the child started, 0 if its id names a run still going (or, rejecting
    duplicates, one already done). Queued under its own organization."""
    try:
        await workflow.start_child_workflow(
            run,
            arg,
            id=workflow_id,
            id_reuse_policy=id_reuse_policy,
            parent_close_policy=workflow.ParentClosePolicy.ABANDON,
            search_attributes=search_attributes,
            static_summary=summary,
            priority=tenant_priority(organization_id),
        )
    except WorkflowAlreadyStartedError:
        return 0
    return 1
