"""An A/B test decided on revenue per recipient: the orders its test group paid are attributed
at decision time (no rollup needed), and Welch's t-test picks the variant that earned more."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest

from herald.campaigns.contracts import ABTest, CampaignStatus, Metric, intent_key
from herald.campaigns.models import Campaign, CampaignRecipient
from herald.campaigns.sending import decide_winner
from herald.messaging.contracts import MessageStatus
from herald.messaging.models import Category, Channel, Message
from tests.analytics.test_revenue_analytics import euro_shop, pay
from tests.support import Org, Stack, create_customer

# Attribution's SQL differs between SQLite and PostgreSQL: run on both.
pytestmark = pytest.mark.dialects


def test_the_variant_whose_recipients_spent_more_wins_on_revenue(stack: Stack, org: Org) -> None:
    euro_shop(stack, org)
    now = datetime.now(UTC)
    people = [create_customer(stack, org)["id"] for _ in range(40)]
    with stack.db.session(org.id) as session:
        campaign = Campaign(
            key=f"rev-{uuid.uuid4().hex[:6]}",
            name="Revenue test",
            channel=Channel.email,
            status=CampaignStatus.testing,
            audience={"customers": people},
            variants=[{"name": "A", "template": "a"}, {"name": "B", "template": "b"}],
            ab=ABTest(test_fraction=0.5, metric=Metric.revenue).model_dump(mode="json"),
            recipients_total=40,
            test_size=40,
        )
        session.add(campaign)
        session.flush()
        for position, person in enumerate(people):
            customer_id = uuid.UUID(person)
            message = Message(
                idempotency_key=intent_key(campaign.id, customer_id),
                channel=Channel.email,
                category=Category.marketing,
                customer_id=customer_id,
                recipient=f"{position}@example.com",
                provider="outbox",
                status=MessageStatus.clicked,
                created_at=now - timedelta(hours=3),
                sent_at=now - timedelta(hours=3),
                opened_at=now - timedelta(hours=2, minutes=30),
                clicked_at=now - timedelta(hours=2),
            )
            session.add(message)
            session.flush()
            session.add(
                CampaignRecipient(
                    campaign_id=campaign.id,
                    customer_id=customer_id,
                    position=position,
                    variant="AB"[position % 2],
                    message_id=message.id,
                    status="sent",
                )
            )
        session.commit()
        campaign_id = campaign.id
    a_group, b_group = people[0::2], people[1::2]
    for n, person in enumerate(b_group[:15]):
        pay(stack, org, person, f"B-{n}", "50.00", now - timedelta(hours=1))
    for n, person in enumerate(a_group[:3]):
        pay(stack, org, person, f"A-{n}", "40.00", now - timedelta(hours=1))

    with stack.db.session(org.id) as session:
        assert decide_winner(session, campaign_id, now) == "B"
        decision = session.get(Campaign, campaign_id).decision  # type: ignore[union-attr]
    assert decision is not None and decision["metric"] == "revenue"
    assert decision["significant"] is True
    results = {r["variant"]: r for r in decision["results"]}
    assert (results["A"]["revenue"], results["B"]["revenue"]) == (120.0, 750.0)
    assert (results["A"]["rate"], results["B"]["rate"]) == (6.0, 37.5)  # per recipient
    assert decision["reason"].startswith("B revenue 37.50 per recipient beats A 6.00")
