"""``GET /v1/customers/stats``: totals from the figures kept on each customer row, new and
active customers per period from the customers' and orders' time indexes."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from decimal import Decimal

from sqlalchemy import Select, case, func, select
from sqlalchemy.orm import Session

from herald.customers.models import Customer
from herald.db import period_start, utcnow
from herald.orders.models import Order
from herald.orders.money import CENT, reporting_currency
from herald.profiles.schemas import CountryFigures, CustomerStats, Period, PeriodFigures

COUNTRIES_LISTED = 50


def _first_start(unit: Period, periods: int, now: datetime) -> date:
    """The first day of the earliest of the ``periods`` periods ending with the current one."""
    today = now.date()
    if unit == "day":
        return today - timedelta(days=periods - 1)
    if unit == "week":
        return today - timedelta(days=today.weekday() + 7 * (periods - 1))
    month = today.year * 12 + today.month - 1 - (periods - 1)
    return date(month // 12, month % 12 + 1, 1)


def customer_stats(
    session: Session, *, unit: Period = "month", periods: int = 12, now: datetime | None = None
) -> CustomerStats:
    now = now or utcnow()
    live = Customer.deleted_at.is_(None)
    bought = Customer.orders_count >= 1
    total, buyers, repeat, average = session.execute(
        select(
            func.count(),
            func.coalesce(func.sum(case((bought, 1), else_=0)), 0),
            func.coalesce(func.sum(case((Customer.orders_count >= 2, 1), else_=0)), 0),
            func.avg(case((bought, Customer.lifetime_value))),
        ).where(live)
    ).one()
    countries = session.execute(
        select(
            Customer.country,
            func.count(),
            func.coalesce(func.sum(case((bought, 1), else_=0)), 0),
            func.coalesce(func.sum(Customer.lifetime_value), 0),
        )
        .where(live)
        .group_by(Customer.country)
        .order_by(func.count().desc(), Customer.country)
        .limit(COUNTRIES_LISTED)
    ).all()
    return CustomerStats(
        currency=reporting_currency(session),
        total=total,
        buyers=buyers,
        repeat_buyers=repeat,
        repeat_purchase_rate=round(repeat / buyers, 4) if buyers else None,
        average_lifetime_value=Decimal(average).quantize(CENT) if average is not None else None,
        periods=_periods(session, unit, periods, now),
        by_country=[
            CountryFigures(
                country=country,
                customers=count,
                buyers=buying,
                lifetime_value=Decimal(value).quantize(CENT),
            )
            for country, count, buying, value in countries
        ],
    )


def _periods(session: Session, unit: Period, periods: int, now: datetime) -> list[PeriodFigures]:
    first = _first_start(unit, periods, now)
    since = datetime(first.year, first.month, first.day, tzinfo=now.tzinfo)
    joined = period_start(Customer.created_at, unit)
    new = dict(
        session.execute(
            select(joined, func.count())
            .where(Customer.deleted_at.is_(None), Customer.created_at >= since)
            .group_by(joined)
        ).all()
    )
    active: dict[date, int] = {p: n for p, n in session.execute(_active(unit, first, since))}
    starts = [first]
    while len(starts) < periods:
        starts.append(_next(starts[-1], unit))
    return [PeriodFigures(start=s, new=new.get(s, 0), active=active.get(s, 0)) for s in starts]


def _active(unit: Period, first: date, since: datetime) -> Select[date, int]:
    """Customers who paid for an order, per period. By month, the orders' (month, customer)
    index is read in order and each pair kept once: no sort of a year of orders."""
    if unit == "month":
        pairs = (
            select(Order.paid_month, Order.customer_id)
            .where(Order.paid_month >= first)
            .distinct()
            .subquery()
        )
        return select(pairs.c.paid_month, func.count()).group_by(pairs.c.paid_month)
    paid = period_start(Order.paid_at, unit)
    return (
        select(paid, func.count(func.distinct(Order.customer_id)))
        .where(Order.paid_at >= since)
        .group_by(paid)
    )


def _next(start: date, unit: Period) -> date:
    if unit == "day":
        return start + timedelta(days=1)
    if unit == "week":
        return start + timedelta(days=7)
    return date(start.year + start.month // 12, start.month % 12 + 1, 1)
