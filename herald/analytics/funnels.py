"""Funnels over the indexed events: who did each step, in order, within the window.

A customer enters at their first step-one event in the range; each later step counts their
first event of that step at or after the previous step's, no later than the window after they
entered. Steps are arbitrary, so funnels read the events themselves (by the event type index),
not a rollup.
"""

from __future__ import annotations

import itertools
import statistics
from collections import defaultdict
from datetime import timedelta
from typing import Any

from sqlalchemy import and_, func, literal, select
from sqlalchemy.orm import Session

from herald.analytics.schemas import FunnelGroup, FunnelQuery, FunnelReport, FunnelStepResult
from herald.customers.models import Customer
from herald.db import shifted, utcnow
from herald.errors import InvalidInput
from herald.events.models import Event
from herald.segments.rules import event_property_is
from herald.segments.service import get_segment, matching, rule_of

# Profile fields a funnel may be split by (besides ``attribute:<name>``).
SPLIT_FIELDS = {
    "country": Customer.country,
    "locale": Customer.locale,
    "acquisition_channel": Customer.acquisition_channel,
}
IN_SEGMENT, NOT_IN_SEGMENT = "in segment", "not in segment"


def _step_filters(step: Any) -> list[Any]:
    return [Event.type == step.event, *(event_property_is(k, v) for k, v in step.where.items())]


def funnel(session: Session, query: FunnelQuery) -> FunnelReport:
    window = query.within_hours * 3600
    first = (
        select(Event.customer_id.label("customer_id"), func.min(Event.occurred_at).label("t0"))
        .where(
            *_step_filters(query.steps[0]),
            Event.customer_id.is_not(None),
            Event.occurred_at >= query.since,
            Event.occurred_at < query.until,
        )
        .group_by(Event.customer_id)
        .cte("step_0")
    )
    reached_steps = []
    previous, previous_time = first, first.c.t0
    for index, step in enumerate(query.steps[1:], start=1):
        reached = (
            select(
                previous.c.customer_id.label("customer_id"),
                previous.c.t0.label("t0"),
                func.min(Event.occurred_at).label("t"),
            )
            .join(
                Event,
                and_(
                    Event.customer_id == previous.c.customer_id,
                    Event.occurred_at >= previous_time,
                    Event.occurred_at <= shifted(previous.c.t0, literal(window)),
                    # The same bounds as constants: the step's events are one range of the
                    # type index, hashed against the customers who got this far.
                    Event.occurred_at >= query.since,
                    Event.occurred_at < query.until + timedelta(seconds=window),
                    *_step_filters(step),
                ),
            )
            .group_by(previous.c.customer_id, previous.c.t0)
            .cte(f"step_{index}")
        )
        reached_steps.append(reached)
        previous, previous_time = reached, reached.c.t
    moments = [first.c.t0, *(reached.c.t for reached in reached_steps)]
    joined: Any = first
    for reached in reached_steps:
        joined = joined.outerjoin(reached, reached.c.customer_id == first.c.customer_id)
    group_of, split = _split(session, query)
    if group_of is not None:
        joined = joined.join(Customer, Customer.id == first.c.customer_id)
    group = group_of if group_of is not None else literal(None)
    if session.get_bind().dialect.name == "postgresql":
        figures = _figures_in_sql(session, joined, group, moments)
    else:
        figures = _figures_in_python(session, joined, group, moments)
    return FunnelReport(
        since=query.since,
        until=query.until,
        within_hours=query.within_hours,
        split=split,
        groups=[
            FunnelGroup(group=_group_label(key), steps=_results(query, counts, medians))
            for key, (counts, medians) in sorted(
                figures.items(), key=lambda g: (g[0] is None, str(g[0]))
            )
        ]
        or [FunnelGroup(group=None, steps=_results(query, [0] * len(moments), []))],
        computed_at=utcnow(),
    )


# Per group: how many reached each step, and the median seconds from each step to the next.
Figures = dict[Any, tuple[list[int], list[float | None]]]


def _figures_in_sql(session: Session, joined: Any, group: Any, moments: list[Any]) -> Figures:
    """Counted and medians taken by PostgreSQL: a funnel's first step may hold hundreds of
    thousands of customers, whose rows are not worth carrying to Python."""
    columns: list[Any] = [func.count(moment) for moment in moments]
    columns += [
        func.percentile_cont(0.5).within_group(func.extract("epoch", later - earlier))
        for earlier, later in itertools.pairwise(moments)
    ]
    stmt = select(group, *columns).select_from(joined).group_by(group)
    steps = len(moments)
    return {
        row[0]: (list(row[1 : 1 + steps]), [_float(m) for m in row[1 + steps :]])
        for row in session.execute(stmt)
    }


def _figures_in_python(session: Session, joined: Any, group: Any, moments: list[Any]) -> Figures:
    """The same on SQLite, which has no percentile: each customer's moments, counted here."""
    by_group: dict[Any, list[tuple[Any, ...]]] = defaultdict(list)
    for row in session.execute(select(group, *moments).select_from(joined)):
        by_group[row[0]].append(tuple(row[1:]))
    figures: Figures = {}
    for key, rows in by_group.items():
        counts = [sum(1 for r in rows if r[i] is not None) for i in range(len(moments))]
        medians = []
        for i in range(1, len(moments)):
            waits = [(r[i] - r[i - 1]).total_seconds() for r in rows if r[i] and r[i - 1]]
            medians.append(statistics.median(waits) if waits else None)
        figures[key] = (counts, medians)
    return figures


def _float(value: Any) -> float | None:
    return None if value is None else float(value)


def _group_label(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, bool):
        return IN_SEGMENT if value else NOT_IN_SEGMENT
    return str(value)


def _split(session: Session, query: FunnelQuery) -> tuple[Any, str]:
    if query.segment:
        rule = rule_of(get_segment(session, query.segment))
        return matching(session, rule, semi_join=False), "segment"
    if not query.split_by:
        return None, "none"
    if query.split_by.startswith("attribute:"):
        name = query.split_by.removeprefix("attribute:")
        if not name or len(name) > 100:
            raise InvalidInput("name the attribute: attribute:<name>", field="split_by")
        return Customer.attributes[name].as_string(), "field"
    column = SPLIT_FIELDS.get(query.split_by)
    if column is None:
        fields = ", ".join([*SPLIT_FIELDS, "attribute:<name>"])
        raise InvalidInput(f"split by one of {fields}", field="split_by")
    return column, "field"


def _results(
    query: FunnelQuery, counts: list[int], medians: list[float | None]
) -> list[FunnelStepResult]:
    entered = counts[0]
    results = []
    before = entered
    for index, step in enumerate(query.steps):
        count = counts[index]
        results.append(
            FunnelStepResult(
                event=step.event,
                customers=count,
                conversion=round(count / entered, 4) if entered else None,
                from_previous=round(count / before, 4) if before else None,
                drop_off=before - count if index else 0,
                median_seconds_to_convert=medians[index - 1] if index and medians else None,
            )
        )
        before = count
    return results
