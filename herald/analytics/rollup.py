"""Keeping an organization's rollups current: the ``AnalyticsRollup`` run calls ``refresh``.

A run first attributes the orders recorded since the last one, then recomputes every period
from the earliest day anything it has not seen could have changed:

- the day of the earliest payment among orders recorded or refunded since the last run (a
  history import reaches far back; a live order, today);
- a week before the last run, because opens and clicks are counted on the day their message
  went out and keep arriving for days after;
- the month of a currency rate set since;
- a day a change asked for (``dirty_from``: the attribution settings); everything when the
  reporting currency changed.

Every figure of a recomputed period is written anew from the source tables, so a run that
fails half-way, or runs twice, leaves nothing counted twice; a run after an outage simply
starts further back. A full rebuild recomputes everything.
"""

from __future__ import annotations

import statistics
import uuid
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any

from pydantic import BaseModel
from sqlalchemy import ColumnElement, delete, func, select
from sqlalchemy.orm import Session

from herald.analytics.attribution import (
    Windows,
    attribute_orders,
    may_have_been_touched,
    weight_column,
)
from herald.analytics.models import (
    AnalyticsAcquisition,
    AnalyticsCohort,
    AnalyticsPeriod,
    AnalyticsSettings,
    AnalyticsState,
    Granularity,
    OrderAttribution,
)
from herald.analytics.periods import period_floor, periods_between
from herald.analytics.schemas import AnalyticsSettingsIn
from herald.customers.models import Customer
from herald.db import (
    insert_if_absent,
    insert_rows,
    period_start,
    session_organization,
    shifted,
    start_of_day,
    utcnow,
)
from herald.messaging.models import Consent, ConsentStatus, Message
from herald.messaging.policy import WENT_OUT
from herald.orders.models import CurrencyRate, Order, OrderRefund
from herald.orders.money import converted_net, not_converted, reporting_currency
from herald.organizations.models import Organization

# Orders are attributed a page at a time (one candidate query each).
ATTRIBUTION_PAGE = 2_000
# A transaction that wrote a row just before a run began may commit just after it read: each
# run looks this far back past the last one, and redoing a little is harmless.
OVERLAP = timedelta(minutes=2)
# Opens and clicks count on their message's day and arrive for days after it.
ENGAGEMENT_LAG = timedelta(days=7)
DIRTY_NOTHING = date.max
# ``dirty_from`` for a change that reaches every period.
EVERYTHING = date.min
NO_CHANNEL = "direct"


class RollupOutcome(BaseModel):
    # Orders of this run that a message touched, and the attribution rows there are now.
    attributed_orders: int
    attribution_rows: int
    recomputed_from: date | None
    periods: int
    cohort_cells: int
    as_of: datetime


def settings_of(session: Session) -> AnalyticsSettings:
    """The organization's settings, or the defaults (not stored) when it has set none."""
    settings = session.scalar(select(AnalyticsSettings))
    return settings or AnalyticsSettings(**AnalyticsSettingsIn().model_dump())


def locked_state(session: Session) -> AnalyticsState:
    """The organization's rollup state, created if new, locked for the transaction: one writer
    of its rollups at a time (a run, and a campaign's decision attributing what is new)."""
    insert_if_absent(
        session,
        AnalyticsState,
        {"id": uuid.uuid4(), "organization_id": session_organization(session), "figures": {}},
        unique=["organization_id"],
    )
    state = session.scalar(select(AnalyticsState).with_for_update())
    assert state is not None
    return state


def mark_dirty(session: Session, since: date, *, reattribute: bool = False) -> None:
    """Asks the next run to recompute from ``since`` (and, with ``reattribute``, to attribute
    every order again), in the caller's transaction."""
    state = locked_state(session)
    if state.dirty_from is None or since < state.dirty_from:
        state.dirty_from = since
    state.reattribute = state.reattribute or reattribute


def attribute_new_orders(session: Session, *, now: datetime | None = None) -> int:
    """Attributes the orders recorded since the last call and commits; returns how many of
    them a message touched."""
    now = now or utcnow()
    state = locked_state(session)
    count = _attribute_since(session, state.attributed_through, Windows.of(settings_of(session)))
    state.attributed_through = now
    session.commit()
    return count


