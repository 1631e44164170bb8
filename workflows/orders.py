"""RefreshCustomerFigures: the buyers' stored order figures recomputed a page at a time, after
a rate or the reporting currency changed."""

from __future__ import annotations

from temporalio import workflow

from workflows.policies import DB_RETRY, DB_TIMEOUT

with workflow.unsafe.imports_passed_through():
    from activities.orders import OrderActivities
    from herald.orders.contracts import REFRESH_FIGURES_WORKFLOW, FiguresRefresh


@workflow.defn(name=REFRESH_FIGURES_WORKFLOW)
class RefreshCustomerFigures:
    """Each page is one activity and one short transaction, so the customers' rows are never
    locked for longer than a page takes; a long run continues as new where it got to."""

    @workflow.run
    async def run(self, refresh: FiguresRefresh) -> int:
        while True:
            page = await workflow.execute_activity_method(
                OrderActivities.refresh_figures_page,
                refresh,
                start_to_close_timeout=DB_TIMEOUT,
                retry_policy=DB_RETRY,
            )
            refresh = refresh.model_copy(
                update={"after": page.after, "refreshed": refresh.refreshed + page.refreshed}
            )
            if page.after is None:
                return refresh.refreshed
            if workflow.info().is_continue_as_new_suggested():
                workflow.continue_as_new(refresh)
