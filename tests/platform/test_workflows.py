"""Workflow behaviour on Temporal's time-skipping test server, and replay of recorded histories."""

from __future__ import annotations

import asyncio
import uuid
from decimal import Decimal
from pathlib import Path

import psycopg
import pytest
from sqlalchemy import func, select
from temporalio.client import WorkflowHistory
from temporalio.worker import Replayer

from activities.loyalty import LoyaltyActivities
from herald.customers.schemas import CustomerCreate
from herald.customers.service import create_customer
from herald.database import Database
from herald.loyalty.contracts import AwardOrderPointsInput
from herald.loyalty.models import LedgerEntry
from herald.migrate import upgrade
from herald.payloads import encrypting_converter
from herald.secrets import SecretKeys
from simulator import time_skipping_worker
from tests.support import PG_ADMIN_URL, TEST_SECRET, create_pg_database, make_org
from worker import WORKFLOWS
from workflows.loyalty import AwardOrderPoints

# SQL here differs between SQLite and PostgreSQL: run on both.
pytestmark = pytest.mark.dialects

HISTORIES = Path(__file__).parents[1] / "histories"


def _set_read_only(database: str, read_only: bool) -> None:
    """Flip a database into (or out of) read-only mode, as during a failover, and drop sessions."""
    with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
        setting = "on" if read_only else "off"
        conn.execute(f'ALTER DATABASE "{database}" SET default_transaction_read_only = {setting}')
        conn.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
            "WHERE datname = %s AND pid <> pg_backend_pid()",
            (database,),
        )


@pytest.mark.slow  # chaos: processes killed, or a database taken away
async def test_an_award_outlives_a_database_outage_and_lands_once() -> None:
    url, drop = create_pg_database()
    database = url.rsplit("/", 1)[1]
    upgrade(url)
    db = Database(url)
    try:
        org = make_org(db)
        with db.session(org.id) as session:
            customer = create_customer(session, CustomerCreate(name="Patient"))
        _set_read_only(database, True)
        activities = LoyaltyActivities(db)
        async with time_skipping_worker(
            "award-outage", [AwardOrderPoints], [activities.award_order_points]
        ) as env:
            client = env.client
            handle = await client.start_workflow(
                AwardOrderPoints.run,
                AwardOrderPointsInput(
                    organization_id=org.id,
                    customer_id=customer.id,
                    order_id="OUTAGE-1",
                    amount=Decimal("12.00"),
                    currency="EUR",
                    event_id=uuid.uuid4(),
                ),
                id=f"award-outage-{uuid.uuid4()}",
                task_queue="award-outage",
            )
            # The write keeps failing and keeps being retried: nothing gives up.
            for _ in range(200):
                pending = (await handle.describe()).raw_description.pending_activities
                if pending and pending[0].attempt >= 3:
                    break
                await asyncio.sleep(0.1)
            else:
                raise AssertionError("the ledger write was not retried")
            assert "read-only" in pending[0].last_failure.message

            _set_read_only(database, False)
            # Time skipping jumps over the back-off (up to a minute between attempts).
            outcome = await handle.result()
        assert outcome.status == "awarded" and outcome.points == 12
        with db.session(org.id) as session:
            count = session.scalar(select(func.count()).select_from(LedgerEntry))
        assert count == 1
    finally:
        db.dispose()
        drop()


async def test_recorded_histories_replay_with_the_current_workflow_code() -> None:
    """Changing a workflow in a way that breaks runs already in flight fails here."""
    # The workers' converter: recorded payloads are encrypted or, from before encryption, clear.
    replayer = Replayer(
        workflows=WORKFLOWS, data_converter=encrypting_converter(SecretKeys(TEST_SECRET))
    )
    histories = sorted(HISTORIES.glob("*.json"))
    assert histories, "no recorded histories"
    for path in histories:
        history = WorkflowHistory.from_json(path.stem, path.read_text())
        await replayer.replay_workflow(history)
