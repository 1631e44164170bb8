"""Campaign sends' Temporal contract: the names starters and the worker agree on, and every
payload and state a CampaignSend run and its activities exchange. A run in flight depends on
these: rename nothing, and give new fields defaults (a run's history holds the old shape)."""

from __future__ import annotations

import enum
import uuid
from datetime import datetime, timedelta

from pydantic import BaseModel, ConfigDict, Field

from herald.temporal import tenant_workflow_id

CAMPAIGN_WORKFLOW = "CampaignSend"
PAUSE_SIGNAL = "pause"
RESUME_SIGNAL = "resume"
CANCEL_SIGNAL = "cancel"
PROGRESS_QUERY = "progress"


def campaign_workflow_id(organization_id: uuid.UUID, campaign_id: uuid.UUID) -> str:
    """One send per campaign. A campaign keeps the id its run was started under
    (``Campaign.workflow_id``): runs started before this scheme are ``campaign-<id>``."""
    return tenant_workflow_id(CAMPAIGN_WORKFLOW, organization_id, campaign_id)


class CampaignPlan(BaseModel):
    """What the run needs to know, read once when it begins."""

    organization_id: uuid.UUID
    campaign_id: uuid.UUID
    ab: ABTest | None
    send_at: datetime | None
    rate_limit_per_s: int | None


class Snapshot(BaseModel):
    recipients: int
    test_size: int


class CampaignBatch(BaseModel):
    """Recipients at positions [start, end) of the snapshot."""

    organization_id: uuid.UUID
    campaign_id: uuid.UUID
    start: int
    end: int
    # The remainder's variant, once the test has picked it.
    winner: str | None = None
    workflow_time: datetime | None = None


class BatchOutcome(BaseModel):
    by_status: dict[str, int]
    # Quiet hours hold some of the batch: send the range again at this time.
    held_until: datetime | None = None


class StatusChange(BaseModel):
    organization_id: uuid.UUID
    campaign_id: uuid.UUID
    status: CampaignStatus
    # Why the send failed (with ``failed`` only).
    reason: str | None = None


class Phase(enum.StrEnum):
    begin = "begin"  # waiting for the send time, then snapshotting the audience
    test = "test"  # sending the variants to the test group
    window = "window"  # the test group's results come in
    remainder = "remainder"  # the rest of the audience gets the winner
    send = "send"  # no test: everyone gets an even share of the variants
    done = "done"


class HeldRange(BaseModel):
    """Positions quiet hours held back, sent again when they end."""

    start: int
    end: int
    until: datetime
    counted: dict[str, int]


class CampaignState(BaseModel):
    """Everything the run knows; carried over when it continues as new."""

    phase: Phase = Phase.begin
    plan: CampaignPlan | None = None
    recipients: int = 0
    test_size: int = 0
    next_position: int = 0
    window_ends: datetime | None = None
    winner: str | None = None
    paused: bool = False
    cancelled: bool = False
    by_status: dict[str, int] = {}
    held: list[HeldRange] = []
    # Pacing under a rate limit: messages handed over since this moment.
    paced_since: datetime | None = None
    paced_count: int = 0
    published: CampaignStatus | None = None
    batches: int = 0
    # Why the send failed for good, once it has.
    failure: str | None = None


class CampaignSendInput(BaseModel):
    organization_id: uuid.UUID
    campaign_id: uuid.UUID
    state: CampaignState | None = None
    # Batches a run hands over before it continues as new (the workflow's default if unset).
    batches_per_run: int | None = Field(default=None, ge=1)


class CampaignResult(BaseModel):
    status: CampaignStatus
    recipients: int
    winner: str | None
    by_status: dict[str, int]


class CampaignRef(BaseModel):
    organization_id: uuid.UUID
    campaign_id: uuid.UUID
    # The workflow's clock, for records a time-skipping test reads.
    at: datetime | None = None


class CampaignStatus(enum.StrEnum):
    draft = "draft"
    scheduled = "scheduled"
    running = "running"
    paused = "paused"
    # The test group got its variants; the window for opens, clicks or orders is open.
    testing = "testing"
    sending_winner = "sending_winner"
    completed = "completed"
    cancelled = "cancelled"
    # The send hit an error retrying cannot mend (its segment was deleted, say): the run
    # failed, and ``failure`` says why.
    failed = "failed"
    # Filed away by a marketer: out of the list unless asked for; ``archived_from`` keeps what
    # it was, so it can be restored.
    archived = "archived"


class Metric(enum.StrEnum):
    open = "open"
    click = "click"
    conversion = "conversion"
    # Attributed revenue per recipient (Welch's t-test).
    revenue = "revenue"


class ABTest(BaseModel):
    """Send the variants to a test group, wait, and give the rest of the audience the winner."""

    model_config = ConfigDict(extra="forbid")

    test_fraction: float = Field(default=0.2, gt=0, lt=1)
    metric: Metric = Metric.click
    window: timedelta = Field(
        default=timedelta(hours=4),
        ge=timedelta(minutes=1),
        le=timedelta(days=14),
        description="How long the test group's results are collected (ISO 8601, e.g. PT4H)",
    )
    # Sent to the remainder when the test does not tell the variants apart. The first variant
    # when not given.
    default_variant: str | None = None
    confidence: float = Field(default=0.95, ge=0.8, le=0.999)


_INTENT_PREFIX = "campaign:"


def intent_key(campaign_id: uuid.UUID, customer_id: uuid.UUID) -> str:
    """One message per campaign and customer, whatever retries or restarts happen."""
    return f"{_INTENT_PREFIX}{campaign_id}:{customer_id}"


def campaign_of_intent(intent: str) -> uuid.UUID | None:
    """The campaign a message's intent key belongs to, if it is a campaign's."""
    if not intent.startswith(_INTENT_PREFIX):
        return None
    return uuid.UUID(intent[len(_INTENT_PREFIX) :].split(":", 1)[0])