def _attribute_since(session: Session, since: datetime | None, windows: Windows) -> int:
    """Attributes the orders recorded since ``since`` (all, without) that a message may have
    touched, a page at a time; returns how many a message did touch."""
    stmt = (
        select(Order.id).where(may_have_been_touched(windows)).order_by(Order.created_at, Order.id)
    )
    if since is not None:
        stmt = stmt.where(Order.created_at >= since - OVERLAP)
    pks = list(session.scalars(stmt))
    return sum(
        attribute_orders(session, pks[start : start + ATTRIBUTION_PAGE], windows)
        for start in range(0, len(pks), ATTRIBUTION_PAGE)
    )


def refresh(session: Session, *, full: bool = False, now: datetime | None = None) -> RollupOutcome:
    """Brings the organization's rollups up to ``now`` (see the module's note) and commits."""
    now = now or utcnow()
    state = locked_state(session)
    settings = settings_of(session)
    windows = Windows.of(settings)
    if full or state.reattribute:
        # The windows changed, or a rebuild: every order's touches again.
        session.execute(delete(OrderAttribution))
        attributed_from = None
    else:
        attributed_from = state.attributed_through
    attributed = _attribute_since(session, attributed_from, windows)
    rows = session.scalar(select(func.count()).select_from(OrderAttribution)) or 0
    reporting = reporting_currency(session)
    everything = (
        full
        or state.as_of is None
        or state.dirty_from == EVERYTHING
        or state.figures.get("currency") != reporting
    )
    since = None if everything else _recompute_from(session, state)
    weight = weight_column(settings.attribution_model)
    periods = sum(
        _rollup_periods(session, granularity, since, reporting, weight)
        for granularity in Granularity
    )
    cells = sum(
        _rollup_cohorts(session, granularity, since, reporting)
        for granularity in (Granularity.week, Granularity.month)
    )
    _rollup_acquisition(session)
    state.figures = {**_figures(session), "currency": reporting}
    state.as_of = state.attributed_through = now
    state.dirty_from = None
    state.reattribute = False
    if full:
        state.rebuilt_at = now
    session.commit()
    return RollupOutcome(
        attributed_orders=attributed,
        attribution_rows=rows,
        recomputed_from=since,
        periods=periods,
        cohort_cells=cells,
        as_of=now,
    )


def _recompute_from(session: Session, state: AnalyticsState) -> date:
    assert state.as_of is not None
    seen = state.as_of - OVERLAP
    earliest_new = session.scalar(select(func.min(Order.paid_at)).where(Order.created_at >= seen))
    earliest_refunded = session.scalar(
        select(func.min(Order.paid_at)).where(
            Order.order_id.in_(select(OrderRefund.order_id).where(OrderRefund.created_at >= seen))
        )
    )
    # A rate set or changed since converts that month's orders anew.
    earliest_rate = session.scalar(
        select(func.min(CurrencyRate.month)).where(CurrencyRate.updated_at >= seen)
    )
    candidates = [
        (state.as_of - ENGAGEMENT_LAG).date(),
        earliest_rate or DIRTY_NOTHING,
        state.dirty_from or DIRTY_NOTHING,
        *(at.date() for at in (earliest_new, earliest_refunded) if at is not None),
    ]
    return min(candidates)


def _at_or_after(column: Any, start: date | None) -> ColumnElement[bool] | None:
    return None if start is None else column >= start_of_day(start)


def _grouped(
    session: Session, stmt: Any, column: Any, start: date | None, granularity: Granularity
) -> dict[date, Any]:
    """``stmt``'s aggregates per period of ``column`` from ``start`` on."""
    bucket = period_start(column, granularity.value)
    stmt = stmt.add_columns(bucket.label("bucket")).group_by(bucket)
    if (condition := _at_or_after(column, start)) is not None:
        stmt = stmt.where(condition)
    return {_as_date(row.bucket): row for row in session.execute(stmt)}


def _as_date(value: date | str) -> date:
    return date.fromisoformat(value) if isinstance(value, str) else value


