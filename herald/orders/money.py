"""Money in one currency: the merchant's monthly rates, and order figures converted with them.

An order in the reporting currency counts as it is; one in another currency counts at the rate
set for the month it was paid in; one without such a rate is left out of every money figure
and counted as not converted. Amounts of different currencies are never added as they are.
"""

from __future__ import annotations

import uuid
from datetime import date, datetime
from decimal import Decimal
from typing import Any, TypeVarTuple

from sqlalchemy import ColumnElement, Select, SQLColumnExpression, and_, case, delete, func, select
from sqlalchemy.orm import Session

from herald.db import insert_if_absent, session_organization, utcnow
from herald.errors import NotFound
from herald.orders.models import CurrencyRate, Order
from herald.orders.schemas import CurrencyRateIn, CurrencyRateOut, CustomerMetrics
from herald.organizations.models import Organization

CENT = Decimal("0.01")
_Row = TypeVarTuple("_Row")
MAX_RATES_LISTED = 5000


def reporting_currency(session: Session) -> str:
    currency = session.scalar(
        select(Organization.reporting_currency).where(
            Organization.id == session_organization(session)
        )
    )
    return currency or "USD"


def _month(text: str) -> date:
    year, month = text.split("-")
    return date(int(year), int(month), 1)


def _rate_out(rate: CurrencyRate) -> CurrencyRateOut:
    return CurrencyRateOut(
        currency=rate.currency,
        month=f"{rate.month:%Y-%m}",
        rate=rate.rate,
        updated_at=rate.updated_at,
    )


def put_rates(session: Session, rates: list[CurrencyRateIn]) -> list[CurrencyRateOut]:
    """Set each (currency, month)'s rate, new or replacing the one set before."""
    org = session_organization(session)
    now = utcnow()
    for given in rates:
        month = _month(given.month)
        insert_if_absent(
            session,
            CurrencyRate,
            {
                "id": uuid.uuid4(),
                "organization_id": org,
                "currency": given.currency,
                "month": month,
                "rate": given.rate,
                "updated_at": now,
            },
            ["organization_id", "currency", "month"],
        )
        row = session.scalars(
            select(CurrencyRate).where(
                CurrencyRate.currency == given.currency, CurrencyRate.month == month
            )
        ).one()
        row.rate, row.updated_at = given.rate, now
    session.commit()
    return list_rates(session, currencies={r.currency for r in rates})


def list_rates(session: Session, *, currencies: set[str] | None = None) -> list[CurrencyRateOut]:
    stmt = select(CurrencyRate).order_by(CurrencyRate.currency, CurrencyRate.month.desc())
    if currencies:
        stmt = stmt.where(CurrencyRate.currency.in_(currencies))
    return [_rate_out(r) for r in session.scalars(stmt.limit(MAX_RATES_LISTED))]


def delete_rate(session: Session, currency: str, month: str) -> None:
    deleted = session.execute(
        delete(CurrencyRate)
        .where(CurrencyRate.currency == currency.upper(), CurrencyRate.month == _month(month))
        .execution_options(synchronize_session=False)
    )
    if not deleted.rowcount:  # type: ignore[attr-defined]
        raise NotFound("no rate for that currency and month")
    session.commit()


def converted_net(reporting: str | SQLColumnExpression[str]) -> ColumnElement[Any]:
    """An order's amount less its refunds in the reporting currency (a value, or a column
    such as the organization's own); NULL without a rate. Use with ``with_rates``."""
    net = Order.amount - Order.refunded_amount
    return case((Order.currency == reporting, net), else_=net * CurrencyRate.rate)


def not_converted(reporting: str | SQLColumnExpression[str]) -> ColumnElement[Any]:
    """1 for an order that no rate converts, else 0 (to be summed)."""
    return case(
        (and_(Order.currency != reporting, CurrencyRate.rate.is_(None)), 1),
        else_=0,
    )


def with_rates(stmt: Select[*_Row]) -> Select[*_Row]:
    """Join each order to the rate of its currency and month, if there is one."""
    return stmt.outerjoin(
        CurrencyRate,
        and_(CurrencyRate.currency == Order.currency, CurrencyRate.month == Order.paid_month),
    )


def customer_metrics(
    session: Session, customer_id: uuid.UUID, *, now: datetime | None = None
) -> CustomerMetrics:
    reporting = reporting_currency(session)
    value = converted_net(reporting)
    stmt = with_rates(
        select(
            func.count(Order.id),
            func.sum(value),
            func.count(value),
            func.sum(not_converted(reporting)),
            func.min(Order.paid_at),
            func.max(Order.paid_at),
        ).select_from(Order)
    ).where(Order.customer_id == customer_id)
    orders, total, converted, unconverted, first, last = session.execute(stmt).one()
    lifetime = Decimal(total or 0).quantize(CENT)
    return CustomerMetrics(
        currency=reporting,
        lifetime_value=lifetime,
        orders=orders,
        average_order_value=(lifetime / converted).quantize(CENT) if converted else None,
        first_order_at=first,
        last_order_at=last,
        days_since_last_order=((now or utcnow()) - last).days if last else None,
        orders_not_converted=unconverted or 0,
    )
