"""Money in one currency: order amounts converted with the merchant's monthly rates.

An order in the reporting currency counts as it is; one in another currency counts at the rate
set for the month it was paid in; one without such a rate is left out of every money figure
and counted as not converted. Amounts of different currencies are never added as they are.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from decimal import Decimal
from typing import Any, TypeVarTuple

from sqlalchemy import ColumnElement, Select, SQLColumnExpression, and_, case, func, select
from sqlalchemy.orm import Session

from herald.db import session_organization, utcnow
from herald.orders.models import CurrencyRate, Order
from herald.orders.schemas import CustomerMetrics
from herald.organizations.models import Organization

CENT = Decimal("0.01")
_Row = TypeVarTuple("_Row")


def reporting_currency(session: Session) -> str:
    currency = session.scalar(
        select(Organization.reporting_currency).where(
            Organization.id == session_organization(session)
        )
    )
    return currency or "USD"


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
