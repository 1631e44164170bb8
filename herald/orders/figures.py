"""Each customer's order figures, kept on the customer row so lists filter and sort by them:
orders, lifetime value (paid less refunded, in the reporting currency; an order no rate
converts adds nothing), first and last order. Recomputed from the orders, never adjusted by
deltas, whenever something they depend on changes: an order or refund (in the event's
transaction), a rate, the reporting currency."""

from __future__ import annotations

import uuid
from collections.abc import Collection
from typing import Any

from sqlalchemy import ColumnElement, func, select, update
from sqlalchemy.orm import Session

from herald.customers.models import Customer
from herald.db import one_of
from herald.orders import money
from herald.orders.models import Order


def _over_own_orders(value: Any) -> Any:
    return (
        select(value)
        .select_from(Order)
        .where(Order.customer_id == Customer.id)
        .correlate(Customer)
        .scalar_subquery()
    )


def refresh(session: Session, which: ColumnElement[bool]) -> None:
    """Recompute the figures of the customers ``which`` selects, in one UPDATE (not committed)."""
    converted = money.converted_net(money.reporting_currency(session))
    session.execute(
        update(Customer)
        .where(which)
        .values(
            orders_count=_over_own_orders(func.count(Order.id)),
            lifetime_value=_over_own_orders(func.coalesce(func.sum(converted), 0)),
            first_order_at=_over_own_orders(func.min(Order.paid_at)),
            last_order_at=_over_own_orders(func.max(Order.paid_at)),
            updated_at=Customer.updated_at,  # figures moving is not the profile being edited
        )
        .execution_options(synchronize_session=False)
    )


def refresh_customers(session: Session, customer_ids: Collection[uuid.UUID]) -> None:
    if customer_ids:
        refresh(session, one_of(session, Customer.id, customer_ids))


def refresh_buyers(session: Session, currency: str | None = None) -> None:
    """Every customer of the session's organization with an order (in ``currency`` only, if
    given): after a rate or the reporting currency changed."""
    orders = select(Order.customer_id).where(Order.customer_id.is_not(None))
    if currency is not None:
        orders = orders.where(Order.currency == currency)
    refresh(session, Customer.id.in_(orders))
