"""Orders and refunds, recorded in the transaction that stores their events.

An order is the first ``order.paid`` of its ``order_id``; a refund is the first
``order.refunded`` of its (``order_id``, ``refund_id``). The events service asks which of a
batch are already recorded (one query each), answers repeats as duplicates of the event that
recorded them, and records the rest here.
"""

from __future__ import annotations

import uuid
from collections.abc import Collection
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from sqlalchemy import and_, case, func, select, tuple_, update
from sqlalchemy.orm import Session, selectinload

from herald.db import one_of
from herald.errors import InvalidInput, NotFound
from herald.orders.models import Order, OrderItem, OrderRefund, OrderStatus
from herald.orders.schemas import OrderOut, OrderPaidProperties, OrderRefundedProperties
from herald.organizations.models import Organization
from herald.pagination import Page, page_of
from herald.products import service as products

RefundKey = tuple[str, str]  # (order id, refund id)


def history_window(session: Session, organization_id: uuid.UUID) -> timedelta:
    """Orders paid longer ago than this when they arrive are history."""
    days = session.scalar(
        select(Organization.order_history_days).where(Organization.id == organization_id)
    )
    return timedelta(days=days if days is not None else 30)


def recorded_orders(session: Session, order_ids: Collection[str]) -> dict[str, Order]:
    """Which of these orders are recorded, by order id."""
    if not order_ids:
        return {}
    rows = session.scalars(select(Order).where(one_of(session, Order.order_id, order_ids)))
    return {order.order_id: order for order in rows}


def recorded_refunds(session: Session, keys: Collection[RefundKey]) -> dict[RefundKey, uuid.UUID]:
    """Which of these refunds are recorded: (order id, refund id) → the event that did."""
    if not keys:
        return {}
    rows = session.execute(
        select(OrderRefund.order_id, OrderRefund.refund_id, OrderRefund.event_id).where(
            tuple_(OrderRefund.order_id, OrderRefund.refund_id).in_(list(keys))
        )
    )
    return {(order_id, refund_id): event_id for order_id, refund_id, event_id in rows}


def record_paid(
    session: Session,
    paid: OrderPaidProperties,
    *,
    organization_id: uuid.UUID,
    customer_id: uuid.UUID,
    event_id: uuid.UUID,
    paid_at: datetime,
    now: datetime,
    history_after: timedelta,
) -> Order:
    """Add the order (the caller checked it is new) with its items; refunds that overtook it
    count at once."""
    order = Order(
        id=uuid.uuid4(),
        organization_id=organization_id,
        order_id=paid.order_id,
        customer_id=customer_id,
        currency=paid.currency,
        amount=paid.amount,
        discount=paid.discount,
        shipping=paid.shipping,
        source=paid.source,
        paid_at=paid_at,
        paid_month=paid_at.astimezone(UTC).date().replace(day=1),
        history=now - paid_at > history_after,
        event_id=event_id,
        items=[
            OrderItem(
                organization_id=organization_id,
                position=position,
                product_id=item.product_id,
                variant_id=item.variant_id,
                name=item.name,
                quantity=item.quantity,
                unit_price=item.unit_price,
            )
            for position, item in enumerate(paid.items)
        ],
    )
    products.add_from_line_items(
        session, ((i.product_id, i.name, i.unit_price) for i in paid.items), paid.currency
    )
    earlier = refunds_of(session, paid.order_id)
    for refund in earlier:
        _check_currency(order.currency, refund.currency)
    refunded = sum(
        (r.amount if r.amount is not None else order.amount for r in earlier), Decimal(0)
    )
    order.refunded_amount = min(refunded, order.amount)
    order.status = _status(order.refunded_amount, order.amount)
    session.add(order)
    return order


def record_refund(
    session: Session,
    refund: OrderRefundedProperties,
    *,
    organization_id: uuid.UUID,
    refund_id: str,
    event_id: uuid.UUID,
    refunded_at: datetime,
) -> None:
    """Add the refund (the caller checked it is new) and move its order's refunded amount and
    status in one UPDATE, so concurrent refunds of one order all count."""
    order_currency = session.scalar(select(Order.currency).where(Order.order_id == refund.order_id))
    _check_currency(order_currency, refund.currency)
    session.add(
        OrderRefund(
            organization_id=organization_id,
            order_id=refund.order_id,
            refund_id=refund_id,
            amount=refund.amount,
            currency=refund.currency,
            refunded_at=refunded_at,
            event_id=event_id,
        )
    )
    if order_currency is None:
        return  # the order is not here yet: it counts this refund when it arrives
    refunded = (
        Order.amount
        if refund.amount is None
        else case(
            (Order.refunded_amount + refund.amount > Order.amount, Order.amount),
            else_=Order.refunded_amount + refund.amount,
        )
    )
    session.execute(
        update(Order)
        .where(Order.order_id == refund.order_id)
        .values(
            refunded_amount=refunded,
            # The rule of ``_status``, in SQL: a zero-amount order refunded "whole" stays paid.
            status=case(
                (and_(refunded > 0, refunded >= Order.amount), OrderStatus.refunded.value),
                (refunded > 0, OrderStatus.partially_refunded.value),
                else_=OrderStatus.paid.value,
            ),
        )
        .execution_options(synchronize_session=False)
    )


def _check_currency(order_currency: str | None, refund_currency: str | None) -> None:
    if order_currency and refund_currency and order_currency != refund_currency:
        raise InvalidInput(
            f"the order was paid in {order_currency}; a refund of it is in that currency too",
            field="properties.currency",
        )


def _status(refunded: Decimal, amount: Decimal) -> OrderStatus:
    if refunded >= amount and refunded > 0:
        return OrderStatus.refunded
    return OrderStatus.partially_refunded if refunded > 0 else OrderStatus.paid


def find_order(session: Session, order_id: str) -> Order | None:
    return session.scalar(select(Order).where(Order.order_id == order_id))


def order_count(session: Session, customer_id: uuid.UUID) -> int:
    return session.scalar(select(func.count()).where(Order.customer_id == customer_id)) or 0


def order_status(session: Session, order_id: str) -> str | None:
    """The order's status as stored now (None: not recorded yet)."""
    status = session.scalar(select(Order.status).where(Order.order_id == order_id))
    return status.value if status is not None else None


def refund_of_event(session: Session, event_id: uuid.UUID) -> OrderRefund | None:
    """The refund an ``order.refunded`` event recorded (None: it repeated an earlier one)."""
    return session.scalar(select(OrderRefund).where(OrderRefund.event_id == event_id))


def refunds_of(session: Session, order_id: str) -> list[OrderRefund]:
    return list(session.scalars(select(OrderRefund).where(OrderRefund.order_id == order_id)))


def _order_out(order: Order) -> OrderOut:
    return OrderOut.model_validate(order, from_attributes=True)


def get_order(session: Session, order_id: str) -> OrderOut:
    order = session.scalar(
        select(Order).where(Order.order_id == order_id).options(selectinload(Order.items))
    )
    if order is None:
        raise NotFound("no such order")
    return _order_out(order)


def orders_of(
    session: Session, customer_id: uuid.UUID, *, limit: int = 50, cursor: str | None = None
) -> Page[OrderOut]:
    """A customer's orders with their items, the latest paid first."""
    stmt = select(Order).where(Order.customer_id == customer_id).options(selectinload(Order.items))
    return page_of(session, stmt, Order.paid_at, Order.id, _order_out, limit=limit, cursor=cursor)
