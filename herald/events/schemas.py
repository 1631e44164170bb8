from __future__ import annotations

import json
import uuid
from datetime import datetime
from decimal import Decimal
from typing import Annotated, Any, Literal

import pycountry
from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Discriminator,
    EmailStr,
    Field,
    Tag,
    model_validator,
)

from herald.events.models import EventStatus

MAX_BATCH = 1000
MAX_PROPERTIES_BYTES = 32_768
EVENT_TYPE_PATTERN = r"^[a-z][a-z0-9_]*(?:[.:][a-z0-9_]+)*$"
# Event types Herald records itself (a segment entered, a tier changed, an inquiry received...):
# they start and move runs, so no key may post one.
RESERVED_NAMESPACES = ("herald.", "inquiry.", "journey.", "loyalty.", "newsletter.", "segment.")


def _not_reserved(kind: str) -> str:
    if kind.startswith(RESERVED_NAMESPACES):
        raise ValueError(
            f"event types beginning with {kind.split('.')[0]}. are Herald's own; "
            "name your event otherwise"
        )
    return kind


def _currency(code: str) -> str:
    code = code.upper()
    if pycountry.currencies.get(alpha_3=code) is None:
        raise ValueError(f"unknown ISO 4217 currency {code!r}")
    return code


class OrderPaidProperties(BaseModel):
    """The properties every ``order.paid`` event must carry (others are kept as sent)."""

    model_config = ConfigDict(extra="allow")

    order_id: Annotated[str, Field(min_length=1, max_length=200)]
    amount: Annotated[Decimal, Field(ge=0, max_digits=14, decimal_places=4)]
    currency: Annotated[str, Field(min_length=3, max_length=3), AfterValidator(_currency)]
    # Reward codes the order used: each is confirmed (its points spent for good).
    redemption_codes: list[Annotated[str, Field(min_length=4, max_length=32)]] = Field(
        default=[], max_length=20
    )


class OrderRefundedProperties(BaseModel):
    model_config = ConfigDict(extra="allow")

    order_id: Annotated[str, Field(min_length=1, max_length=200)]
    amount: Annotated[Decimal | None, Field(ge=0, max_digits=14, decimal_places=4)] = None
    currency: Annotated[str | None, AfterValidator(lambda c: c and _currency(c))] = None


class CustomerRef(BaseModel):
    """Who the event is about: Herald's id, the shop's id, or an email (one is enough).

    On ``signup`` an unknown customer is created from these fields.
    """

    model_config = ConfigDict(extra="forbid")

    id: uuid.UUID | None = None
    external_id: str | None = Field(default=None, min_length=1, max_length=200)
    email: EmailStr | None = None
    name: str | None = Field(default=None, max_length=200)

    @model_validator(mode="after")
    def _one_key(self) -> CustomerRef:
        if self.id is None and self.external_id is None and self.email is None:
            raise ValueError("give the customer's id, external_id or email")
        return self


class _EventFields(BaseModel):
    model_config = ConfigDict(extra="forbid")

    customer: CustomerRef
    occurred_at: AwareDatetime | None = None
    idempotency_key: str | None = Field(default=None, min_length=1, max_length=200)


def _bounded(properties: dict[str, Any]) -> dict[str, Any]:
    if len(json.dumps(properties, default=str)) > MAX_PROPERTIES_BYTES:
        raise ValueError(f"properties exceed {MAX_PROPERTIES_BYTES} bytes")
    return properties


class OrderPaidEvent(_EventFields):
    type: Literal["order.paid"]
    properties: OrderPaidProperties


class OrderRefundedEvent(_EventFields):
    type: Literal["order.refunded"]
    properties: OrderRefundedProperties


class CustomEvent(_EventFields):
    """``signup`` or any event type the merchant names; its properties are kept as sent."""

    type: Annotated[
        str,
        Field(pattern=EVENT_TYPE_PATTERN, max_length=100, examples=["signup"]),
        AfterValidator(_not_reserved),
    ]
    properties: Annotated[dict[str, Any], AfterValidator(_bounded)] = {}


def _event_kind(value: Any) -> str:
    kind = value.get("type") if isinstance(value, dict) else getattr(value, "type", None)
    return kind if kind in ("order.paid", "order.refunded") else "custom"


# Herald validates the properties it depends on (order events); other types pass through.
EventIn = Annotated[
    Annotated[OrderPaidEvent, Tag("order.paid")]
    | Annotated[OrderRefundedEvent, Tag("order.refunded")]
    | Annotated[CustomEvent, Tag("custom")],
    Discriminator(_event_kind),
]


class EventBatch(BaseModel):
    model_config = ConfigDict(extra="forbid")

    events: list[EventIn] = Field(min_length=1, max_length=MAX_BATCH)


class AcceptedEvent(BaseModel):
    id: uuid.UUID
    type: str
    customer_id: uuid.UUID | None
    duplicate: bool = Field(description="an event with this idempotency key was already accepted")


class EventsAccepted(BaseModel):
    accepted: int
    events: list[AcceptedEvent]


class EventOut(BaseModel):
    id: uuid.UUID
    type: str
    customer_id: uuid.UUID | None
    occurred_at: datetime
    received_at: datetime
    properties: dict[str, Any]
    idempotency_key: str | None
    dispatched_at: datetime | None = Field(
        description="when its workflows were started; empty while waiting"
    )
    dispatch_attempts: int
    last_dispatch_error: str | None
    retry_at: datetime | None = Field(
        description="when dispatch is tried again; empty once dispatched, or while parked"
    )
    status: EventStatus
    parked: bool = Field(description="failed too often on its own data: waits for a retry")