def _rollup_periods(
    session: Session,
    granularity: Granularity,
    since: date | None,
    reporting: str,
    weight: Any,
) -> int:
    start = None if since is None else period_floor(since, granularity)
    net = converted_net(reporting)
    orders = _grouped(
        session,
        select(
            func.count().label("orders"),
            func.coalesce(func.sum(net), 0).label("revenue"),
            func.coalesce(func.sum(not_converted(reporting)), 0).label("not_converted"),
            func.count(func.distinct(Order.customer_id)).label("active"),
        ).select_from(Order),
        Order.paid_at,
        start,
        granularity,
    )
    customers = _grouped(
        session,
        select(func.count().label("new")).select_from(Customer),
        Customer.created_at,
        start,
        granularity,
    )
    went_out = Message.status.in_(WENT_OUT)
    messages = _grouped(
        session,
        select(
            func.count().label("messages"),
            func.count(Message.opened_at).label("opens"),
            func.count(Message.clicked_at).label("clicks"),
        )
        .select_from(Message)
        .where(went_out),
        Message.created_at,
        start,
        granularity,
    )
    unsubscribes = _grouped(
        session,
        select(func.count().label("unsubscribes"))
        .select_from(Consent)
        .where(Consent.status == ConsentStatus.revoked),
        Consent.updated_at,
        start,
        granularity,
    )
    attributed = _grouped(
        session,
        select(func.coalesce(func.sum(weight * net), 0).label("revenue"))
        .select_from(OrderAttribution)
        .join(Order, Order.id == OrderAttribution.order_pk),
        OrderAttribution.paid_at,
        start,
        granularity,
    )
    delete_stmt = delete(AnalyticsPeriod).where(AnalyticsPeriod.granularity == granularity)
    if start is not None:
        delete_stmt = delete_stmt.where(AnalyticsPeriod.start >= start)
    session.execute(delete_stmt)
    org = session_organization(session)
    rows = []
    for bucket in sorted({*orders, *customers, *messages, *unsubscribes, *attributed}):
        o, m = orders.get(bucket), messages.get(bucket)
        rows.append(
            {
                "id": uuid.uuid4(),
                "organization_id": org,
                "granularity": granularity,
                "start": bucket,
                "revenue": _money(o.revenue if o else 0),
                "orders": o.orders if o else 0,
                "orders_not_converted": int(o.not_converted) if o else 0,
                "active_customers": o.active if o else 0,
                "new_customers": customers[bucket].new if bucket in customers else 0,
                "messages": m.messages if m else 0,
                "opens": m.opens if m else 0,
                "clicks": m.clicks if m else 0,
                "unsubscribes": unsubscribes[bucket].unsubscribes if bucket in unsubscribes else 0,
                "attributed_revenue": _money(
                    attributed[bucket].revenue if bucket in attributed else 0
                ),
            }
        )
    insert_rows(session, AnalyticsPeriod, rows)
    return len(rows)


def _money(value: Any) -> Decimal:
    return Decimal(str(value or 0)).quantize(Decimal("0.0001"))


def _rollup_cohorts(
    session: Session, granularity: Granularity, since: date | None, reporting: str
) -> int:
    """Cells whose week or month is ``since``'s or later, from the orders paid in them joined
    to their customer's first order."""
    start = None if since is None else period_floor(since, granularity)
    cohort = period_start(Customer.first_order_at, granularity.value)
    at = period_start(Order.paid_at, granularity.value)
    stmt = (
        select(
            cohort.label("cohort"),
            at.label("at"),
            func.count(func.distinct(Order.customer_id)).label("customers"),
            func.count().label("orders"),
            func.coalesce(func.sum(converted_net(reporting)), 0).label("revenue"),
        )
        .select_from(Order)
        .join(Customer, Customer.id == Order.customer_id)
        .where(Customer.first_order_at.is_not(None))
        .group_by(cohort, at)
    )
    if (condition := _at_or_after(Order.paid_at, start)) is not None:
        stmt = stmt.where(condition)
    delete_stmt = delete(AnalyticsCohort).where(AnalyticsCohort.granularity == granularity)
    if start is not None:
        delete_stmt = delete_stmt.where(AnalyticsCohort.at >= start)
    session.execute(delete_stmt)
    org = session_organization(session)
    rows = []
    for row in session.execute(stmt):
        first, when = _as_date(row.cohort), _as_date(row.at)
        rows.append(
            {
                "id": uuid.uuid4(),
                "organization_id": org,
                "granularity": granularity,
                "cohort": first,
                "period": periods_between(first, when, granularity),
                "at": when,
                "customers": row.customers,
                "orders": row.orders,
                "revenue": _money(row.revenue),
            }
        )
    insert_rows(session, AnalyticsCohort, rows)
    return len(rows)


