"""Predictions over HTTP: a lifetime-value fit asked for, the fitted model, a customer's
scores and recommended products."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from herald.predictions.models import ModelStatus

DEFAULT_HORIZON_DAYS = 365


class FitRequest(BaseModel):
    """``as_of`` left out: today, and every buyer's scores are rewritten from the fit. A past
    date fits the orders paid up to it (that day included) and scores no one: a back-test,
    with the orders since as its hold-out."""

    model_config = ConfigDict(extra="forbid")

    as_of: date | None = None
    horizon_days: int = Field(
        default=DEFAULT_HORIZON_DAYS, ge=7, le=3650, description="how far ahead scores look"
    )


class BgNbdParameters(BaseModel):
    r: float
    alpha: float
    a: float
    b: float


class GammaGammaParameters(BaseModel):
    p: float
    q: float
    v: float


class Holdout(BaseModel):
    """After a past as-of date: repeat purchase days the model expected of its customers up to
    the latest order on record (at most the horizon), against those that happened."""

    weeks: float
    predicted_purchases: float
    actual_purchases: int


class FitDiagnostics(BaseModel):
    customers: int = Field(description="customers with an order by the as-of date")
    repeat_buyers: int
    repeat_purchases: int = Field(description="repeat purchase days (one per customer and day)")
    calibration_weeks: float = Field(description="from the first purchase to the as-of date")
    bg_nbd_log_likelihood: float | None = None
    bg_nbd_iterations: int | None = None
    gamma_gamma_customers: int | None = Field(
        default=None, description="repeat buyers with a positive spend: the spend model's data"
    )
    gamma_gamma_log_likelihood: float | None = None
    frequency_spend_correlation: float | None = Field(
        default=None,
        description="the spend model assumes spend does not follow frequency: near 0 holds",
    )
    holdout: Holdout | None = None


class ClvModelOut(BaseModel):
    as_of: date
    status: ModelStatus
    reason: str | None = Field(description="why there is no model, or no spend model")
    time_unit: Literal["weeks"] = "weeks"
    currency: str
    horizon_days: int
    bg_nbd: BgNbdParameters | None
    gamma_gamma: GammaGammaParameters | None
    diagnostics: FitDiagnostics
    scored: int = Field(description="customers whose scores this fit wrote")
    fitted_at: datetime


class CustomerPredictionOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    as_of: date
    horizon_days: int
    currency: str
    expected_purchases: float = Field(description="purchase days expected over the horizon")
    probability_alive: float
    churn_risk: float = Field(description="1 - probability_alive")
    expected_value: Decimal | None = Field(description="expected spend over the horizon")
    predicted_clv: Decimal | None = Field(description="spent so far + expected_value")


Reason = Literal["bought_together", "popular_in_category"]


class RecommendedProduct(BaseModel):
    product_id: str
    name: str
    url: str | None
    image: str | None
    price: Decimal | None
    currency: str | None
    reason: Reason
