"""Referral over the API: codes, who brought whom, and the points both get once."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
import pytest

from tests.support import (
    Org,
    Stack,
    create_customer,
    order_paid,
    points,
    wait_for_entries,
)

# SQL here differs between SQLite and PostgreSQL: run on both.
pytestmark = pytest.mark.dialects


def _code(stack: Stack, org: Org, customer_id: str) -> str:
    response = stack.api.get(f"/v1/customers/{customer_id}/referral-code", headers=org.headers())
    assert response.status_code == 200, response.text
    return response.json()["code"]  # type: ignore[no-any-return]


def _refer(stack: Stack, org: Org, customer_id: str, code: str) -> httpx.Response:
    return stack.api.post(
        f"/v1/customers/{customer_id}/referred-by", json={"code": code}, headers=org.headers()
    )


def _order(stack: Stack, org: Org, customer_id: str, amount: str = "20.00") -> None:
    body: dict[str, Any] = order_paid(customer_id, uuid.uuid4().hex, amount)
    response = stack.api.post("/v1/events", json=body, headers=org.headers())
    assert response.status_code == 202, response.text


def test_a_referred_customers_first_order_rewards_both_once(stack: Stack, org: Org) -> None:
    settings = {
        "points_per_unit": "1",
        "referral_points_referrer": 100,
        "referral_points_referred": 50,
    }
    assert (
        stack.api.put("/v1/loyalty/settings", json=settings, headers=org.headers()).status_code
        == 200
    )
    ada, bo, cy = (create_customer(stack, org)["id"] for _ in range(3))
    ada_code = _code(stack, org, ada)
    assert _code(stack, org, ada) == ada_code  # one code per customer

    assert _refer(stack, org, bo, ada_code.lower()).status_code == 201
    itself = _refer(stack, org, ada, ada_code)
    assert itself.status_code == 422 and "themselves" in itself.text
    circle = _refer(stack, org, ada, _code(stack, org, bo))
    assert circle.status_code == 422 and "circles" in circle.text
    assert _refer(stack, org, bo, _code(stack, org, cy)).status_code == 409  # referred once
    assert _refer(stack, org, cy, "NOSUCHCODE").status_code == 422

    _order(stack, org, bo)
    wait_for_entries(stack, org, bo, 2)
    wait_for_entries(stack, org, ada, 1)
    _order(stack, org, bo)  # a second order is only an order
    wait_for_entries(stack, org, bo, 3)
    assert points(stack, org, ada)["balance"] == 100
    assert points(stack, org, bo)["balance"] == 20 + 50 + 20
    sources = sorted(e["source"] for e in points(stack, org, bo)["entries"])
    assert sources == ["order.paid", "order.paid", "referral"]

    # Someone who has ordered already is not a new customer.
    _order(stack, org, cy)
    wait_for_entries(stack, org, cy, 1)
    late = _refer(stack, org, cy, ada_code)
    assert late.status_code == 409 and "ordered already" in late.text

    # The program's figures: who referred whom, what it converted and cost in points.
    referrals = stack.api.get("/v1/loyalty/analytics", headers=org.headers()).json()["referrals"]
    assert (referrals["referred"], referrals["converted"], referrals["reward_points"]) == (
        1,
        1,
        150,
    )
    assert [
        (r["customer_id"], r["referred"], r["converted"]) for r in referrals["top_referrers"]
    ] == [(ada, 1, 1)]