def _rollup_acquisition(session: Session) -> None:
    """Every month's new customers per channel, and how many of them have ordered since (a
    count that changes for old months too, so all months are recomputed: one pass over the
    organization's customers)."""
    month = period_start(Customer.created_at, "month")
    channel = func.coalesce(Customer.acquisition_channel, NO_CHANNEL)
    rows = session.execute(
        select(
            month.label("month"),
            channel.label("channel"),
            func.count().label("new"),
            func.count(Customer.first_order_at).label("buyers"),
            func.coalesce(func.sum(Customer.lifetime_value), 0).label("revenue"),
        )
        .where(Customer.deleted_at.is_(None))
        .group_by(month, channel)
    ).all()
    session.execute(delete(AnalyticsAcquisition))
    org = session_organization(session)
    insert_rows(
        session,
        AnalyticsAcquisition,
        [
            {
                "id": uuid.uuid4(),
                "organization_id": org,
                "month": _as_date(r.month),
                "channel": r.channel,
                "new_customers": r.new,
                "buyers": r.buyers,
                "revenue": _money(r.revenue),
            }
            for r in rows
        ],
    )


def _figures(session: Session) -> dict[str, Any]:
    """Whole-history figures from the customer rows' order figures: buyers, repeat buyers, and
    the typical time between a repeat buyer's orders (their span over their gaps)."""
    postgresql = session.get_bind().dialect.name == "postgresql"
    span = (
        func.extract("epoch", Customer.last_order_at - Customer.first_order_at) / 86400.0
        if postgresql
        else func.julianday(Customer.last_order_at) - func.julianday(Customer.first_order_at)
    )
    gap_days = span / (Customer.orders_count - 1)
    living = Customer.deleted_at.is_(None)
    buyers, repeat, mean = session.execute(
        select(
            func.count(Customer.first_order_at),
            func.count(Customer.id).filter(Customer.orders_count >= 2),
            func.avg(gap_days).filter(Customer.orders_count >= 2),
        ).where(living)
    ).one()
    if postgresql:
        median = session.scalar(
            select(func.percentile_cont(0.5).within_group(gap_days)).where(
                Customer.orders_count >= 2, living
            )
        )
    else:
        repeaters = select(gap_days).where(Customer.orders_count >= 2, living)
        gaps = [float(g) for g in session.scalars(repeaters) if g is not None]
        median = statistics.median(gaps) if gaps else None
    return {
        "buyers": buyers,
        "repeat_buyers": repeat,
        "median_days_between_orders": round(float(median), 2) if median is not None else None,
        "mean_days_between_orders": round(float(mean), 2) if mean is not None else None,
    }


def organizations_due(session: Session) -> list[uuid.UUID]:
    """Organizations whose rollups something new would change (a system session: every
    organization): never rolled up and not empty; a change asked for; orders or customers
    recorded since the last run; or messages recent enough that opens and clicks still come."""
    # Each subquery reads the outer organization's row (correlated to it at any depth).
    as_of = (
        select(AnalyticsState.as_of)
        .where(AnalyticsState.organization_id == Organization.id)
        .correlate_except(AnalyticsState)
        .scalar_subquery()
    )
    dirty = (
        select(AnalyticsState.id)
        .where(
            AnalyticsState.organization_id == Organization.id,
            (AnalyticsState.dirty_from.is_not(None)) | AnalyticsState.reattribute,
        )
        .correlate_except(AnalyticsState)
        .exists()
    )

    def since(model: Any, lag: timedelta = timedelta(0)) -> Any:
        return (
            select(model.id)
            .where(
                model.organization_id == Organization.id,
                as_of.is_(None)
                | (model.created_at >= shifted(as_of, -int((lag + OVERLAP).total_seconds()))),
            )
            .correlate_except(model)
            .exists()
        )

    return list(
        session.scalars(
            select(Organization.id)
            .where(
                dirty
                | since(Order)
                | since(Customer)
                | since(OrderRefund)
                | since(Message, ENGAGEMENT_LAG)
            )
            .order_by(Organization.id)
        )
    )
