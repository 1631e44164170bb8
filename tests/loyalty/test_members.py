"""The program's members as the API lists them: most points first, found by name or email and
by tier, and only the organization's own."""

from __future__ import annotations

import uuid

import pytest

from tests.support import Org, Stack, create_customer, order_paid, wait_until

# Keyset paging on a tuple and search: run on both databases.
pytestmark = pytest.mark.dialects


def _members(stack: Stack, org: Org, **params: str) -> list[dict]:
    response = stack.api.get("/v1/loyalty/members", params=params, headers=org.headers())
    assert response.status_code == 200, response.text
    return response.json()["items"]  # type: ignore[no-any-return]


def test_members_are_listed_by_balance_and_found_by_name_and_tier(
    stack: Stack, org: Org, other_org: Org
) -> None:
    ladder = {"tiers": [{"name": "Silver", "threshold": "100"}]}
    assert stack.api.put("/v1/loyalty/tiers", json=ladder, headers=org.headers()).status_code == 200
    marker = uuid.uuid4().hex[:6]
    for name, amount in (("Ann", "40.00"), ("Ben", "150.00"), ("Cy", "90.00")):
        customer = create_customer(stack, org, name=f"{name} {marker}")
        stack.api.post(
            "/v1/events",
            json=order_paid(customer["id"], f"{name}-{marker}", amount, "USD"),
            headers=org.headers(),
        )
    wait_until(lambda: len(_members(stack, org)) == 3)
    listed = _members(stack, org)
    assert [(m["name"].split()[0], m["balance"], m["tier"]) for m in listed] == [
        ("Ben", 150, "Silver"),
        ("Cy", 90, None),
        ("Ann", 40, None),
    ]
    first = stack.api.get("/v1/loyalty/members", params={"limit": 2}, headers=org.headers()).json()
    rest = _members(stack, org, cursor=first["next_cursor"])
    assert [m["balance"] for m in first["items"] + rest] == [150, 90, 40]
    assert [m["name"] for m in _members(stack, org, q=f"cy {marker}")] == [f"Cy {marker}"]
    assert [m["balance"] for m in _members(stack, org, tier="Silver")] == [150]
    assert [m["balance"] for m in _members(stack, org, tier="(none)")] == [90, 40]
    unknown = stack.api.get("/v1/loyalty/members", params={"tier": "Gold"}, headers=org.headers())
    assert unknown.status_code == 422 and unknown.json()["errors"][0]["field"] == "tier"
    assert _members(stack, other_org) == []
