"""What a CampaignSend run does to the database: snapshot the audience, hand batches of it to
the delivery path, pick the winner, record each state. Every step is idempotent under retries."""

from __future__ import annotations

import uuid
from collections import Counter
from collections.abc import Callable
from datetime import datetime

from sqlalchemy import func, insert, literal, select, update
from sqlalchemy.orm import Session

from herald.analytics.rollup import attribute_new_orders
from herald.campaigns.analytics import variant_results
from herald.campaigns.contracts import (
    CAMPAIGN_WORKFLOW,
    ABTest,
    BatchOutcome,
    CampaignBatch,
    CampaignPlan,
    CampaignSendInput,
    CampaignStatus,
    Metric,
    Snapshot,
    StatusChange,
    campaign_workflow_id,
    intent_key,
)
from herald.campaigns.decision import pick_winner
from herald.campaigns.models import ENDED, Campaign, CampaignRecipient
from herald.campaigns.schemas import Audience
from herald.campaigns.service import audience_of, get_campaign
from herald.customers.models import Customer
from herald.db import analyze, session_organization, utcnow
from herald.messaging.contracts import MAX_BATCH, DeliveryBatch, DeliveryOutcome, Recipient
from herald.messaging.delivery import DeliveryEnv, deliver_batch
from herald.messaging.models import Message
from herald.temporal import WorkflowStart

# A prime above any audience size: (rank * PRIME + salt) mod n is then a permutation of 0..n-1.
_PERMUTATION_PRIME = 2_147_483_647
_TERMINAL = ENDED


def campaign_start(campaign: Campaign) -> WorkflowStart:
    return WorkflowStart(
        workflow=CAMPAIGN_WORKFLOW,
        workflow_id=campaign_workflow_id(campaign.organization_id, campaign.id),
        arg=CampaignSendInput(organization_id=campaign.organization_id, campaign_id=campaign.id),
        organization_id=campaign.organization_id,
        customer_id=None,
        memo={"campaign": campaign.key, "name": campaign.name},
        summary=campaign_summary(campaign),
        details=campaign_details(campaign),
    )


def campaign_summary(campaign: Campaign) -> str:
    """What the run is, e.g. Campaign 'Spring' — email, 2 variants, A/B on clicks. The audience's
    size comes with the run's current details, once it has taken the snapshot."""
    variants = len(campaign.variants)
    shape = f"{variants} variant{'s' if variants != 1 else ''}"
    ab = _ab(campaign)
    if ab is not None:
        shape += f", A/B on {ab.metric.value}s"
    return f"Campaign '{campaign.name}' — {campaign.channel.value}, {shape}"


def campaign_details(campaign: Campaign) -> str:
    """The run page's details: who the audience is and how the send is paced."""
    audience = Audience.model_validate(campaign.audience)
    if audience.segment is not None:
        who = f"segment `{audience.segment}`"
    elif audience.customers is not None:
        who = f"{len(audience.customers)} listed customers"
    else:
        who = "newsletter subscribers"
    if audience.topic is not None:
        who += f" subscribed to topic `{audience.topic}`"
    lines = [f"Audience: {who}", f"Key: `{campaign.key}`"]
    if campaign.send_at is not None:
        lines.append(f"Send at: {campaign.send_at:%Y-%m-%d %H:%M} UTC")
    if campaign.rate_limit_per_s:
        lines.append(f"Rate limit: {campaign.rate_limit_per_s} messages/s")
    return "\n\n".join(lines)


def _ab(campaign: Campaign) -> ABTest | None:
    return ABTest.model_validate(campaign.ab) if campaign.ab else None


def plan(session: Session, campaign_id: uuid.UUID) -> CampaignPlan:
    campaign = get_campaign(session, campaign_id)
    return CampaignPlan(
        organization_id=campaign.organization_id,
        campaign_id=campaign.id,
        ab=_ab(campaign),
        send_at=campaign.send_at,
        rate_limit_per_s=campaign.rate_limit_per_s,
    )


def test_size(recipients: int, ab: ABTest | None, variants: int) -> int:
    """The test group: the fraction of the audience, at least one recipient per variant."""
    if ab is None:
        return 0
    return min(recipients, max(variants, round(recipients * ab.test_fraction)))


def snapshot_audience(session: Session, campaign_id: uuid.UUID) -> Snapshot:
    """Copy who is in the audience now into the recipients table, in one INSERT ... SELECT.

    Positions are a permutation of the members ordered by id, salted by the campaign, so each
    campaign draws its own test group, and the same campaign always the same one.
    """
    campaign = get_campaign(session, campaign_id)
    if campaign.recipients_total is not None:  # a retry after the snapshot committed
        return Snapshot(recipients=campaign.recipients_total, test_size=campaign.test_size or 0)
    org = session_organization(session)
    rank = func.row_number().over(order_by=Customer.id) - 1
    salt = campaign.id.int % _PERMUTATION_PRIME
    position = (rank * _PERMUTATION_PRIME + salt) % func.count().over()
    members = select(literal(org), literal(campaign.id), Customer.id, position).where(
        Customer.organization_id == org,  # INSERT ... SELECT is not scoped by the session
        audience_of(session, Audience.model_validate(campaign.audience)),
    )
    session.execute(
        insert(CampaignRecipient).from_select(
            ["organization_id", "campaign_id", "customer_id", "position"], members
        )
    )
    analyze(session, CampaignRecipient)  # plans see the new rows at once, not after autovacuum
    # Counted, not taken from the driver's rowcount (not reported for INSERT ... SELECT on
    # every driver).
    recipients = (
        session.scalar(select(func.count()).where(CampaignRecipient.campaign_id == campaign.id))
        or 0
    )
    campaign.recipients_total = recipients
    campaign.test_size = test_size(recipients, _ab(campaign), len(campaign.variants))
    campaign.started_at = utcnow()
    if campaign.status not in _TERMINAL and campaign.status is not CampaignStatus.paused:
        campaign.status = CampaignStatus.running
    session.commit()
    return Snapshot(recipients=recipients, test_size=campaign.test_size)


