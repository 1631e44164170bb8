"""Predictions' Temporal contract: names the schedule, the worker and the API agree on, and
the payloads the runs and their activities exchange."""

from __future__ import annotations

import uuid
from datetime import date

from pydantic import BaseModel

from herald.predictions.models import ModelStatus
from herald.temporal import tenant_workflow_id

PREDICTIONS_SWEEP_WORKFLOW = "PredictionsSweep"
CUSTOMER_PREDICTIONS_WORKFLOW = "CustomerPredictions"


class PredictionsSweepInput(BaseModel):
    """What the daily schedule starts: a predictions run for each organization with orders."""


class PredictionsInput(BaseModel):
    organization_id: uuid.UUID
    as_of: date
    # Empty: the horizon of the organization's latest scoring fit, else the default.
    horizon_days: int | None = None
    # Rewrite every buyer's scores and relearn the recommendations (a fit as of today); a fit
    # of a past date is a back-test and changes neither.
    score: bool = True


class FitOutcome(BaseModel):
    as_of: date
    status: ModelStatus
    scored: int


class PredictionsOutcome(BaseModel):
    fit: FitOutcome
    # Products the recommender learned from, and the links it kept (a back-test learns none).
    products: int | None = None
    links: int | None = None


class PredictionsSweepOutcome(BaseModel):
    organizations: int
    started: int


def predictions_workflow_id(organization_id: uuid.UUID, as_of: date) -> str:
    """One run per organization and as-of date at a time: the schedule's and a request made
    while it runs are the same run."""
    return tenant_workflow_id(CUSTOMER_PREDICTIONS_WORKFLOW, organization_id, as_of.isoformat())
