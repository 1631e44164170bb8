"""The loyalty program's Temporal contract: the names starters and the worker agree on, and
every payload its runs and activities exchange (ids and numbers, no personal data). A run in
flight depends on these: rename nothing, and give new fields defaults."""

from __future__ import annotations

import enum
import uuid
from datetime import datetime
from decimal import Decimal
from typing import Literal

from pydantic import BaseModel, Field

from herald.temporal import tenant_workflow_id

AWARD_WORKFLOW = "AwardOrderPoints"
REVERSE_WORKFLOW = "ReverseOrderPoints"
REDEMPTION_WORKFLOW = "RewardRedemption"
# Sent when a code is used or given back: its run stops holding.
SETTLED_SIGNAL = "settled"
TIER_REVIEW_WORKFLOW = "TierReview"
TIER_CHANGED_SIGNAL = "tier_changed"
REFERRAL_WORKFLOW = "ReferralReward"
BIRTHDAY_WORKFLOW = "BirthdayReward"
BIRTHDAY_SWEEP_WORKFLOW = "BirthdayRewards"
EXPIRY_SWEEP_WORKFLOW = "ExpirePoints"


class AwardOrderPointsInput(BaseModel):
    """Workflow and activity input for an ``order.paid`` award. Ids only, no personal data."""

    organization_id: uuid.UUID
    customer_id: uuid.UUID
    order_id: str
    amount: Decimal
    currency: str
    event_id: uuid.UUID
    # Reward codes the order used, confirmed with the award.
    redemption_codes: list[str] = []


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
    "redeemed",
    "released",
    "adjusted",
    "expired",
]


class LedgerOutcome(BaseModel):
    """What an award or reversal did; the workflow's result, shown in the Temporal UI."""

    status: OutcomeStatus
    points: int
    balance: int
    entry_id: uuid.UUID | None


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
    # The gift's code and reward, when the program gives one.
    code: str | None = None
    reward: str | None = None


class BirthdayRewardOutcome(BaseModel):
    points: int
    balance: int | None
    message_status: str
    message_reason: str | None


class RedemptionHold(BaseModel):
    """The ``RewardRedemption`` run's input: release the points at ``expires_at`` unless the
    code was used or given back first."""

    organization_id: uuid.UUID
    redemption_id: uuid.UUID
    expires_at: datetime


class RedemptionExpiry(BaseModel):
    organization_id: uuid.UUID
    redemption_id: uuid.UUID
    # The run's clock: a code lapses only once its time has come.
    due: datetime


class TierMember(BaseModel):
    """A ``TierReview`` run's subject. Ids only."""

    organization_id: uuid.UUID
    customer_id: uuid.UUID


class TierReviewRequest(TierMember):
    at: datetime


class TierReviewOutcome(BaseModel):
    tier: str | None
    changed: bool
    next_review: datetime | None


class ReferralRewardInput(BaseModel):
    organization_id: uuid.UUID
    referral_id: uuid.UUID
    order_id: str


class ExpiryQuery(BaseModel):
    at: datetime
    after: uuid.UUID | None = None
    limit: int = Field(default=500, ge=1, le=5000)


class ExpiryPage(BaseModel):
    customer_ids: list[uuid.UUID]
    after: uuid.UUID | None


class ExpiryBatch(BaseModel):
    organization_id: uuid.UUID
    customer_ids: list[uuid.UUID]
    at: datetime


class ExpiryOutcome(BaseModel):
    expired: int
    announced: int


class ExpirySweepInput(BaseModel):
    """The daily expiry sweep; ``at`` and ``organization_id`` for a run started by hand."""

    at: datetime | None = None
    organization_id: uuid.UUID | None = None


class ExpirySweepOutcome(BaseModel):
    at: datetime
    customers: int
    expired: int
    announced: int


def birthday_workflow_id(reward: BirthdayRewardInput) -> str:
    return tenant_workflow_id(
        BIRTHDAY_WORKFLOW, reward.organization_id, reward.customer_id, reward.year
    )


def birthday_message_key(reward: BirthdayRewardInput) -> str:
    return f"birthday/{reward.customer_id}/{reward.year}"


class RedemptionStatus(enum.StrEnum):
    reserved = "reserved"  # points held, code issued, waiting for the order
    confirmed = "confirmed"  # the order used the code
    released = "released"  # lapsed or cancelled: the points came back
