"""Revenue analytics: attribution and ROI, acquisition and CAC, cohorts and retention,
funnels, time series. Every report reads the rollups (funnels read the events), says as of
when, and comes as CSV with ``?format=csv``."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Query
from fastapi.responses import Response
from sqlalchemy.orm import Session

from api.deps import get_runtime, org_session, require
from herald.access.permissions import Permission
from herald.access.service import Principal
from herald.analytics import actions, funnels, reports, service
from herald.analytics.exports import AnyReport, report_csv
from herald.analytics.models import AttributionModel, Granularity
from herald.analytics.rollup import RollupOutcome
from herald.analytics.schemas import (
    AcquisitionReport,
    AnalyticsSettingsIn,
    AnalyticsSettingsOut,
    AttributionDimension,
    AttributionReport,
    CohortReport,
    FunnelQuery,
    FunnelReport,
    InquiryReport,
    RetentionReport,
    SeriesReport,
    SpendOut,
    SpendPut,
)
from herald.db import utcnow
from herald.runtime import Runtime

router = APIRouter(prefix="/v1/analytics", tags=["analytics"])
read = require(Permission.analytics_read)
configure = require(Permission.analytics_configure)

Format = Annotated[Literal["json", "csv"], Query(description="csv: the report as a CSV file")]


def _answer(report: AnyReport, format: str, name: str) -> AnyReport | Response:
    if format != "csv":
        return report
    headers = {"Content-Disposition": f'attachment; filename="{name}.csv"'}
    as_of = getattr(report, "as_of", None)
    if as_of is not None:
        headers["X-Herald-As-Of"] = as_of.isoformat()
    return Response(report_csv(report), media_type="text/csv; charset=utf-8", headers=headers)


def _year_ago() -> date:
    return utcnow().date() - timedelta(days=365)


def _today() -> date:
    return utcnow().date()


@router.get("/settings", response_model=AnalyticsSettingsOut, summary="Attribution and costs")
def get_settings(
    _: Principal = Depends(read), session: Session = Depends(org_session)
) -> AnalyticsSettingsOut:
    return service.get_settings(session)


@router.put(
    "/settings",
    response_model=AnalyticsSettingsOut,
    summary="Set the attribution model and windows and what a message costs per channel",
)
def put_settings(
    body: AnalyticsSettingsIn,
    _: Principal = Depends(configure),
    session: Session = Depends(org_session),
) -> AnalyticsSettingsOut:
    return service.put_settings(session, body)


@router.get("/spend", response_model=list[SpendOut], summary="Marketing spend by month")
def list_spend(
    since: date = Query(default_factory=_year_ago),
    until: date = Query(default_factory=_today),
    _: Principal = Depends(read),
    session: Session = Depends(org_session),
) -> list[SpendOut]:
    return service.list_spend(session, since, until)


@router.put(
    "/spend",
    response_model=list[SpendOut],
    summary="Set spend per month and channel (or a campaign's or journey's fixed cost)",
)
def put_spend(
    body: SpendPut, _: Principal = Depends(configure), session: Session = Depends(org_session)
) -> list[SpendOut]:
    return service.put_spend(session, body.spend)


@router.get(
    "/series",
    response_model=SeriesReport,
    summary="Daily, weekly or monthly figures, with the period before for comparison",
)
def get_series(
    granularity: Granularity = Granularity.day,
    since: date = Query(default_factory=lambda: _today() - timedelta(days=29)),
    until: date = Query(default_factory=_today),
    format: Format = "json",
    _: Principal = Depends(read),
    session: Session = Depends(org_session),
) -> AnyReport | Response:
    report = reports.series(session, granularity, since, until)
    return _answer(report, format, f"series-{granularity.value}")


@router.get(
    "/cohorts",
    response_model=CohortReport,
    summary="Acquisition cohorts by first order: retention, revenue and lifetime value by age",
)
def get_cohorts(
    granularity: Granularity = Granularity.month,
    count: int = Query(default=12, ge=1, le=60),
    format: Format = "json",
    _: Principal = Depends(read),
    session: Session = Depends(org_session),
) -> AnyReport | Response:
    return _answer(reports.cohorts(session, granularity, count), format, "cohorts")


@router.get(
    "/retention",
    response_model=RetentionReport,
    summary="Repeat purchase rate, churn over an inactivity window, time between orders",
)
def get_retention(
    churn_after_days: int = Query(default=90, ge=1, le=3650),
    format: Format = "json",
    _: Principal = Depends(read),
    session: Session = Depends(org_session),
) -> AnyReport | Response:
    return _answer(reports.retention(session, churn_after_days), format, "retention")


@router.get(
    "/attribution",
    response_model=AttributionReport,
    summary="Attributed orders, revenue, revenue per recipient and ROI per campaign, variant, "
    "journey, step, template or channel",
)
def get_attribution(
    by: AttributionDimension = AttributionDimension.campaign,
    since: date = Query(default_factory=lambda: _today() - timedelta(days=29)),
    until: date = Query(default_factory=_today),
    model: AttributionModel | None = None,
    format: Format = "json",
    _: Principal = Depends(read),
    session: Session = Depends(org_session),
) -> AnyReport | Response:
    report = reports.attribution(session, by, since, until, model)
    return _answer(report, format, f"attribution-{by.value}")


@router.get(
    "/acquisition",
    response_model=AcquisitionReport,
    summary="New customers per month and acquisition channel, spend and CAC",
)
def get_acquisition(
    since: date = Query(default_factory=_year_ago),
    until: date = Query(default_factory=_today),
    format: Format = "json",
    _: Principal = Depends(read),
    session: Session = Depends(org_session),
) -> AnyReport | Response:
    return _answer(reports.acquisition(session, since, until), format, "acquisition")


@router.get(
    "/inquiries",
    response_model=InquiryReport,
    summary="Sales inquiries: volume, time to the first reply, conversion by source page",
)
def get_inquiries(
    since: date = Query(default_factory=lambda: _today() - timedelta(days=89)),
    until: date = Query(default_factory=_today),
    format: Format = "json",
    _: Principal = Depends(read),
    session: Session = Depends(org_session),
) -> AnyReport | Response:
    return _answer(reports.inquiries(session, since, until), format, "inquiries")


@router.post(
    "/funnels",
    response_model=FunnelReport,
    summary="Who did each step in order within the window: counts, conversion, drop-off, "
    "median time, optionally split by a profile field or a segment",
)
def post_funnel(
    body: FunnelQuery,
    format: Format = "json",
    _: Principal = Depends(read),
    session: Session = Depends(org_session),
) -> AnyReport | Response:
    return _answer(funnels.funnel(session, body), format, "funnel")


@router.post(
    "/refresh",
    response_model=RollupOutcome,
    summary="Bring the rollups up to date now (full=true: rebuild them) and wait for it",
)
async def refresh(
    full: bool = False,
    principal: Principal = Depends(configure),
    runtime: Runtime = Depends(get_runtime),
) -> RollupOutcome:
    return await actions.refresh_now(runtime, principal.organization_id, full=full)
