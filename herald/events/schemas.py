from __future__ import annotations

import json
import uuid
from datetime import datetime
from typing import Annotated, Any, Literal

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

from herald.events.models import (
    CUSTOMER_CREATED,
    CUSTOMER_FIRST_ORDER,
    CUSTOMER_REFUNDED,
    EventStatus,
)
from herald.orders.schemas import OrderPaidProperties, OrderRefundedProperties

MAX_BATCH = 1000
# The refund id of a whole-order refund posted without a refund id or idempotency key.
WHOLE_REFUND = "whole"
MAX_PROPERTIES_BYTES = 32_768
EVENT_TYPE_PATTERN = r"^[a-z][a-z0-9_]*(?:[.:][a-z0-9_]+)*$"
# Event types Herald records itself (a segment entered, a tier changed, an inquiry received...):
# they start and move runs, so no key may post one.
RESERVED_NAMESPACES = ("herald.", "inquiry.", "journey.", "loyalty.", "newsletter.", "segment.")
HERALD_CUSTOMER_EVENTS = frozenset({CUSTOMER_CREATED, CUSTOMER_FIRST_ORDER, CUSTOMER_REFUNDED})


def _not_reserved(kind: str) -> str:
    if kind in HERALD_CUSTOMER_EVENTS:
        raise ValueError(f"{kind} is an event Herald records itself; name your event otherwise")
    if kind.startswith(RESERVED_NAMESPACES):
        raise ValueError(
            f"event types beginning with {kind.split('.')[0]}. are Herald's own; "
            "name your event otherwise"
        )
    return kind


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

    @model_validator(mode="after")
    def _refund_named(self) -> OrderRefundedEvent:
        if self.refund_id is None:
            raise ValueError(
                "a refund of part of an order needs a properties.refund_id or an "
                "idempotency_key, so that posting it again cannot refund twice"
            )
        return self

    @property
    def refund_id(self) -> str | None:
        """Which refund of the order this is: the shop's refund id, else the idempotency key;
        a refund of the whole order without either is the order's one whole refund."""
        if self.properties.refund_id or self.idempotency_key:
            return self.properties.refund_id or self.idempotency_key
        return WHOLE_REFUND if self.properties.amount is None else None


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
    duplicate: bool = Field(
        description="already accepted: an event with this idempotency key, or one recording "
        "the same order (order.paid) or refund (order.refunded); its id is given"
    )
    history: bool = Field(
        default=False,
        description="an order paid before the organization's order history window (or a "
        "refund of one): recorded and counted, but it awards no points and starts no runs",
    )


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
