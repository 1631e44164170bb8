"""Analytics use cases that reach past one session: a rollup run started on demand."""

from __future__ import annotations

import uuid

from herald.analytics.contracts import (
    ANALYTICS_ROLLUP_WORKFLOW,
    AnalyticsRollupInput,
    rollup_workflow_id,
)
from herald.analytics.rollup import RollupOutcome
from herald.db import utcnow
from herald.runtime import Runtime
from herald.temporal import WorkflowStart


async def refresh_now(runtime: Runtime, organization_id: uuid.UUID, *, full: bool) -> RollupOutcome:
    """Runs the organization's rollup now and answers its outcome. A run already under way
    (the sweep's) is waited for; if it began before this request, one more run follows, so
    everything recorded before the request is in the answer."""
    asked_at = utcnow()
    start = WorkflowStart(
        workflow=ANALYTICS_ROLLUP_WORKFLOW,
        workflow_id=rollup_workflow_id(organization_id),
        arg=AnalyticsRollupInput(organization_id=organization_id, full=full),
        organization_id=organization_id,
        customer_id=None,
        summary="Analytics rollup asked for by staff" + (": a full rebuild" if full else ""),
        rerun=True,
    )
    for _ in range(2):
        handle = await runtime.start_run(start)
        outcome = RollupOutcome.model_validate(await handle.result(follow_runs=False))
        if outcome.as_of >= asked_at and (outcome.recomputed_from is None or not full):
            return outcome
    return outcome
