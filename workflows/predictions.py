"""``PredictionsSweep``: every night (a Temporal Schedule), a ``CustomerPredictions`` run for
each organization with orders. ``CustomerPredictions``: one organization's lifetime-value
models fitted as of a date and, as of today, every buyer scored and the recommender's product
links relearned; the API starts one on demand."""

from __future__ import annotations

from temporalio import workflow
from temporalio.common import WorkflowIDReusePolicy

with workflow.unsafe.imports_passed_through():
    from activities.predictions import PredictionsActivities
    from herald.predictions.contracts import (
        CUSTOMER_PREDICTIONS_WORKFLOW,
        PREDICTIONS_SWEEP_WORKFLOW,
        PredictionsInput,
        PredictionsOutcome,
        PredictionsSweepInput,
        PredictionsSweepOutcome,
        predictions_workflow_id,
    )
    from herald.temporal import run_search_attributes
    from workflows.fanout import start_abandoned, start_each
    from workflows.policies import DB_RETRY, DB_TIMEOUT, ROLLUP_TIMEOUT

START_CONCURRENCY = 50


@workflow.defn(name=PREDICTIONS_SWEEP_WORKFLOW)
class PredictionsSweep:
    """Starts each organization's predictions as its own run (abandoned to finish on its
    own): a large organization's fit holds up no other's."""

    @workflow.run
    async def run(self, sweep: PredictionsSweepInput) -> PredictionsSweepOutcome:
        organizations = await workflow.execute_activity_method(
            PredictionsActivities.list_organizations_with_orders,
            start_to_close_timeout=DB_TIMEOUT,
            retry_policy=DB_RETRY,
        )
        today = workflow.now().date()
        started = await start_each(
            [PredictionsInput(organization_id=o, as_of=today) for o in organizations],
            self._start,
            START_CONCURRENCY,
        )
        return PredictionsSweepOutcome(organizations=len(organizations), started=started)

    @staticmethod
    async def _start(request: PredictionsInput) -> int:
        # Skipped (0) when started by hand today and still running.
        return await start_abandoned(
            CustomerPredictions.run,
            request,
            workflow_id=predictions_workflow_id(request.organization_id, request.as_of),
            id_reuse_policy=WorkflowIDReusePolicy.ALLOW_DUPLICATE,
            search_attributes=run_search_attributes(
                CUSTOMER_PREDICTIONS_WORKFLOW, str(request.organization_id)
            ),
            summary="Predictions: lifetime value and churn risk, recommendations",
            organization_id=request.organization_id,
        )


@workflow.defn(name=CUSTOMER_PREDICTIONS_WORKFLOW)
class CustomerPredictions:
    @workflow.run
    async def run(self, request: PredictionsInput) -> PredictionsOutcome:
        fit = await workflow.execute_activity_method(
            PredictionsActivities.fit_lifetime_value,
            request,
            start_to_close_timeout=ROLLUP_TIMEOUT,
            retry_policy=DB_RETRY,
            summary=f"fit as of {request.as_of}" + ("" if request.score else " (back-test)"),
        )
        if not request.score:
            return PredictionsOutcome(fit=fit)
        learned = await workflow.execute_activity_method(
            PredictionsActivities.learn_products,
            request,
            start_to_close_timeout=ROLLUP_TIMEOUT,
            retry_policy=DB_RETRY,
        )
        return PredictionsOutcome(fit=fit, products=learned.products, links=learned.links)
