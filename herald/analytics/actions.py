"""Analytics use cases that reach past one session: a rollup run started on demand, and the
console's dashboard (each report in its own snapshot: they read separate rollups)."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date

from sqlalchemy.orm import Session

from herald.analytics import reports
from herald.analytics.contracts import (
    ANALYTICS_ROLLUP_WORKFLOW,
    AnalyticsRollupInput,
    rollup_workflow_id,
)
from herald.analytics.exports import AnyReport, report_csv
from herald.analytics.models import Granularity
from herald.analytics.rollup import RollupOutcome
from herald.analytics.schemas import (
    AcquisitionReport,
    AttributionDimension,
    AttributionReport,
    CohortReport,
    RetentionReport,
    SeriesReport,
)
from herald.db import utcnow
from herald.runtime import Runtime
from herald.temporal import WorkflowStart


async def refresh_now(runtime: Runtime, organization_id: uuid.UUID, *, full: bool) -> RollupOutcome:
    """Runs the organization's rollup now and answers its outcome. A run already under way
    (the sweep's) is waited for; if it began before this request, one more run follows, so
    everything recorded before the request is in the answer."""
    asked_at = utcnow()
    start = WorkflowStart(
        workflow=ANALYTICS_ROLLUP_WORKFLOW,
        workflow_id=rollup_workflow_id(organization_id),
        arg=AnalyticsRollupInput(organization_id=organization_id, full=full),
        organization_id=organization_id,
        customer_id=None,
        summary="Analytics rollup asked for by staff" + (": a full rebuild" if full else ""),
        rerun=True,
    )
    for _ in range(2):
        handle = await runtime.start_run(start)
        outcome = RollupOutcome.model_validate(await handle.result(follow_runs=False))
        if outcome.as_of >= asked_at and (outcome.recomputed_from is None or not full):
            return outcome
    return outcome


# Churn on the dashboard: buyers with no order in this many days.
CHURN_AFTER_DAYS = 90
# Acquisition cohorts the dashboard shows.
DASHBOARD_COHORTS = 12


@dataclass(frozen=True)
class Dashboard:
    since: date
    until: date
    series: SeriesReport
    campaigns: AttributionReport
    channels: AttributionReport
    acquisition: AcquisitionReport
    cohorts: CohortReport
    retention: RetentionReport


def _reports(
    since: date, until: date, granularity: Granularity
) -> dict[str, Callable[[Session], AnyReport]]:
    """Every report the dashboard shows (and exports), by name."""
    return {
        "series": lambda s: reports.series(s, granularity, since, until),
        "campaigns": lambda s: reports.attribution(s, AttributionDimension.campaign, since, until),
        "channels": lambda s: reports.attribution(s, AttributionDimension.channel, since, until),
        "acquisition": lambda s: reports.acquisition(s, since, until),
        "cohorts": lambda s: reports.cohorts(s, Granularity.month, DASHBOARD_COHORTS),
        "retention": lambda s: reports.retention(s, CHURN_AFTER_DAYS),
    }


REPORTS = tuple(_reports(date.min, date.min, Granularity.day))


async def dashboard(
    runtime: Runtime, organization_id: uuid.UUID, since: date, until: date, granularity: Granularity
) -> Dashboard:
    found = {
        name: await runtime.in_org(organization_id, work)
        for name, work in _reports(since, until, granularity).items()
    }
    return Dashboard(since=since, until=until, **found)  # type: ignore[arg-type]


async def export_csv(
    runtime: Runtime,
    organization_id: uuid.UUID,
    name: str,
    since: date,
    until: date,
    granularity: Granularity,
) -> str:
    """One of the dashboard's reports as CSV (``name`` one of ``REPORTS``)."""
    work = _reports(since, until, granularity)[name]
    return report_csv(await runtime.in_org(organization_id, work))
