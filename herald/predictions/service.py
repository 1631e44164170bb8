"""Lifetime value and churn risk for an organization: its orders summarised per customer as
of a date, both models fitted, every buyer scored, the fit kept with its diagnostics."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

import numpy as np
from sqlalchemy import case, delete, func, select
from sqlalchemy.orm import Session, aliased

from herald.customers.models import Customer
from herald.db import insert_rows, period_start, session_organization, start_of_day, utcnow
from herald.errors import NotFound
from herald.orders import money
from herald.orders.models import Order, OrderStatus
from herald.predictions import clv
from herald.predictions.models import ClvModel, CustomerPrediction, ModelStatus
from herald.predictions.schemas import (
    DEFAULT_HORIZON_DAYS,
    BgNbdParameters,
    ClvModelOut,
    CustomerPredictionOut,
    FitDiagnostics,
    GammaGammaParameters,
    Holdout,
)

DAYS_PER_WEEK = 7.0


@dataclass(frozen=True)
class Buyers:
    """Every customer with an order by the as-of date, in one order across the arrays."""

    ids: list[uuid.UUID]
    histories: clv.Histories
    # What each has spent so far (paid less refunded, reporting currency).
    spent: clv.Floats


def _purchases(session: Session) -> list[Any]:
    """Orders that count as purchases: a customer's, not refunded in full. (The organization
    is explicit: the session's scoping does not reach inside a window over a subquery.)"""
    return [
        Order.organization_id == session_organization(session),
        Order.customer_id.is_not(None),
        Order.status != OrderStatus.refunded,
    ]


def _paid_by(day: date) -> Any:
    """Paid by the end of ``day`` (UTC)."""
    return Order.paid_at < start_of_day(day + timedelta(days=1))


def buyers(session: Session, as_of: date) -> Buyers:
    """Each customer's purchase days up to ``as_of``, summarised in the database: a purchase
    day is a customer's UTC day with an order; its value, the day's orders together."""
    day = period_start(Order.paid_at, "day")
    value = money.converted_net(money.reporting_currency(session))
    days = (
        select(
            Order.customer_id.label("customer_id"),
            day.label("day"),
            func.sum(value).label("value"),
        )
        .where(*_purchases(session), _paid_by(as_of))
        .group_by(Order.customer_id, day)
        .subquery()
    )
    ranked = select(
        days,
        func.row_number().over(partition_by=days.c.customer_id, order_by=days.c.day).label("nth"),
    ).subquery()
    rows = session.execute(
        select(
            ranked.c.customer_id,
            func.count(),
            func.min(ranked.c.day),
            func.max(ranked.c.day),
            func.coalesce(func.sum(ranked.c.value), 0),
            func.coalesce(func.sum(case((ranked.c.nth > 1, ranked.c.value))), 0),
        )
        .join(Customer, Customer.id == ranked.c.customer_id)
        .where(Customer.deleted_at.is_(None))
        .group_by(ranked.c.customer_id)
        .order_by(ranked.c.customer_id)
    ).all()
    ids = [row[0] for row in rows]
    days_count = np.array([row[1] for row in rows], dtype=np.float64)
    first = np.array([(as_of - row[2]).days for row in rows], dtype=np.float64)
    last = np.array([(as_of - row[3]).days for row in rows], dtype=np.float64)
    spent = np.array([float(row[4]) for row in rows], dtype=np.float64)
    repeat_value = np.array([float(row[5]) for row in rows], dtype=np.float64)
    frequency = np.maximum(days_count - 1, 0)
    with np.errstate(invalid="ignore", divide="ignore"):
        spend = np.where(frequency > 0, repeat_value / frequency, 0.0)
    histories = clv.Histories(
        frequency=frequency,
        recency=(first - last) / DAYS_PER_WEEK,
        age=first / DAYS_PER_WEEK,
        spend=np.clip(spend, 0, None),
    )
    return Buyers(ids=ids, histories=histories, spent=spent)


