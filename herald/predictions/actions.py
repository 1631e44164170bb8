"""Predictions' use cases that reach past one session: a fit started on demand (waited for a
while), and what the profile shows of one customer."""

from __future__ import annotations

import asyncio
import uuid
from dataclasses import dataclass
from datetime import date

from sqlalchemy.orm import Session

from herald.db import utcnow
from herald.errors import InvalidInput
from herald.predictions import recommendations, service
from herald.predictions.contracts import (
    CUSTOMER_PREDICTIONS_WORKFLOW,
    PredictionsInput,
    predictions_workflow_id,
)
from herald.predictions.schemas import (
    ClvModelOut,
    CustomerPredictionOut,
    FitRequest,
    RecommendedProduct,
)
from herald.runtime import Runtime
from herald.temporal import WorkflowStart

# A request waits this long for its fit; a longer one goes on as a run, its model read later.
FIT_WAIT_SECONDS = 20.0


@dataclass(frozen=True)
class FitStarted:
    """A fit still running when the request stopped waiting."""

    as_of: date
    workflow_id: str


async def fit(
    runtime: Runtime,
    organization_id: uuid.UUID,
    request: FitRequest,
    *,
    wait_seconds: float = FIT_WAIT_SECONDS,
) -> ClvModelOut | FitStarted:
    """Fit the models now: as of today (every buyer scored, recommendations relearned), or as
    of a past date (a back-test). The fit's model, or where its run is when it takes longer."""
    today = utcnow().date()
    as_of = request.as_of or today
    if as_of > today:
        raise InvalidInput("as_of cannot be in the future", field="as_of")
    start = WorkflowStart(
        workflow=CUSTOMER_PREDICTIONS_WORKFLOW,
        workflow_id=predictions_workflow_id(organization_id, as_of),
        arg=PredictionsInput(
            organization_id=organization_id,
            as_of=as_of,
            horizon_days=request.horizon_days,
            score=as_of == today,
        ),
        organization_id=organization_id,
        customer_id=None,
        summary=f"Lifetime-value fit as of {as_of} asked for by staff",
        rerun=True,
    )
    handle = await runtime.start_run(start)
    try:
        await asyncio.wait_for(handle.result(follow_runs=False), timeout=wait_seconds)
    except TimeoutError:
        return FitStarted(as_of=as_of, workflow_id=start.workflow_id)
    return await runtime.in_org(organization_id, lambda s: service.get_model(s, as_of))


@dataclass(frozen=True)
class CustomerOutlook:
    """What the profile shows of a customer's future: scores and recommended products."""

    prediction: CustomerPredictionOut | None
    recommendations: list[RecommendedProduct]


async def outlook(
    runtime: Runtime, organization_id: uuid.UUID, customer_id: uuid.UUID
) -> CustomerOutlook:
    def work(session: Session) -> CustomerOutlook:
        return CustomerOutlook(
            prediction=service.customer_prediction(session, customer_id),
            recommendations=recommendations.recommend(session, [customer_id])[customer_id],
        )

    return await runtime.in_org(organization_id, work)
