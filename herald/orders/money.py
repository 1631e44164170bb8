"""Money in one currency: order amounts converted with the merchant's monthly rates.

An order in the reporting currency counts as it is; one in another currency counts at the rate
set for the month it was paid in; one without such a rate is left out of every money figure
and counted as not converted. Amounts of different currencies are never added as they are.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import ColumnElement, SQLColumnExpression, and_, case, func, select
from sqlalchemy.orm import Session

from herald.db import session_organization, utcnow
from herald.orders.models import CurrencyRate, Order
from herald.orders.schemas import CustomerMetrics
from herald.organizations.models import Organization

CENT = Decimal("0.01")


def reporting_currency(session: Session) -> str:
    currency = session.scalar(
        select(Organization.reporting_currency).where(
            Organization.id == session_organization(session)
        )
    )
    return currency or "USD"


def _rate() -> Any:
    """The rate of the order's currency for its month, NULL if the merchant set none: a
    look-up by the rates' unique key, made only for orders not in the reporting currency."""
    return (
        select(CurrencyRate.rate)
        .where(
            CurrencyRate.organization_id == Order.organization_id,
            CurrencyRate.currency == Order.currency,
            CurrencyRate.month == Order.paid_month,
        )
        .correlate(Order)
        .scalar_subquery()
    )


def own_reporting_currency() -> Any:
    """The reporting currency of each order's organization, for SQL that spans organizations
    or has no session to read it from."""
    return (
        select(Organization.reporting_currency)
        .where(Organization.id == Order.organization_id)
        .correlate(Order)
        .scalar_subquery()
    )


def converted_net(reporting: str | SQLColumnExpression[str]) -> ColumnElement[Any]:
    """An order's amount less its refunds in the reporting currency (a value read once, or
    ``own_reporting_currency()``); NULL when no rate converts it. Orders are read alone,
    joined to nothing: the orders' window index answers, and the rate is looked up only for
    orders in another currency."""
    net = Order.amount - Order.refunded_amount
    return case((Order.currency == reporting, net), else_=net * _rate())


def not_converted(reporting: str | SQLColumnExpression[str]) -> ColumnElement[Any]:
    """1 for an order that no rate converts, else 0 (to be summed)."""
    return case((and_(Order.currency != reporting, _rate().is_(None)), 1), else_=0)


def customer_metrics(
    session: Session, customer_id: uuid.UUID, *, now: datetime | None = None
) -> CustomerMetrics:
    reporting = reporting_currency(session)
    value = converted_net(reporting)
    stmt = select(
        func.count(Order.id),
        func.sum(value),
        func.count(value),
        func.sum(not_converted(reporting)),
        func.min(Order.paid_at),
        func.max(Order.paid_at),
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
