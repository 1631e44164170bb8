"""The marketing analytics dashboard: revenue and its trend against the period before, what
campaigns and channels earned and returned, acquisition and CAC, retention and churn, monthly
cohorts; each section exportable as CSV. Read from the rollups (each says as of when)."""

from __future__ import annotations

from datetime import date, timedelta

from fastapi import APIRouter, Depends, Request, Response

from console.web import PageRoute, Staff, allowed, render, runtime_of
from herald.access.permissions import Permission
from herald.analytics import actions
from herald.analytics.models import Granularity
from herald.db import utcnow
from herald.errors import NotFound

router = APIRouter(route_class=PageRoute, include_in_schema=False)
read = allowed(Permission.analytics_read)
HOME = "/marketing/analytics"
# The ranges offered: days back from today, and the periods the trend is drawn in.
RANGES = {
    "30d": (30, Granularity.day),
    "90d": (90, Granularity.week),
    "12m": (365, Granularity.month),
}
DEFAULT_RANGE = "30d"


def _range(request: Request) -> tuple[str, date, date, Granularity]:
    chosen = request.query_params.get("range", DEFAULT_RANGE)
    chosen = chosen if chosen in RANGES else DEFAULT_RANGE
    days, granularity = RANGES[chosen]
    until = utcnow().date()
    return chosen, until - timedelta(days=days - 1), until, granularity


@router.get(HOME)
async def analytics(request: Request, member: Staff = Depends(read)) -> Response:
    chosen, since, until, granularity = _range(request)
    board = await actions.dashboard(
        runtime_of(request), member.organization_id, since, until, granularity
    )
    return render(
        request,
        "analytics/page.html",
        {"b": board, "chosen": chosen, "ranges": RANGES, "nav": "analytics"},
    )


@router.get(f"{HOME}/{{name}}.csv")
async def export(request: Request, name: str, member: Staff = Depends(read)) -> Response:
    if name not in actions.REPORTS:
        raise NotFound("no such report")
    chosen, since, until, granularity = _range(request)
    text = await actions.export_csv(
        runtime_of(request), member.organization_id, name, since, until, granularity
    )
    return Response(
        text,
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{name}-{chosen}.csv"'},
    )
