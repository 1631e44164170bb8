"""Analytics rollups' Temporal contract: names the schedule, the worker and the API agree on,
and the payloads the runs and their activities exchange."""

from __future__ import annotations

import uuid

from pydantic import BaseModel

from herald.temporal import tenant_workflow_id

ANALYTICS_SWEEP_WORKFLOW = "AnalyticsSweep"
ANALYTICS_ROLLUP_WORKFLOW = "AnalyticsRollup"


class AnalyticsSweepInput(BaseModel):
    """What the schedule starts: a rollup run for each organization with something new."""


class AnalyticsRollupInput(BaseModel):
    organization_id: uuid.UUID
    # Recompute everything (every order attributed again, every period) instead of what is new.
    full: bool = False


class AnalyticsSweepOutcome(BaseModel):
    organizations: int
    started: int


def rollup_workflow_id(organization_id: uuid.UUID) -> str:
    """One rollup run per organization at a time: a sweep finding one still running skips it."""
    return tenant_workflow_id(ANALYTICS_ROLLUP_WORKFLOW, organization_id)
