"""Days, weeks (from Monday) and months, UTC: what rollups are kept by and reports step over."""

from __future__ import annotations

from datetime import date, timedelta

from herald.analytics.models import Granularity


def period_floor(day: date, granularity: Granularity) -> date:
    """The first day of the period ``day`` falls in."""
    if granularity == Granularity.week:
        return day - timedelta(days=day.weekday())
    if granularity == Granularity.month:
        return day.replace(day=1)
    return day


def step(start: date, granularity: Granularity, count: int = 1) -> date:
    """The start of the period ``count`` periods after (or before) the one at ``start``."""
    if granularity == Granularity.day:
        return start + timedelta(days=count)
    if granularity == Granularity.week:
        return start + timedelta(weeks=count)
    months = start.year * 12 + start.month - 1 + count
    return date(months // 12, months % 12 + 1, 1)


def periods_between(first: date, later: date, granularity: Granularity) -> int:
    """Whole periods from one period's start to another's."""
    if granularity == Granularity.day:
        return (later - first).days
    if granularity == Granularity.week:
        return (later - first).days // 7
    return (later.year - first.year) * 12 + later.month - first.month
