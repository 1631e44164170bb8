"""Loyalty points on order-paid, end to end: API → stored event → Temporal run → ledger."""

from __future__ import annotations

import asyncio
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest
from sqlalchemy import func, select, text
from temporalio.api.enums.v1 import PendingActivityState
from temporalio.client import Client

from herald.database import Database
from herald.devserver import free_port, wait_for_port
from herald.events.models import Event
from herald.loyalty.models import LedgerEntry
from herald.migrate import upgrade
from tests.support import (
    Org,
    PostgresServer,
    Stack,
    TemporalServer,
    api_process,
    create_customer,
    herald_env,
    make_org,
    order_paid,
    points,
    wait_for_entries,
    wait_until,
    worker_process,
)

# SQL here differs between SQLite and PostgreSQL: run on both.
pytestmark = pytest.mark.dialects


def test_order_paid_awards_points_at_the_merchants_rate(stack: Stack, org: Org) -> None:
    put = stack.api.put(
        "/v1/loyalty/settings",
        json={"points_per_unit": "2.5", "rounding": "half_up"},
        headers=org.headers(),
    )
    assert put.status_code == 200, put.text
    settings = stack.api.get("/v1/loyalty/settings", headers=org.headers()).json()
    assert (settings["points_per_unit"], settings["rounding"]) == ("2.5", "half_up")
    customer = create_customer(stack, org, external_id="shop-42")
    response = stack.api.post(
        "/v1/events",
        json={
            "type": "order.paid",
            "customer": {"external_id": "shop-42"},
            "properties": {"order_id": "A-1", "amount": "10.30", "currency": "eur"},
        },
        headers=org.headers(),
    )
    assert response.status_code == 202, response.text

    ledger = wait_for_entries(stack, org, customer["id"], 1)
    assert ledger["balance"] == 26  # 10.30 * 2.5 = 25.75, rounded half up
    entry = ledger["entries"][0]
    assert entry["kind"] == "earn" and entry["source_id"] == "A-1"
    assert entry["details"]["points_per_unit"] == "2.5"

    # The award is a Temporal run the operator can find by organization and customer.
    runs = wait_until(
        lambda: (
            (
                items := stack.api.get(
                    "/v1/runs",
                    params={"customer_id": customer["id"], "type": "AwardOrderPoints"},
                    headers=org.headers(),
                ).json()["items"]
            )
            and items[0]["status"] == "completed"
            and items
        )
    )
    assert len(runs) == 1
    detail = stack.api.get(f"/v1/runs/{runs[0]['workflow_id']}", headers=org.headers()).json()
    assert detail["result"]["status"] == "awarded" and detail["result"]["points"] == 26
    assert "@" not in runs[0]["workflow_id"]  # ids, never personal data


def test_fifty_concurrent_posts_of_one_order_award_once(stack: Stack, org: Org) -> None:
    customer = create_customer(stack, org)
    event = order_paid(customer["id"], "DUP-1", amount="20.00")

    def post() -> int:
        return stack.api.post("/v1/events", json=event, headers=org.headers()).status_code

    with ThreadPoolExecutor(max_workers=50) as pool:
        statuses = list(pool.map(lambda _: post(), range(50)))
    assert statuses == [202] * 50

    wait_for_entries(stack, org, customer["id"], 1)
    # Let every dispatched duplicate finish before counting.
    wait_until(lambda: _undispatched(stack, org) == 0)
    time.sleep(1.0)
    ledger = points(stack, org, customer["id"])
    assert ledger["balance"] == 20
    assert len(ledger["entries"]) == 1


def _undispatched(stack: Stack, org: Org, kind: str | None = None) -> int:
    stmt = select(func.count()).select_from(Event).where(Event.dispatched_at.is_(None))
    if kind is not None:
        stmt = stmt.where(Event.type == kind)
    with stack.db.session(org.id) as session:
        return session.scalar(stmt) or 0


def test_refund_reverses_the_award_once(stack: Stack, org: Org) -> None:
    customer = create_customer(stack, org)
    assert (
        stack.api.post(
            "/v1/events", json=order_paid(customer["id"], "R-1", amount="30"), headers=org.headers()
        ).status_code
        == 202
    )
    award = wait_for_entries(stack, org, customer["id"], 1)["entries"][0]

    refund = {
        "type": "order.refunded",
        "customer": {"id": customer["id"]},
        "properties": {"order_id": "R-1"},
    }
    for _ in range(3):
        assert stack.api.post("/v1/events", json=refund, headers=org.headers()).status_code == 202
    ledger = wait_for_entries(stack, org, customer["id"], 2)
    time.sleep(1.0)
    ledger = points(stack, org, customer["id"])
    assert ledger["balance"] == 0
    reversals = [e for e in ledger["entries"] if e["kind"] == "reversal"]
    assert len(reversals) == 1
    assert reversals[0]["points"] == -30 and reversals[0]["reverses_entry_id"] == award["id"]


