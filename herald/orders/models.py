from __future__ import annotations

import enum
import uuid
from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import Enum, ForeignKey, Index, Numeric, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from herald.db import Base, TenantScoped, utcnow

# Money: up to 14 digits before the point, 4 after (as order events carry it).
Money = Numeric(18, 4)


class OrderStatus(enum.StrEnum):
    paid = "paid"
    partially_refunded = "partially_refunded"
    refunded = "refunded"


class Order(TenantScoped, Base):
    """One row per (organization, the shop's order id), written in the transaction that stores
    the first ``order.paid`` event of that order; a later post of the same order changes
    nothing. ``history`` orders (paid longer ago than the organization's window when they
    arrived) are counted in every figure but award no points and start no runs."""

    __tablename__ = "orders"
    __table_args__ = (
        UniqueConstraint("organization_id", "order_id"),
        # A customer's orders by time, carrying what their money figures add up.
        Index(
            "ix_orders_customer",
            "organization_id",
            "customer_id",
            "paid_at",
            postgresql_include=["amount", "refunded_amount", "currency", "paid_month"],
        ),
        # Orders recorded since an instant: what the analytics rollup has not seen yet.
        Index("ix_orders_created", "organization_id", "created_at"),
        # Customers active per month, counted in index order without a sort.
        Index("ix_orders_month_customer", "organization_id", "paid_month", "customer_id"),
        # A window of the organization's orders, carrying who and how much: segment order
        # conditions and RFM read this index alone.
        Index(
            "ix_orders_paid",
            "organization_id",
            "paid_at",
            postgresql_include=[
                "customer_id",
                "amount",
                "refunded_amount",
                "currency",
                "paid_month",
            ],
        ),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    order_id: Mapped[str] = mapped_column(String(200))
    customer_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("customers.id", ondelete="SET NULL")
    )
    status: Mapped[OrderStatus] = mapped_column(
        Enum(OrderStatus, native_enum=False, length=20), default=OrderStatus.paid
    )
    currency: Mapped[str] = mapped_column(String(3))
    # What the customer paid, after discounts, shipping included.
    amount: Mapped[Decimal] = mapped_column(Money)
    discount: Mapped[Decimal] = mapped_column(Money, default=Decimal(0))
    shipping: Mapped[Decimal] = mapped_column(Money, default=Decimal(0))
    refunded_amount: Mapped[Decimal] = mapped_column(Money, default=Decimal(0))
    source: Mapped[str | None] = mapped_column(String(50))
    paid_at: Mapped[datetime]
    # The first day of the month it was paid in (UTC): the month whose rate converts it.
    paid_month: Mapped[date]
    history: Mapped[bool] = mapped_column(default=False)
    # The ``order.paid`` event that recorded it.
    event_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("events.id"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    items: Mapped[list[OrderItem]] = relationship(
        order_by="OrderItem.position", cascade="all, delete-orphan", lazy="raise"
    )


class OrderItem(TenantScoped, Base):
    """A line of an order, as the shop sent it."""

    __tablename__ = "order_items"
    __table_args__ = (Index("ix_order_items_product", "organization_id", "product_id"),)

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    order_pk: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("orders.id", ondelete="CASCADE"), index=True
    )
    position: Mapped[int]
    product_id: Mapped[str] = mapped_column(String(200))
    variant_id: Mapped[str | None] = mapped_column(String(200))
    name: Mapped[str | None] = mapped_column(String(300))
    quantity: Mapped[int]
    unit_price: Mapped[Decimal] = mapped_column(Money)


class OrderRefund(TenantScoped, Base):
    """One refund of an order, once per (organization, order id, refund id). Kept by the
    shop's order id, so a refund that overtakes its order's payment is not lost. ``amount``
    empty: the whole rest of the order."""

    __tablename__ = "order_refunds"
    __table_args__ = (
        UniqueConstraint("organization_id", "order_id", "refund_id"),
        Index("ix_order_refunds_created", "organization_id", "created_at"),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    order_id: Mapped[str] = mapped_column(String(200))
    refund_id: Mapped[str] = mapped_column(String(200))
    amount: Mapped[Decimal | None] = mapped_column(Money)
    currency: Mapped[str | None] = mapped_column(String(3))
    refunded_at: Mapped[datetime]
    # The ``order.refunded`` event that recorded it (its reversal run finds it by this).
    event_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("events.id"), index=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class CurrencyRate(TenantScoped, Base):
    """What one unit of ``currency`` is worth in the organization's reporting currency, for
    orders paid in ``month`` (its first day), as the merchant sets it."""

    __tablename__ = "currency_rates"
    __table_args__ = (UniqueConstraint("organization_id", "currency", "month"),)

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    currency: Mapped[str] = mapped_column(String(3))
    month: Mapped[date]
    rate: Mapped[Decimal] = mapped_column(Numeric(24, 10))
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)