def _holdout(
    session: Session, model: clv.BgNbd, found: Buyers, as_of: date, horizon_days: int
) -> Holdout | None:
    """For a past as-of date: what the model expected of its customers after it, up to the
    latest order on record (at most the horizon), against what they did."""
    latest = session.scalar(select(func.max(Order.paid_at)).where(*_purchases(session)))
    if latest is None or latest.date() <= as_of:
        return None
    until = min(latest.date(), as_of + timedelta(days=horizon_days))
    weeks = (until - as_of).days / DAYS_PER_WEEK
    earlier = aliased(Order)
    day = period_start(Order.paid_at, "day")
    later_days = (
        select(Order.customer_id, day)
        .where(
            *_purchases(session),
            _paid_by(until),
            ~_paid_by(as_of),
            select(earlier.id)
            .where(
                earlier.customer_id == Order.customer_id,
                earlier.paid_at < start_of_day(as_of + timedelta(days=1)),
                earlier.status != OrderStatus.refunded,
            )
            .exists(),
        )
        .distinct()
        .subquery()
    )
    actual = session.scalar(select(func.count()).select_from(later_days)) or 0
    predicted = float(clv.expected_purchases(model, found.histories, weeks).sum())
    return Holdout(
        weeks=round(weeks, 2), predicted_purchases=round(predicted, 1), actual_purchases=actual
    )


def fit(session: Session, as_of: date, horizon_days: int | None, *, score: bool) -> ClvModel:
    """Fit both models as of ``as_of`` and keep the fit (replacing one of the same date);
    with ``score``, also rewrite every buyer's scores. Committed. ``horizon_days`` empty: the
    latest scoring fit's horizon, else the default."""
    horizon_days = horizon_days or _current_horizon(session)
    found = buyers(session, as_of)
    h = found.histories
    diagnostics = FitDiagnostics(
        customers=len(h),
        repeat_buyers=int(np.count_nonzero(h.frequency)),
        repeat_purchases=int(h.frequency.sum()),
        calibration_weeks=round(float(h.age.max()), 2) if len(h) else 0.0,
        frequency_spend_correlation=clv.frequency_spend_correlation(h),
    )
    record = ClvModel(
        as_of=as_of,
        currency=money.reporting_currency(session),
        horizon_days=horizon_days,
        scoring=score,
        fitted_at=utcnow(),
    )
    try:
        bg_nbd, purchases_fit = clv.fit_bg_nbd(h)
    except clv.NotEnoughData as exc:
        record.status, record.reason = ModelStatus.not_enough_data, str(exc)
        record.diagnostics = diagnostics.model_dump(mode="json")
        return _keep(session, record, scores=[] if score else None)
    record.status = ModelStatus.fitted
    record.bg_nbd = purchases_fit.parameters
    diagnostics.bg_nbd_log_likelihood = round(purchases_fit.log_likelihood, 3)
    diagnostics.bg_nbd_iterations = purchases_fit.iterations
    spend_model: clv.GammaGamma | None = None
    try:
        spend_model, spend_fit = clv.fit_gamma_gamma(h)
        record.gamma_gamma = spend_fit.parameters
        diagnostics.gamma_gamma_customers = int(np.count_nonzero((h.frequency > 0) & (h.spend > 0)))
        diagnostics.gamma_gamma_log_likelihood = round(spend_fit.log_likelihood, 3)
    except clv.NotEnoughData as exc:
        record.reason = f"{exc}; expected spend is each customer's own average purchase"
    if not score:
        diagnostics.holdout = _holdout(session, bg_nbd, found, as_of, horizon_days)
    record.diagnostics = diagnostics.model_dump(mode="json")
    scores = _scores(found, bg_nbd, spend_model, as_of, horizon_days) if score else None
    return _keep(session, record, scores=scores)


def _current_horizon(session: Session) -> int:
    latest = session.scalar(
        select(ClvModel.horizon_days)
        .where(ClvModel.scoring)
        .order_by(ClvModel.fitted_at.desc())
        .limit(1)
    )
    return latest or DEFAULT_HORIZON_DAYS


