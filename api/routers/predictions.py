"""Predictions: the lifetime-value model (fitted on demand, read as of a date), a customer's
churn risk and predicted value, and the products recommended to them."""

from __future__ import annotations

import uuid
from datetime import date
from typing import Annotated

from fastapi import APIRouter, Depends, Query
from fastapi.responses import JSONResponse
from sqlalchemy.orm import Session

from api.deps import get_runtime, org_session, require
from herald.access.permissions import Permission
from herald.access.service import Principal
from herald.customers.service import get_customer
from herald.errors import NotFound
from herald.predictions import actions, recommendations, service
from herald.predictions.schemas import (
    ClvModelOut,
    CustomerPredictionOut,
    FitRequest,
    RecommendedProduct,
)
from herald.runtime import Runtime

router = APIRouter(prefix="/v1/analytics/clv", tags=["predictions"])
customer_router = APIRouter(prefix="/v1/customers", tags=["predictions"])


@router.post(
    "/fit",
    response_model=ClvModelOut,
    responses={202: {"description": "Still fitting: read the model when its run completes"}},
    summary="Fit the lifetime-value models now (as of today, or a past date to back-test)",
)
async def fit(
    body: FitRequest | None = None,
    principal: Principal = Depends(require(Permission.analytics_configure)),
    runtime: Runtime = Depends(get_runtime),
) -> ClvModelOut | JSONResponse:
    found = await actions.fit(runtime, principal.organization_id, body or FitRequest())
    if isinstance(found, ClvModelOut):
        return found
    return JSONResponse(
        status_code=202,
        content={
            "as_of": found.as_of.isoformat(),
            "workflow_id": found.workflow_id,
            "detail": "still fitting; read GET /v1/analytics/clv/model?as_of="
            f"{found.as_of.isoformat()} when the run completes",
        },
    )


@router.get(
    "/model",
    response_model=ClvModelOut,
    summary="The fitted model as of a date (default: the one that scored the customers)",
)
def model(
    as_of: Annotated[date | None, Query()] = None,
    _: Principal = Depends(require(Permission.analytics_read)),
    session: Session = Depends(org_session),
) -> ClvModelOut:
    return service.get_model(session, as_of)


@customer_router.get(
    "/{customer_id}/predictions",
    response_model=CustomerPredictionOut,
    summary="The customer's expected purchases, churn risk and predicted lifetime value",
)
def customer_predictions(
    customer_id: uuid.UUID,
    _: Principal = Depends(require(Permission.customers_read)),
    session: Session = Depends(org_session),
) -> CustomerPredictionOut:
    get_customer(session, customer_id)
    found = service.customer_prediction(session, customer_id)
    if found is None:
        raise NotFound("no predictions for this customer: no orders when the model last scored")
    return found


@customer_router.get(
    "/{customer_id}/recommendations",
    response_model=list[RecommendedProduct],
    summary="Products the customer is likely to buy next (empty without purchases)",
)
def customer_recommendations(
    customer_id: uuid.UUID,
    limit: Annotated[int, Query(ge=1, le=recommendations.MAX_RECOMMENDATIONS)] = 3,
    _: Principal = Depends(require(Permission.customers_read)),
    session: Session = Depends(org_session),
) -> list[RecommendedProduct]:
    get_customer(session, customer_id)
    return recommendations.recommend(session, [customer_id], limit)[customer_id]
