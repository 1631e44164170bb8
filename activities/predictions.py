from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

from sqlalchemy import distinct, select
from temporalio import activity

from herald.database import Database
from herald.orders.models import Order
from herald.predictions import recommendations, service
from herald.predictions.contracts import FitOutcome, PredictionsInput


class PredictionsActivities:
    """Lifetime value, churn risk and recommendations: which organizations to fit, one
    organization's fit and scores, and what its recommender learns."""

    def __init__(self, db: Database) -> None:
        self._db = db

    def all_activities(self) -> list[Callable[..., Any]]:
        return [self.list_organizations_with_orders, self.fit_lifetime_value, self.learn_products]

    @activity.defn
    def list_organizations_with_orders(self) -> list[uuid.UUID]:
        with self._db.system_session() as session:
            return list(session.scalars(select(distinct(Order.organization_id))))

    @activity.defn
    def fit_lifetime_value(self, request: PredictionsInput) -> FitOutcome:
        with self._db.session(request.organization_id) as session:
            record = service.fit(session, request.as_of, request.horizon_days, score=request.score)
            return FitOutcome(as_of=record.as_of, status=record.status, scored=record.scored)

    @activity.defn
    def learn_products(self, request: PredictionsInput) -> recommendations.Learned:
        with self._db.session(request.organization_id) as session:
            return recommendations.learn(session, request.as_of)
