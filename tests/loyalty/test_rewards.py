"""Rewards: spending points on the catalog, codes confirmed by orders or lapsing back, manual
adjustments; the balance never below zero and always the sum of the ledger."""

from __future__ import annotations

import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select

from activities.loyalty import LoyaltyActivities
from herald.access.models import Role
from herald.customers.schemas import CustomerCreate
from herald.customers.service import create_customer
from herald.database import Database
from herald.events.models import Event
from herald.loyalty.contracts import RedemptionStatus
from herald.loyalty.models import LedgerEntry, LoyaltyAccount, RewardKind
from herald.loyalty.rewards import adjust, confirm, create_reward, get_redemption, reserve
from herald.loyalty.schemas import AdjustmentIn, RewardCreate
from herald.loyalty.triggers import loyalty_workflows_for
from herald.temporal import start_run
from simulator import time_skipping_worker
from tests.support import Org, Stack, order_paid, wait_until
from tests.support import create_customer as api_customer
from workflows.loyalty import RewardRedemption

# SQL here differs between SQLite and PostgreSQL: run on both.
pytestmark = pytest.mark.dialects

QUEUE = "rewards"


def _reward(stack: Stack, org: Org, **fields: Any) -> dict[str, Any]:
    body = {"name": "5 € off", "kind": "discount_fixed", "value": "5", "cost_points": 100, **fields}
    response = stack.api.post("/v1/loyalty/rewards", json=body, headers=org.headers())
    assert response.status_code == 201, response.text
    return response.json()  # type: ignore[no-any-return]


def _adjust(
    stack: Stack, org: Org, customer_id: str, points: int, role: Role = Role.owner
) -> httpx.Response:
    return stack.api.post(
        f"/v1/customers/{customer_id}/points/adjustments",
        json={"points": points, "reason": "welcome gift from the shop"},
        headers=org.headers(role),
    )


def _redeem(stack: Stack, org: Org, customer_id: str, reward_id: str) -> httpx.Response:
    return stack.api.post(
        f"/v1/customers/{customer_id}/redemptions",
        json={"reward_id": reward_id},
        headers=org.headers(Role.cashier),
    )


def _points(stack: Stack, org: Org, customer_id: str) -> dict[str, Any]:
    response = stack.api.get(f"/v1/customers/{customer_id}/points?limit=200", headers=org.headers())
    return response.json()  # type: ignore[no-any-return]


def _ledger_agrees(stack: Stack, org: Org, customer_id: str) -> int:
    points = _points(stack, org, customer_id)
    assert points["balance"] == sum(e["points"] for e in points["entries"]) >= 0
    return points["balance"]  # type: ignore[no-any-return]


def test_twenty_concurrent_redemptions_on_a_balance_covering_five_succeed_five_times(
    stack: Stack, org: Org
) -> None:
    customer = api_customer(stack, org)["id"]
    assert _adjust(stack, org, customer, 500).status_code == 201
    reward = _reward(stack, org)
    url = stack.api.base_url

    def redeem(_: int) -> httpx.Response:
        with httpx.Client(base_url=url, timeout=60) as client:
            return client.post(
                f"/v1/customers/{customer}/redemptions",
                json={"reward_id": reward["id"]},
                headers=org.headers(Role.cashier),
            )

    with ThreadPoolExecutor(20) as pool:
        answers = list(pool.map(redeem, range(20)))
    codes = [a.json()["code"] for a in answers if a.status_code == 201]
    refused = [a for a in answers if a.status_code == 409]
    assert len(codes) == 5 and len(set(codes)) == 5 and len(refused) == 15
    assert "not enough points" in refused[0].json()["detail"]
    assert _ledger_agrees(stack, org, customer) == 0


def test_a_code_is_used_by_one_order_or_given_back_and_stock_and_limits_hold(
    stack: Stack, org: Org
) -> None:
    first, second = api_customer(stack, org)["id"], api_customer(stack, org)["id"]
    for customer in (first, second):
        _adjust(stack, org, customer, 300)
    reward = _reward(stack, org, kind="free_item", sku="COFFEE", value=None, stock=1)
    taken = _redeem(stack, org, first, reward["id"])
    assert taken.status_code == 201, taken.text
    code = taken.json()["code"]
    sold_out = _redeem(stack, org, second, reward["id"])
    assert sold_out.status_code == 409 and "out of stock" in sold_out.json()["detail"]

    # Given back: the points return and the unit is free again.
    back = stack.api.post(
        f"/v1/redemptions/{code}/release", json={}, headers=org.headers(Role.cashier)
    )
    assert back.status_code == 200 and back.json()["status"] == "released"
    assert _ledger_agrees(stack, org, first) == 300
    again = _redeem(stack, org, second, reward["id"])
    assert again.status_code == 201
    code = again.json()["code"]
    # Used by an order: for good; the same confirmation again changes nothing.
    for _ in range(2):
        used = stack.api.post(
            f"/v1/redemptions/{code.lower()}/confirm",
            json={"order_id": "A-1"},
            headers=org.headers(Role.cashier),
        )
        assert used.status_code == 200 and used.json()["status"] == "confirmed"
    other_order = stack.api.post(
        f"/v1/redemptions/{code}/confirm",
        json={"order_id": "A-2"},
        headers=org.headers(Role.cashier),
    )
    assert other_order.status_code == 409
    late = stack.api.post(
        f"/v1/redemptions/{code}/release", json={}, headers=org.headers(Role.cashier)
    )
    assert late.status_code == 409
    assert _ledger_agrees(stack, org, second) == 200

    limited = _reward(
        stack, org, name="Tote bag", kind="custom", value=None, cost_points=10, per_customer_limit=1
    )
    assert _redeem(stack, org, first, limited["id"]).status_code == 201
    twice = _redeem(stack, org, first, limited["id"])
    assert twice.status_code == 409 and "1 times" in twice.json()["detail"]
    listed = stack.api.get(f"/v1/customers/{first}/redemptions", headers=org.headers()).json()[
        "items"
    ]
    assert [r["status"] for r in listed] == ["reserved", "released"]