def _scores(
    found: Buyers,
    bg_nbd: clv.BgNbd,
    spend_model: clv.GammaGamma | None,
    as_of: date,
    horizon_days: int,
) -> list[dict[str, Any]]:
    h = found.histories
    purchases = clv.expected_purchases(bg_nbd, h, horizon_days / DAYS_PER_WEEK)
    alive = clv.probability_alive(bg_nbd, h)
    if spend_model is not None:
        spend = clv.expected_spend(spend_model, h)
    else:  # no spend model: each customer's own average purchase day
        spend = found.spent / (h.frequency + 1)
    value = purchases * np.clip(spend, 0, None)
    rows = []
    for i, customer_id in enumerate(found.ids):
        expected = round(float(value[i]), 2)
        rows.append(
            {
                "customer_id": customer_id,
                "as_of": as_of,
                "expected_purchases": round(float(purchases[i]), 4),
                "probability_alive": round(float(alive[i]), 4),
                "churn_risk": round(1 - float(alive[i]), 4),
                "expected_value": expected,
                "predicted_clv": round(float(found.spent[i]) + expected, 2),
            }
        )
    return rows


def _keep(session: Session, record: ClvModel, *, scores: list[dict[str, Any]] | None) -> ClvModel:
    """Store the fit (and, when given, the scores that replace every buyer's) in one
    transaction: readers see the previous fit and scores until it commits."""
    org = session_organization(session)
    session.execute(delete(ClvModel).where(ClvModel.as_of == record.as_of))
    if scores is not None:
        session.execute(delete(CustomerPrediction))
        for row in scores:
            row["organization_id"] = org
        insert_rows(session, CustomerPrediction, scores)
        record.scored = len(scores)
    session.add(record)
    session.commit()
    return record


def model_out(record: ClvModel) -> ClvModelOut:
    return ClvModelOut(
        as_of=record.as_of,
        status=record.status,
        reason=record.reason,
        currency=record.currency,
        horizon_days=record.horizon_days,
        bg_nbd=BgNbdParameters.model_validate(record.bg_nbd) if record.bg_nbd else None,
        gamma_gamma=GammaGammaParameters.model_validate(record.gamma_gamma)
        if record.gamma_gamma
        else None,
        diagnostics=FitDiagnostics.model_validate(record.diagnostics),
        scored=record.scored,
        fitted_at=record.fitted_at,
    )


def get_model(session: Session, as_of: date | None) -> ClvModelOut:
    """The fit as of that date; without one, the latest fit that scored the customers."""
    stmt = select(ClvModel)
    if as_of is not None:
        stmt = stmt.where(ClvModel.as_of == as_of)
    else:
        stmt = stmt.where(ClvModel.scoring).order_by(ClvModel.fitted_at.desc()).limit(1)
    record = session.scalar(stmt)
    if record is None:
        raise NotFound(
            f"no lifetime-value model fitted as of {as_of}"
            if as_of
            else "no lifetime-value model has scored the customers yet",
        )
    return model_out(record)


def customer_prediction(session: Session, customer_id: uuid.UUID) -> CustomerPredictionOut | None:
    """The customer's scores from the latest fit; none for a customer without orders then."""
    row = session.execute(
        select(CustomerPrediction, ClvModel.horizon_days, ClvModel.currency)
        .join(ClvModel, ClvModel.as_of == CustomerPrediction.as_of)
        .where(CustomerPrediction.customer_id == customer_id)
    ).first()
    if row is None:
        return None
    prediction, horizon_days, currency = row
    return CustomerPredictionOut(
        as_of=prediction.as_of,
        horizon_days=horizon_days,
        currency=currency,
        expected_purchases=prediction.expected_purchases,
        probability_alive=prediction.probability_alive,
        churn_risk=prediction.churn_risk,
        expected_value=prediction.expected_value,
        predicted_clv=prediction.predicted_clv,
    )