def test_a_refund_that_overtakes_the_payment_prevents_the_award(stack: Stack, org: Org) -> None:
    customer = create_customer(stack, org)
    refund = {
        "type": "order.refunded",
        "customer": {"id": customer["id"]},
        "properties": {"order_id": "LATE-1"},
    }
    assert stack.api.post("/v1/events", json=refund, headers=org.headers()).status_code == 202
    wait_for_entries(stack, org, customer["id"], 1)
    assert (
        stack.api.post(
            "/v1/events",
            json=order_paid(customer["id"], "LATE-1", amount="99"),
            headers=org.headers(),
        ).status_code
        == 202
    )
    run_id = f"AwardOrderPoints/{org.id}/LATE-1"
    detail = wait_until(
        lambda: (
            (r := stack.api.get(f"/v1/runs/{run_id}", headers=org.headers())).status_code == 200
            and r.json()["status"] == "completed"
            and r.json()
        )
    )
    assert detail["result"]["status"] == "order_refunded"
    assert points(stack, org, customer["id"])["balance"] == 0


@pytest.mark.slow  # chaos: processes killed, or a database taken away
def test_worker_killed_during_an_award_finishes_it_once_after_restart(
    stack: Stack, org: Org, temporal_server: TemporalServer
) -> None:
    customer = create_customer(stack, org)
    # A first award creates the account row the second one will wait on.
    stack.api.post("/v1/events", json=order_paid(customer["id"], "K-0", "1"), headers=org.headers())
    wait_for_entries(stack, org, customer["id"], 1)

    stack.worker.kill()
    stack.api.post("/v1/events", json=order_paid(customer["id"], "K-1", "5"), headers=org.headers())
    wait_until(lambda: _undispatched(stack, org) == 0)
    workflow_id = f"AwardOrderPoints/{org.id}/K-1"

    # Hold the customer's account lock (on SQLite: the database's write lock), so the award's
    # activity is caught in the middle of its transaction when the worker dies.
    blocker = stack.db.engine.connect()
    transaction = blocker.begin()
    try:
        if stack.db.engine.dialect.name == "postgresql":
            blocker.execute(
                text("SELECT 1 FROM loyalty_accounts WHERE customer_id = :c FOR UPDATE"),
                {"c": uuid.UUID(customer["id"])},
            )
        stack.worker.start()
        wait_until(lambda: _activity_started(temporal_server, workflow_id), timeout_s=30)
        stack.worker.kill()
    finally:
        transaction.rollback()
        blocker.close()

    stack.worker.start()  # the replacement takes the award over once the lost attempt times out
    ledger = wait_for_entries(stack, org, customer["id"], 2, timeout_s=60)
    assert ledger["balance"] == 6
    with stack.db.session(org.id) as session:
        assert (
            session.scalar(
                select(func.count()).select_from(LedgerEntry).where(LedgerEntry.source_id == "K-1")
            )
            == 1
        )


