from __future__ import annotations

import uuid
from datetime import datetime
from decimal import Decimal
from typing import Annotated

import pycountry
from pydantic import AfterValidator, AwareDatetime, BaseModel, ConfigDict, Field

from herald.orders.models import OrderStatus

MAX_ITEMS = 500
MoneyIn = Annotated[Decimal, Field(ge=0, max_digits=14, decimal_places=4)]
OrderId = Annotated[str, Field(min_length=1, max_length=200)]


def iso_currency(code: str) -> str:
    code = code.upper()
    if pycountry.currencies.get(alpha_3=code) is None:
        raise ValueError(f"unknown ISO 4217 currency {code!r}")
    return code


Currency = Annotated[str, Field(min_length=3, max_length=3), AfterValidator(iso_currency)]


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
