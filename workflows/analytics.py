"""``AnalyticsSweep``: every few minutes (a Temporal Schedule), an ``AnalyticsRollup`` run for
each organization with something new. ``AnalyticsRollup``: one organization's rollups brought
up to date (or rebuilt), one run per organization at a time; the API starts one on demand."""

from __future__ import annotations

from temporalio import workflow
from temporalio.common import WorkflowIDReusePolicy

with workflow.unsafe.imports_passed_through():
    from activities.analytics import AnalyticsActivities
    from herald.analytics.contracts import (
        ANALYTICS_ROLLUP_WORKFLOW,
        ANALYTICS_SWEEP_WORKFLOW,
        AnalyticsRollupInput,
        AnalyticsSweepInput,
        AnalyticsSweepOutcome,
        rollup_workflow_id,
    )
    from herald.analytics.rollup import RollupOutcome
    from herald.temporal import run_search_attributes
    from workflows.fanout import start_abandoned, start_each
    from workflows.policies import DB_RETRY, DB_TIMEOUT, ROLLUP_TIMEOUT

START_CONCURRENCY = 50


@workflow.defn(name=ANALYTICS_SWEEP_WORKFLOW)
class AnalyticsSweep:
    """Starts each due organization's rollup as its own run (abandoned to finish on its own):
    a large organization's rebuild holds up no other's, and one still running is skipped."""

    @workflow.run
    async def run(self, sweep: AnalyticsSweepInput) -> AnalyticsSweepOutcome:
        due = await workflow.execute_activity_method(
            AnalyticsActivities.list_organizations_due,
            start_to_close_timeout=DB_TIMEOUT,
            retry_policy=DB_RETRY,
        )
        started = await start_each(
            [AnalyticsRollupInput(organization_id=o) for o in due], self._start, START_CONCURRENCY
        )
        return AnalyticsSweepOutcome(organizations=len(due), started=started)

    @staticmethod
    async def _start(rollup: AnalyticsRollupInput) -> int:
        # Skipped (0) while still running from the last sweep, or started by hand.
        return await start_abandoned(
            AnalyticsRollup.run,
            rollup,
            workflow_id=rollup_workflow_id(rollup.organization_id),
            id_reuse_policy=WorkflowIDReusePolicy.ALLOW_DUPLICATE,
            search_attributes=run_search_attributes(
                ANALYTICS_ROLLUP_WORKFLOW, str(rollup.organization_id)
            ),
            summary="Analytics rollup: new orders attributed, periods recomputed",
            organization_id=rollup.organization_id,
        )


@workflow.defn(name=ANALYTICS_ROLLUP_WORKFLOW)
class AnalyticsRollup:
    @workflow.run
    async def run(self, rollup: AnalyticsRollupInput) -> RollupOutcome:
        return await workflow.execute_activity_method(
            AnalyticsActivities.refresh_rollups,
            rollup,
            start_to_close_timeout=ROLLUP_TIMEOUT,
            retry_policy=DB_RETRY,
            summary="rebuild" if rollup.full else "what is new",
        )
