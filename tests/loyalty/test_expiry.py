"""Points expiry: oldest points first, a notice before, once per day, and the balance always
the sum of the ledger."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from sqlalchemy import func, select, update

from activities.loyalty import ExpiryActivities
from herald.customers.schemas import CustomerCreate
from herald.customers.service import create_customer
from herald.database import Database
from herald.events.models import Event
from herald.loyalty.contracts import ExpirySweepInput, ExpirySweepOutcome
from herald.loyalty.expiry import POINTS_EXPIRING
from herald.loyalty.models import EntryKind, LedgerEntry, LoyaltyAccount
from herald.loyalty.rewards import adjust
from herald.loyalty.schemas import AdjustmentIn, LoyaltySettingsIn
from herald.loyalty.service import award_points, put_settings
from simulator import time_skipping_worker
from tests.support import Org
from workflows.loyalty import ExpirePoints

# SQL here differs between SQLite and PostgreSQL: run on both.
pytestmark = pytest.mark.dialects

QUEUE = "expiry"


def _earned(db: Database, org: Org, customer_id: uuid.UUID, points: int, ago: timedelta) -> None:
    """Points earned ``ago`` (the entry's time set back, as if it had been written then)."""
    with db.session(org.id) as session:
        outcome = award_points(session, customer_id, points, "test", uuid.uuid4().hex, {})
        session.execute(
            update(LedgerEntry)
            .where(LedgerEntry.id == outcome.entry_id)
            .values(created_at=datetime.now(UTC) - ago)
        )
        session.commit()


def _customer(db: Database, org: Org) -> uuid.UUID:
    with db.session(org.id) as session:
        return create_customer(session, CustomerCreate(name="Lin")).id


def _spent(db: Database, org: Org, customer_id: uuid.UUID, points: int) -> None:
    with db.session(org.id) as session:
        adjust(session, customer_id, AdjustmentIn(points=-points, reason="spent in store"), "test")


def _balance_and_expired(db: Database, org: Org, customer_id: uuid.UUID) -> tuple[int, int]:
    with db.session(org.id) as session:
        account = session.get(LoyaltyAccount, customer_id)
        total = session.scalar(
            select(func.sum(LedgerEntry.points)).where(LedgerEntry.customer_id == customer_id)
        )
        assert account is not None and account.balance == total  # the ledger adds up
        expired = session.scalar(
            select(func.sum(LedgerEntry.points)).where(
                LedgerEntry.customer_id == customer_id, LedgerEntry.kind == EntryKind.expiry
            )
        )
        return account.balance, -(expired or 0)


async def test_the_oldest_points_expire_first_with_a_notice_before_and_once_a_day(
    db: Database, org: Org
) -> None:
    with db.session(org.id) as session:
        put_settings(
            session,
            LoyaltySettingsIn(
                points_per_unit=Decimal(1), points_expire_after_days=365, expiry_notice_days=14
            ),
        )
    year_and_more = timedelta(days=400)
    # Half of an old lot spent: the other half expires; the new lot stays.
    partly = _customer(db, org)
    _earned(db, org, partly, 100, year_and_more)
    _earned(db, org, partly, 100, timedelta(0))
    _spent(db, org, partly, 50)
    # More spent than the old lot held: spending took the oldest points, nothing is left to go.
    spent = _customer(db, org)
    _earned(db, org, spent, 100, year_and_more)
    _earned(db, org, spent, 100, timedelta(0))
    _spent(db, org, spent, 150)
    # Points reaching their year in 14 days: the customer hears of it today.
    soon = _customer(db, org)
    _earned(db, org, soon, 80, timedelta(days=351, hours=1))

    async with time_skipping_worker(
        QUEUE, [ExpirePoints], ExpiryActivities(db).all_activities()
    ) as env:
        at = datetime.now(UTC)
        outcomes = []
        for _ in range(2):  # the same day swept twice
            handle = await env.client.start_workflow(
                ExpirePoints.run,
                ExpirySweepInput(at=at, organization_id=org.id),
                id=f"expiry-{uuid.uuid4()}",
                task_queue=QUEUE,
            )
            outcomes.append(ExpirySweepOutcome.model_validate(await handle.result()))
    assert (outcomes[0].expired, outcomes[0].announced) == (50, 80)
    assert outcomes[1].expired == 0
    assert _balance_and_expired(db, org, partly) == (100, 50)
    assert _balance_and_expired(db, org, spent) == (50, 0)
    assert _balance_and_expired(db, org, soon) == (80, 0)
    with db.session(org.id) as session:
        notices = session.scalars(select(Event).where(Event.type == POINTS_EXPIRING)).all()
    assert [(n.customer_id, n.properties["points"]) for n in notices] == [(soon, 80)]
    assert notices[0].properties["expires_on"] == (at + timedelta(days=14)).date().isoformat()