def test_only_owners_adjust_balances_with_a_reason_and_never_below_zero(
    stack: Stack, org: Org
) -> None:
    customer = api_customer(stack, org)["id"]
    for role in (Role.manager, Role.cashier, Role.marketing):
        assert _adjust(stack, org, customer, 50, role).status_code == 403
    no_reason = stack.api.post(
        f"/v1/customers/{customer}/points/adjustments", json={"points": 5}, headers=org.headers()
    )
    assert no_reason.status_code == 422
    assert _adjust(stack, org, customer, 40).json()["balance"] == 40
    below = _adjust(stack, org, customer, -41)
    assert below.status_code == 409 and "below zero" in below.json()["detail"]
    assert _adjust(stack, org, customer, -40).json()["balance"] == 0
    [removed, added] = _points(stack, org, customer)["entries"]
    assert (added["kind"], added["points"]) == ("adjustment", 40)
    assert removed["details"]["reason"] == "welcome gift from the shop"
    assert removed["details"]["by"].startswith("api-key:")
    # Catalog changes are the owner's too.
    body = {"name": "x", "kind": "custom", "cost_points": 1}
    assert (
        stack.api.post(
            "/v1/loyalty/rewards", json=body, headers=org.headers(Role.manager)
        ).status_code
        == 403
    )
    bad = stack.api.post(
        "/v1/loyalty/rewards",
        json={**body, "kind": "discount_percent", "value": "150"},
        headers=org.headers(),
    )
    assert bad.status_code == 422


def _seeded(db: Database, org: Org) -> tuple[uuid.UUID, uuid.UUID]:
    with db.session(org.id) as session:
        customer = create_customer(session, CustomerCreate(name="Ana"))
        adjust(session, customer.id, AdjustmentIn(points=100, reason="seed"), "test")
        reward = create_reward(
            session, RewardCreate(name="Mug", kind=RewardKind.custom, cost_points=100)
        )
        return customer.id, reward.id


def _balance(db: Database, org: Org, customer_id: uuid.UUID) -> int:
    with db.session(org.id) as session:
        account = session.get(LoyaltyAccount, customer_id)
        total = session.scalar(
            select(func.sum(LedgerEntry.points)).where(LedgerEntry.customer_id == customer_id)
        )
        assert account is not None and account.balance == total
        return account.balance


async def test_an_unused_code_lapses_at_the_end_of_its_hold_and_a_used_one_never(
    db: Database, org: Org
) -> None:
    customer_id, reward_id = _seeded(db, org)
    other_id, _ = _seeded(db, org)
    async with time_skipping_worker(
        QUEUE, [RewardRedemption], [LoyaltyActivities(db).expire_redemption]
    ) as env:
        runs = []
        for who in (customer_id, other_id):
            with db.session(org.id) as session:
                redemption, event_id = reserve(session, who, reward_id)
                code = redemption.code
            with db.system_session() as session:
                event = session.get(Event, event_id)
                assert event is not None
                (start,) = loyalty_workflows_for(session, event)
            runs.append((code, await start_run(env.client, QUEUE, start)))
        assert _balance(db, org, customer_id) == _balance(db, org, other_id) == 0
        # The other customer's order uses the code within the hour.
        (unused, unused_run), (used, used_run) = runs
        with db.session(org.id) as session:
            confirm(session, used, "order-9")
        await used_run.signal("settled")
        await env.sleep(timedelta(minutes=59))
        with db.session(org.id) as session:
            assert get_redemption(session, unused).status is RedemptionStatus.reserved
        assert await used_run.result() is None
        assert await unused_run.result() == "released"
    with db.session(org.id) as session:
        lapsed = get_redemption(session, unused)
        assert lapsed.status is RedemptionStatus.released
        assert lapsed.release_reason == "expired unused"
        assert lapsed.settled_at is not None
        assert lapsed.settled_at - lapsed.created_at >= timedelta(minutes=60)
        assert get_redemption(session, used).status is RedemptionStatus.confirmed
    assert _balance(db, org, customer_id) == 100
    assert _balance(db, org, other_id) == 0


def test_a_paid_order_that_used_a_code_confirms_it(stack: Stack, org: Org) -> None:
    customer = api_customer(stack, org)["id"]
    _adjust(stack, org, customer, 100)
    code = _redeem(stack, org, customer, _reward(stack, org)["id"]).json()["code"]
    order = order_paid(customer, "order-with-code", "30.00")
    order["properties"]["redemption_codes"] = [code]
    assert stack.api.post("/v1/events", json=order, headers=org.headers()).status_code == 202
    wait_until(
        lambda: (
            stack.api.get(f"/v1/customers/{customer}/redemptions", headers=org.headers()).json()[
                "items"
            ][0]["status"]
            == "confirmed"
        )
    )
    [used] = stack.api.get(f"/v1/customers/{customer}/redemptions", headers=org.headers()).json()[
        "items"
    ]
    assert used["order_id"] == "order-with-code"
    assert _ledger_agrees(stack, org, customer) == 100 - 100 + 30