@pytest.mark.slow  # chaos: the database crashes mid-burst
def test_postgresql_crashing_during_an_award_burst_awards_every_order_once(
    temporal_server: TemporalServer, tmp_path: Path
) -> None:
    postgres = PostgresServer()
    postgres.init()
    postgres.start()
    db = None
    env = None
    try:
        upgrade(postgres.url)
        db = Database(postgres.url)
        org = make_org(db)
        env = herald_env(postgres.url, temporal_server.address, f"pg-crash-{uuid.uuid4().hex[:6]}")
        worker = worker_process(env, tmp_path)
        api, base_url = api_process(env, tmp_path)
        worker.start()
        api.start()
        wait_for_port(int(base_url.rsplit(":", 1)[1]))
        with httpx.Client(base_url=base_url, headers=org.headers(), timeout=30) as client:
            customers = [
                client.post("/v1/customers", json={"name": f"C{i}"}).json()["id"]
                for i in range(BURST_CUSTOMERS)
            ]
            orders = [(customers[n % BURST_CUSTOMERS], f"PG-{n}") for n in range(BURST_ORDERS)]
            with ThreadPoolExecutor(max_workers=8) as posters:
                posted = posters.map(lambda order: _post_until_taken(client, *order), orders)
                wait_until(lambda: _ledger_count(db) >= BURST_ORDERS // 5, timeout_s=120)
                awarded_before = _ledger_count(db)
                postgres.crash()  # awards, dispatches and posts in flight
                time.sleep(3)
                postgres.start()
                assert sum(posted) >= BURST_ORDERS  # every order taken, some after retries
            wait_until(lambda: _ledger_count(db) >= BURST_ORDERS, timeout_s=240, interval_s=1)
            time.sleep(2)  # anything doubled would land now
            balances = [
                client.get(f"/v1/customers/{c}/points").json()["balance"] for c in customers
            ]
        with db.system_session() as session:
            ledger = session.execute(select(LedgerEntry.source_id, LedgerEntry.points)).all()
    finally:
        if env is not None:
            api.stop()
            worker.stop()
        if db is not None:
            db.dispose()
        postgres.remove()
    assert awarded_before < BURST_ORDERS  # the crash came mid-burst
    assert sorted(source for source, _ in ledger) == sorted(order for _, order in orders)
    [award] = {points for _, points in ledger}
    assert balances == [award * BURST_ORDERS // BURST_CUSTOMERS] * BURST_CUSTOMERS


BURST_CUSTOMERS = 20
BURST_ORDERS = 400


def _post_until_taken(client: httpx.Client, customer_id: str, order_id: str) -> int:
    """Post one order until the API takes it, as a shop's webhook sender retries: the same
    idempotency key each time. Returns how many posts it took."""
    body = {**order_paid(customer_id, order_id), "idempotency_key": order_id}
    for attempt in range(1, 200):
        try:
            if client.post("/v1/events", json=body).status_code == 202:
                return attempt
        except httpx.TransportError:
            pass
        time.sleep(0.25)
    raise AssertionError(f"{order_id} never taken")


def _ledger_count(db: Database) -> int:
    with db.system_session() as session:
        return session.scalar(select(func.count()).select_from(LedgerEntry)) or 0


def _activity_started(server: TemporalServer, workflow_id: str) -> bool:
    async def describe() -> bool:
        client = await Client.connect(server.address)
        description = await client.get_workflow_handle(workflow_id).describe()
        return any(
            a.state == PendingActivityState.PENDING_ACTIVITY_STATE_STARTED
            for a in description.raw_description.pending_activities
        )

    return asyncio.run(describe())


def test_events_posted_while_temporal_is_down_are_dispatched_after(
    database_url: str, stack: Stack, org: Org, tmp_path
) -> None:
    down = TemporalServer(port=free_port())  # nothing listens there yet
    env = herald_env(database_url, down.address, f"herald-down-{uuid.uuid4().hex[:6]}")
    api, base_url = api_process(env, tmp_path)
    api.start()
    worker = worker_process(env, tmp_path)
    try:
        wait_for_port(int(base_url.rsplit(":", 1)[1]))
        import httpx

        with httpx.Client(base_url=base_url, timeout=30) as client:
            customer = create_customer(stack, org)
            batch = {"events": [order_paid(customer["id"], f"DOWN-{i}", "3") for i in range(5)]}
            response = client.post("/v1/events", json=batch, headers=org.headers())
            assert response.status_code == 202, response.text
            assert client.get("/readyz").status_code == 503
            event_id = response.json()["events"][0]["id"]
            waiting = wait_until(
                lambda: (
                    (e := client.get(f"/v1/events/{event_id}", headers=org.headers()).json())[
                        "dispatch_attempts"
                    ]
                    and e
                )
            )
            assert waiting["dispatched_at"] is None and waiting["last_dispatch_error"]
            assert points(stack, org, customer["id"])["balance"] == 0
            assert _undispatched(stack, org, "order.paid") == 5

            down.start()
            worker.start()
            ledger = wait_for_entries(stack, org, customer["id"], 5, timeout_s=60)
            assert ledger["balance"] == 15
            assert client.get("/readyz").status_code == 200
            sent = client.get(f"/v1/events/{event_id}", headers=org.headers()).json()
            assert sent["dispatched_at"] is not None and sent["last_dispatch_error"] is None
    finally:
        api.stop()
        worker.stop()
        down.stop()
