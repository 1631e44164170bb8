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
    # Left out: unchanged. On: every customer with a birthday gets the ``loyalty-birthday``
    # message and ``birthday_points`` on their birthday, in their own time zone.
    birthday_enabled: bool | None = None
    birthday_points: int | None = Field(default=None, ge=0, le=1_000_000)


def plain_decimal(value: Decimal) -> str:
    """``2.5000`` as stored by the database, ``2.5`` as people write it."""
    return format(value.normalize(), "f")


class LoyaltySettingsOut(BaseModel):
    points_per_unit: Decimal
    rounding: Rounding
    birthday_enabled: bool = False
    birthday_points: int = 0
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


class BirthdayQuery(BaseModel):
    """One page of the customers whose birthday it is at ``at``, after ``after``."""

    at: datetime
    organization_id: uuid.UUID | None = None
    after: tuple[uuid.UUID, uuid.UUID] | None = None
    limit: int = Field(default=500, ge=1, le=5000)


class BirthdayRewardInput(BaseModel):
    """One customer's birthday of one year: the reward's key. Ids only."""

    organization_id: uuid.UUID
    customer_id: uuid.UUID
    year: int


class BirthdayPage(BaseModel):
    rewards: list[BirthdayRewardInput]
    after: tuple[uuid.UUID, uuid.UUID] | None


class BirthdaySweepInput(BaseModel):
    """The daily sweep. Scheduled runs take the day from their scheduled time; a run started
    by hand may name the instant (a missed day) and one organization."""

    at: datetime | None = None
    organization_id: uuid.UUID | None = None
    after: tuple[uuid.UUID, uuid.UUID] | None = None
    found: int = 0
    started: int = 0


class BirthdaySweepOutcome(BaseModel):
    at: datetime
    found: int
    started: int


class BirthdayPrepared(BaseModel):
    points: int
    balance: int | None
    template_id: uuid.UUID


class BirthdayRewardOutcome(BaseModel):
    points: int
    balance: int | None
    message_status: str
    message_reason: str | None
