from __future__ import annotations

import uuid
from datetime import datetime
from decimal import Decimal
from typing import Annotated

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from herald.iso_codes import Currency
from herald.orders.models import OrderStatus

MAX_ITEMS = 500
MoneyIn = Annotated[Decimal, Field(ge=0, max_digits=14, decimal_places=4)]
OrderId = Annotated[str, Field(min_length=1, max_length=200)]


class OrderItemIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    product_id: Annotated[str, Field(min_length=1, max_length=200)]
    variant_id: Annotated[str | None, Field(min_length=1, max_length=200)] = None
    name: Annotated[str | None, Field(max_length=300)] = None
    quantity: Annotated[int, Field(ge=1, le=1_000_000)] = 1
    unit_price: MoneyIn


class OrderPaidProperties(BaseModel):
    """The properties every ``order.paid`` event must carry (others are kept as sent). The
    first event of an order records it; later ones of the same ``order_id`` change nothing."""

    model_config = ConfigDict(extra="allow")

    order_id: OrderId
    amount: MoneyIn = Field(description="what the customer paid, after discounts")
    currency: Currency
    discount: MoneyIn = Decimal(0)
    shipping: MoneyIn = Decimal(0)
    source: Annotated[str | None, Field(max_length=50, examples=["web", "pos"])] = None
    paid_at: AwareDatetime | None = Field(
        default=None, description="when it was paid; the event's occurred_at when left out"
    )
    items: list[OrderItemIn] = Field(default=[], max_length=MAX_ITEMS)
    # Reward codes the order used: each is confirmed (its points spent for good).
    redemption_codes: list[Annotated[str, Field(min_length=4, max_length=32)]] = Field(
        default=[], max_length=20
    )


class OrderRefundedProperties(BaseModel):
    """A refund of (part of) an order. Each ``refund_id`` counts once per order; it defaults
    to the event's idempotency key. Without an amount the whole rest of the order is
    refunded."""

    model_config = ConfigDict(extra="allow")

    order_id: OrderId
    refund_id: Annotated[str | None, Field(min_length=1, max_length=200)] = None
    amount: MoneyIn | None = None
    currency: Currency | None = None


class OrderItemOut(BaseModel):
    product_id: str
    variant_id: str | None
    name: str | None
    quantity: int
    unit_price: Decimal


class OrderOut(BaseModel):
    id: uuid.UUID
    order_id: str
    customer_id: uuid.UUID | None
    status: OrderStatus
    currency: str
    amount: Decimal
    discount: Decimal
    shipping: Decimal
    refunded_amount: Decimal
    source: str | None
    paid_at: datetime
    history: bool = Field(
        description="paid before the organization's window when it arrived: counted in "
        "figures, but it awarded no points and started no runs"
    )
    items: list[OrderItemOut]


Month = Annotated[str, Field(pattern=r"^\d{4}-(0[1-9]|1[0-2])$", examples=["2026-11"])]


class CurrencyRateIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    currency: Currency
    month: Month
    rate: Annotated[Decimal, Field(gt=0, max_digits=24, decimal_places=10)] = Field(
        description="what one unit of the currency is worth in the reporting currency"
    )


class CurrencyRatesIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    rates: list[CurrencyRateIn] = Field(min_length=1, max_length=500)


class CurrencyRateOut(BaseModel):
    currency: str
    month: str
    rate: Decimal
    updated_at: datetime


class CustomerMetrics(BaseModel):
    """A customer's order figures; money in the organization's reporting currency."""

    currency: str = Field(description="the organization's reporting currency")
    lifetime_value: Decimal = Field(
        description="what the customer paid, less refunds, over every order that converts"
    )
    orders: int
    average_order_value: Decimal | None
    first_order_at: datetime | None
    last_order_at: datetime | None
    days_since_last_order: int | None
    orders_not_converted: int = Field(
        description="orders in another currency without a rate for their month: left out of "
        "the money figures, never summed as they are"
    )
