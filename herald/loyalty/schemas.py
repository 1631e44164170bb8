from __future__ import annotations

import uuid
from datetime import datetime
from decimal import Decimal
from typing import Any, Literal

from pydantic import BaseModel, Field, field_serializer

from herald.loyalty.models import EntryKind, Rounding


class LoyaltySettingsIn(BaseModel):
    points_per_unit: Decimal = Field(gt=0, le=10_000, decimal_places=4)
    rounding: Rounding = Rounding.down


def plain_decimal(value: Decimal) -> str:
    """``2.5000`` as stored by the database, ``2.5`` as people write it."""
    return format(value.normalize(), "f")


class LoyaltySettingsOut(BaseModel):
    points_per_unit: Decimal
    rounding: Rounding
    updated_at: datetime | None

    @field_serializer("points_per_unit")
    def _plain(self, value: Decimal) -> str:
        return plain_decimal(value)


class AwardOrderPointsInput(BaseModel):
    """Workflow and activity input for an ``order.paid`` award. Ids only, no personal data."""

    organization_id: uuid.UUID
    customer_id: uuid.UUID
    order_id: str
    amount: Decimal
    currency: str
    event_id: uuid.UUID


class ReverseOrderPointsInput(BaseModel):
    organization_id: uuid.UUID
    customer_id: uuid.UUID
    order_id: str
    event_id: uuid.UUID


OutcomeStatus = Literal[
    "awarded",
    "already_awarded",
    "order_refunded",
    "reversed",
    "already_reversed",
    "refund_recorded",
]


class LedgerOutcome(BaseModel):
    """What an award or reversal did; the workflow's result, shown in the Temporal UI."""

    status: OutcomeStatus
    points: int
    balance: int
    entry_id: uuid.UUID | None


class LedgerEntryOut(BaseModel):
    id: uuid.UUID
    kind: EntryKind
    points: int
    source: str
    source_id: str
    reverses_entry_id: uuid.UUID | None
    details: dict[str, Any]
    created_at: datetime


class PointsOut(BaseModel):
    customer_id: uuid.UUID
    balance: int
    lifetime_earned: int
    entries: list[LedgerEntryOut]
    next_cursor: str | None
