"""The events Herald records itself, for journeys to start and exit on: a profile created, a
first order, a refund, joining and leaving the newsletter."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from tests.support import Org, Stack, create_customer, order_paid, wait_until

# SQL here differs between SQLite and PostgreSQL: run on both.
pytestmark = pytest.mark.dialects


def events(
    stack: Stack, org: Org, kind: str, customer_id: str | None = None
) -> list[dict[str, Any]]:
    params = {"type": kind} | ({"customer_id": customer_id} if customer_id else {})
    response = stack.api.get("/v1/events", params=params, headers=org.headers())
    assert response.status_code == 200, response.text
    return response.json()["items"]  # type: ignore[no-any-return]


def post(stack: Stack, org: Org, event: dict[str, Any]) -> None:
    response = stack.api.post("/v1/events", json=event, headers=org.headers())
    assert response.status_code == 202, response.text


def test_a_profile_created_anywhere_is_recorded_with_where_from(stack: Stack, org: Org) -> None:
    by_staff = create_customer(stack, org)
    post(stack, org, {"type": "signup", "customer": {"external_id": "s-1", "name": "Sam"}})
    stack.api.put(
        "/v1/messaging/settings", json={"newsletter_double_opt_in": False}, headers=org.headers()
    )
    stack.api.post(f"/v1/public/{org.slug}/newsletter", json={"email": "reader@example.com"})
    sources = sorted(e["properties"]["source"] for e in events(stack, org, "customer.created"))
    assert sources == ["api", "newsletter", "signup"]
    [mine] = events(stack, org, "customer.created", by_staff["id"])
    assert mine["properties"] == {"source": "api"}
    wait_until(
        lambda: events(stack, org, "customer.created", by_staff["id"])[0]["status"] == "dispatched"
    )


def test_the_first_order_and_each_refund_are_recorded(stack: Stack, org: Org) -> None:
    cid = create_customer(stack, org)["id"]
    post(stack, org, order_paid(cid, "F-1", amount="20"))
    post(stack, org, order_paid(cid, "F-2", amount="30"))
    [first] = events(stack, org, "customer.first_order", cid)
    assert first["properties"] == {"order_id": "F-1", "amount": "20", "currency": "EUR"}
    refund = {"order_id": "F-2", "refund_id": "r1", "amount": "10"}
    post(stack, org, {"type": "order.refunded", "customer": {"id": cid}, "properties": refund})
    post(
        stack,
        org,
        {"type": "order.refunded", "customer": {"id": cid}, "properties": {"order_id": "F-2"}},
    )
    refunds = events(stack, org, "customer.refunded", cid)
    assert [(e["properties"]["refund_id"], e["properties"]["order_status"]) for e in refunds] == [
        ("whole", "refunded"),
        ("r1", "partially_refunded"),
    ]


def test_a_history_order_is_recorded_as_first_but_starts_nothing(stack: Stack, org: Org) -> None:
    cid = create_customer(stack, org)["id"]
    old = order_paid(cid, "OLD-1")
    old["properties"]["paid_at"] = (datetime.now(UTC) - timedelta(days=90)).isoformat()
    post(stack, org, old)
    [first] = events(stack, org, "customer.first_order", cid)
    assert first["status"] == "dispatched" and first["dispatch_attempts"] == 0  # never handed on


def test_joining_and_leaving_the_newsletter_are_recorded(stack: Stack, org: Org) -> None:
    added = stack.api.post(
        "/v1/newsletter/subscribers",
        json={"email": "joiner@example.com", "topics": ["deals"]},
        headers=org.headers(),
    ).json()
    stack.api.post(f"/v1/newsletter/subscribers/{added['id']}/unsubscribe", headers=org.headers())
    [joined] = events(stack, org, "newsletter.subscribed", added["customer_id"])
    assert joined["properties"]["topics"] == ["deals"]
    [left] = events(stack, org, "newsletter.unsubscribed", added["customer_id"])
    assert left["properties"]["subscriber_id"] == added["id"]


@pytest.mark.parametrize(
    "kind",
    ["customer.created", "customer.first_order", "customer.refunded", "newsletter.subscribed"],
)
def test_no_key_may_post_an_event_herald_records(stack: Stack, org: Org, kind: str) -> None:
    cid = create_customer(stack, org)["id"]
    response = stack.api.post(
        "/v1/events", json={"type": kind, "customer": {"id": cid}}, headers=org.headers()
    )
    assert response.status_code == 422
    assert "Herald" in response.text
