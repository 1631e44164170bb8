"""The program as a whole over the API: what managers watch, and what a customer sees of their
own account through a signed link (and of nobody else's)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from urllib.parse import urlparse

import pytest

from herald.access.models import Role
from tests.support import (
    Org,
    Stack,
    create_customer,
    order_paid,
    wait_for_entries,
)

# SQL here differs between SQLite and PostgreSQL: run on both.
pytestmark = pytest.mark.dialects


def _order(stack: Stack, org: Org, customer_id: str, amount: str) -> None:
    body = order_paid(customer_id, uuid.uuid4().hex, amount)
    assert stack.api.post("/v1/events", json=body, headers=org.headers()).status_code == 202


def _setup(stack: Stack, org: Org) -> tuple[str, str, str]:
    """Two members (one reaches Silver) and one used reward code."""
    ladder = {
        "tiers": [{"name": "Bronze", "threshold": "0"}, {"name": "Silver", "threshold": "50"}]
    }
    assert stack.api.put("/v1/loyalty/tiers", json=ladder, headers=org.headers()).status_code == 200
    silver, bronze = create_customer(stack, org)["id"], create_customer(stack, org)["id"]
    _order(stack, org, silver, "60.00")
    _order(stack, org, bronze, "10.00")
    wait_for_entries(stack, org, silver, 1)
    wait_for_entries(stack, org, bronze, 1)
    reward = stack.api.post(
        "/v1/loyalty/rewards",
        json={"name": "Free coffee", "kind": "free_item", "sku": "COFFEE", "cost_points": 20},
        headers=org.headers(),
    ).json()
    code = stack.api.post(
        f"/v1/customers/{silver}/redemptions",
        json={"reward_id": reward["id"]},
        headers=org.headers(Role.cashier),
    ).json()["code"]
    used = stack.api.post(
        f"/v1/redemptions/{code}/confirm", json={"order_id": "B-1"}, headers=org.headers()
    )
    assert used.status_code == 200
    return silver, bronze, code


def test_managers_see_tiers_points_and_what_the_program_owes(stack: Stack, org: Org) -> None:
    _setup(stack, org)
    response = stack.api.get("/v1/loyalty/analytics", headers=org.headers(Role.manager))
    assert response.status_code == 200, response.text
    figures = response.json()
    assert figures["members"] == 2
    assert figures["members_per_tier"] == {"Silver": 1, "Bronze": 1}
    month = datetime.now(UTC).strftime("%Y-%m")
    assert figures["months"] == [{"month": month, "issued": 70, "redeemed": 20, "expired": 0}]
    assert figures["redemption_rate"] == round(20 / 70, 4)
    assert figures["outstanding_points"] == 50
    assert figures["active_members"] == 2
    # No fixed-discount reward yet: the points have no price to put on them.
    assert figures["outstanding_liability"] is None
    members = {g["group"]: g for g in figures["members_vs_others"]}
    assert (members["members"]["buyers"], members["members"]["average_orders"]) == (2, 1.0)
    assert (members["members"]["repeat_rate"], members["non-members"]["buyers"]) == (0.0, 0)
    five_off = {"name": "5 off", "kind": "discount_fixed", "value": "5", "cost_points": 100}
    assert (
        stack.api.post("/v1/loyalty/rewards", json=five_off, headers=org.headers()).status_code
        == 201
    )
    priced = stack.api.get("/v1/loyalty/analytics", headers=org.headers()).json()
    assert (priced["point_value"], priced["outstanding_liability"]) == ("0.0500", "2.50")
    sales = stack.api.get("/v1/loyalty/analytics", headers=org.headers(Role.sales))
    assert sales.status_code == 403


def test_a_birthday_gift_must_be_a_reward_of_the_catalog(stack: Stack, org: Org) -> None:
    body = {"points_per_unit": "1", "birthday_reward_id": str(uuid.uuid4())}
    refused = stack.api.put("/v1/loyalty/settings", json=body, headers=org.headers())
    assert refused.status_code == 422 and "birthday_reward_id" in refused.text
    settings = stack.api.get("/v1/loyalty/settings", headers=org.headers()).json()
    assert settings["birthday_reward_id"] is None


def test_a_customer_sees_their_own_account_through_their_link_and_nothing_else(
    stack: Stack, org: Org, other_org: Org
) -> None:
    silver, bronze, code = _setup(stack, org)
    link = stack.api.get(f"/v1/customers/{silver}/loyalty-link", headers=org.headers()).json()
    path = urlparse(link["url"]).path
    assert path.startswith(f"/v1/public/{org.slug}/loyalty/")
    view = stack.api.get(path)  # no key: the link is the credential
    assert view.status_code == 200, view.text
    mine = view.json()
    assert (mine["balance"], mine["tier"]) == (40, "Silver")
    assert [(h["kind"], h["points"]) for h in mine["history"]] == [
        ("redemption", -20),
        ("earn", 60),
    ]
    assert [r["code"] for r in mine["redemptions"]] == [code]
    assert [r["name"] for r in mine["rewards"]] == ["Free coffee"]
    assert "details" not in mine["history"][0]

    token = path.rsplit("/", 1)[1]
    bronze_link = stack.api.get(f"/v1/customers/{bronze}/loyalty-link", headers=org.headers())
    bronze_token = urlparse(bronze_link.json()["url"]).path.rsplit("/", 1)[1]
    # Another customer's id under this signature, or this token at another shop: not valid.
    forged = f"{bronze_token.split('.')[0]}.{token.split('.')[1]}"
    assert stack.api.get(f"/v1/public/{org.slug}/loyalty/{forged}").status_code == 404
    assert stack.api.get(f"/v1/public/{other_org.slug}/loyalty/{token}").status_code == 404
    # An unsubscribe token of the same customer opens nothing here.
    assert stack.api.get(f"/v1/public/{org.slug}/loyalty/garbage").status_code == 404