def _variant_at(campaign: Campaign, position: int, winner: str | None) -> dict[str, str]:
    """The test group and campaigns without a test split the variants evenly; the rest of an
    A/B campaign's audience gets the winner."""
    if campaign.ab is not None and position >= (campaign.test_size or 0):
        if winner is None:
            raise ValueError("the remainder of an A/B campaign is sent once a winner is picked")
        return next(v for v in campaign.variants if v["name"] == winner)
    return campaign.variants[position % len(campaign.variants)]


def send_batch(
    session: Session,
    batch: CampaignBatch,
    env: DeliveryEnv,
    on_progress: Callable[[], None] = lambda: None,
) -> BatchOutcome:
    """Hand one position range to the delivery path, a delivery batch per variant, and note on
    each recipient the variant and message it got."""
    if batch.end - batch.start > MAX_BATCH:
        raise ValueError(f"a campaign batch holds at most {MAX_BATCH} recipients")
    campaign = get_campaign(session, batch.campaign_id)
    rows = session.execute(
        select(CampaignRecipient.customer_id, CampaignRecipient.position)
        .where(
            CampaignRecipient.campaign_id == campaign.id,
            CampaignRecipient.position >= batch.start,
            CampaignRecipient.position < batch.end,
        )
        .order_by(CampaignRecipient.position)
    ).all()
    by_variant: dict[str, list[uuid.UUID]] = {}
    templates: dict[str, str] = {}
    for customer_id, position in rows:
        variant = _variant_at(campaign, position, batch.winner)
        by_variant.setdefault(variant["name"], []).append(customer_id)
        templates[variant["name"]] = variant["template_id"]
    outcomes: list[DeliveryOutcome] = []
    for name, customers in by_variant.items():
        delivered = deliver_batch(
            session,
            DeliveryBatch(
                organization_id=batch.organization_id,
                template_id=uuid.UUID(templates[name]),
                recipients=[
                    Recipient(idempotency_key=intent_key(campaign.id, c), customer_id=c)
                    for c in customers
                ],
                event={"campaign": {"key": campaign.key, "name": campaign.name, "variant": name}},
                workflow_time=batch.workflow_time,
            ),
            env,
        )
        session.execute(
            update(CampaignRecipient),
            [
                {
                    "campaign_id": campaign.id,
                    "customer_id": c,
                    "variant": name,
                    "message_id": outcome.message_id,
                    "status": _handover_status(outcome),
                }
                for c, outcome in zip(customers, delivered, strict=True)
            ],
        )
        session.commit()
        outcomes.extend(delivered)
        on_progress()
    held = [o.deferred_until for o in outcomes if o.deferred_until is not None]
    return BatchOutcome(
        by_status=dict(Counter(_handover_status(o) for o in outcomes)),
        held_until=min(held) if held else None,
    )


def _handover_status(outcome: DeliveryOutcome) -> str:
    """The recipient's status at handover: the message's, or held by quiet hours."""
    return "held" if outcome.deferred_until else outcome.status.value


def refresh_statistics(session: Session) -> None:
    """A send adds messages faster than PostgreSQL's autovacuum re-samples the table; with an
    organization's row count stale, each intent look-up would scan all of its messages."""
    analyze(session, Message)
    session.commit()


def set_status(session: Session, change: StatusChange) -> None:
    """Record the run's state; a finished campaign stays finished."""
    campaign = get_campaign(session, change.campaign_id)
    if campaign.status in _TERMINAL or campaign.status is CampaignStatus.archived:
        return
    campaign.status = change.status
    if change.status is CampaignStatus.failed:
        campaign.failure = (change.reason or "")[:500]
    if change.status in _TERMINAL:
        campaign.finished_at = utcnow()
    session.commit()


def decide_winner(session: Session, campaign_id: uuid.UUID, now: datetime) -> str:
    """Pick the remainder's variant from the test group's results, and record why. On
    conversions or revenue, the orders recorded since the last rollup are attributed first,
    so the decision sees every order paid up to now."""
    campaign = get_campaign(session, campaign_id)
    if campaign.winner is not None:  # decided by an earlier attempt
        return campaign.winner
    ab = _ab(campaign)
    if ab is None:
        raise ValueError("only an A/B campaign has a winner to pick")
    if ab.metric in (Metric.conversion, Metric.revenue):
        attribute_new_orders(session, now=now)
    names = [v["name"] for v in campaign.variants]
    results = variant_results(session, campaign, ab.metric, test_group_only=True)
    decision = pick_winner(ab.metric, results, ab.default_variant or names[0], ab.confidence, now)
    campaign.winner = decision.winner
    campaign.decision = decision.model_dump(mode="json")
    if campaign.status not in _TERMINAL:
        campaign.status = CampaignStatus.sending_winner
    session.commit()
    return decision.winner
