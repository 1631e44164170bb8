"""Each customer's order figures, kept on the customer row so lists filter and sort by them:
orders, lifetime value (paid less refunded, in the reporting currency; an order no rate
converts adds nothing), first and last order. Recomputed from the orders, never adjusted by
deltas, whenever something they depend on changes: an order or refund (in the event's
transaction); a rate or the reporting currency (a ``RefreshCustomerFigures`` run, a page of
buyers per short transaction: rewriting a million rows in one would hold their locks for a
minute and more)."""

from __future__ import annotations

import uuid
from collections.abc import Collection
from typing import Any

from sqlalchemy import ColumnElement, exists, func, select, update
from sqlalchemy.orm import Session

from herald.customers.models import Customer
from herald.db import one_of
from herald.events.models import Event
from herald.orders import money
from herald.orders.contracts import FIGURES_STALE, FiguresPageDone
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


def refresh_page(
    session: Session, currency: str | None, after: uuid.UUID | None, size: int
) -> FiguresPageDone:
    """One page of a ``RefreshCustomerFigures`` run: the next ``size`` buyers by id (those
    with an order in ``currency``, if given), recomputed and committed."""
    buyers = select(Customer.id).where(Customer.orders_count > 0)
    if currency is not None:
        buyers = buyers.where(
            exists().where(Order.customer_id == Customer.id, Order.currency == currency)
        )
    if after is not None:
        buyers = buyers.where(Customer.id > after)
    ids = list(session.scalars(buyers.order_by(Customer.id).limit(size)))
    refresh_customers(session, ids)
    session.commit()
    return FiguresPageDone(refreshed=len(ids), after=ids[-1] if len(ids) == size else None)


def figures_stale(currency: str | None = None) -> Event:
    """The event whose reaction recomputes the buyers' figures in pages (a run, not this
    request): after a rate or the reporting currency changed."""
    return Event.emitted(FIGURES_STALE, None, {"currency": currency})
