"""Tiers: up at once when a member qualifies, down only at the member's review at the end of
the period, each change an event journeys can start from."""

from __future__ import annotations

import uuid
from datetime import timedelta
from decimal import Decimal

import pytest
from sqlalchemy import select

from activities.loyalty import LoyaltyActivities
from herald.access.models import Role
from herald.customers.schemas import CustomerCreate
from herald.customers.service import create_customer
from herald.database import Database
from herald.events.models import Event
from herald.loyalty.contracts import AwardOrderPointsInput
from herald.loyalty.schemas import TierIn, TierLadderIn
from herald.loyalty.service import award_order_points, customer_points
from herald.loyalty.tiers import TIER_CHANGED, put_ladder
from herald.loyalty.triggers import loyalty_workflows_for
from herald.temporal import start_run
from simulator import time_skipping_worker
from tests.support import Org, Stack
from workflows.loyalty import TierReview

# SQL here differs between SQLite and PostgreSQL: run on both.
pytestmark = pytest.mark.dialects

QUEUE = "tiers"
LADDER = TierLadderIn(
    period_days=365,
    tiers=[
        TierIn(name="Bronze", threshold=Decimal(0)),
        TierIn(name="Silver", threshold=Decimal(500), multiplier=Decimal("1.5")),
        TierIn(name="Gold", threshold=Decimal(1000), multiplier=Decimal(2)),
    ],
)


def _order(db: Database, org: Org, customer_id: uuid.UUID, amount: str) -> int:
    with db.session(org.id) as session:
        outcome = award_order_points(
            session,
            AwardOrderPointsInput(
                organization_id=org.id,
                customer_id=customer_id,
                order_id=uuid.uuid4().hex,
                amount=Decimal(amount),
                currency="EUR",
                event_id=uuid.uuid4(),
            ),
        )
        return outcome.points


def _tier(db: Database, org: Org, customer_id: uuid.UUID) -> str | None:
    with db.session(org.id) as session:
        return customer_points(session, customer_id).tier


def _changes(db: Database, org: Org, customer_id: uuid.UUID) -> list[Event]:
    with db.session(org.id) as session:
        return list(
            session.scalars(
                select(Event)
                .where(Event.type == TIER_CHANGED, Event.customer_id == customer_id)
                .order_by(Event.occurred_at)
            )
        )


async def test_a_member_moves_up_at_once_and_down_only_at_the_review(
    db: Database, org: Org
) -> None:
    with db.session(org.id) as session:
        put_ladder(session, LADDER)
        customer_id = create_customer(session, CustomerCreate(name="Kofi")).id
    assert _order(db, org, customer_id, "600") == 600
    assert _tier(db, org, customer_id) == "Silver"  # no waiting for a review to go up
    assert _order(db, org, customer_id, "100") == 150  # Silver earns one and a half
    [upgrade] = _changes(db, org, customer_id)
    assert upgrade.properties == {"from": None, "to": "Silver", "direction": "up"}

    async with time_skipping_worker(
        QUEUE, [TierReview], [LoyaltyActivities(db).review_tier]
    ) as env:
        with db.system_session() as session:
            (start,) = loyalty_workflows_for(session, upgrade)
        run = await start_run(env.client, QUEUE, start)
        await env.sleep(timedelta(days=364))
        assert _tier(db, org, customer_id) == "Silver"  # a quiet year is not over yet
        await env.sleep(timedelta(days=2))
        # Nothing earned in the year since reaching Silver: down to what 0 points reach.
        assert _tier(db, org, customer_id) == "Bronze"
        await run.terminate()
    [_, downgrade] = _changes(db, org, customer_id)
    assert downgrade.properties == {"from": "Silver", "to": "Bronze", "direction": "down"}
    assert downgrade.occurred_at - upgrade.occurred_at >= timedelta(days=365)


def test_owners_set_a_ladder_that_climbs(stack: Stack, org: Org) -> None:
    body = {
        "basis": "amount_spent",
        "period_days": 365,
        "tiers": [
            {"name": "Bronze", "threshold": "0"},
            {"name": "Silver", "threshold": "500", "multiplier": "1.25"},
        ],
    }
    put = stack.api.put("/v1/loyalty/tiers", json=body, headers=org.headers(Role.manager))
    assert put.status_code == 403
    put = stack.api.put("/v1/loyalty/tiers", json=body, headers=org.headers())
    assert put.status_code == 200, put.text
    ladder = stack.api.get("/v1/loyalty/tiers", headers=org.headers(Role.cashier)).json()
    assert [(t["name"], t["threshold"], t["multiplier"]) for t in ladder["tiers"]] == [
        ("Bronze", "0", "1"),
        ("Silver", "500", "1.25"),
    ]
    falling = {**body, "tiers": [{"name": "A", "threshold": "10"}, {"name": "B", "threshold": "5"}]}
    bad = stack.api.put("/v1/loyalty/tiers", json=falling, headers=org.headers())
    assert bad.status_code == 422 and "above the one before" in bad.text
