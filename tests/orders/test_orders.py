"""Orders from order events: one order per order id, refunds in part, history orders."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import func, select

from herald.events.models import Event
from tests.support import (
    Org,
    Stack,
    create_customer,
    order_paid,
    points,
    wait_for_entries,
    wait_until,
)

# SQL here differs between SQLite and PostgreSQL: run on both.
pytestmark = pytest.mark.dialects


def post(stack: Stack, org: Org, event: dict[str, Any]) -> dict[str, Any]:
    response = stack.api.post("/v1/events", json=event, headers=org.headers())
    assert response.status_code == 202, response.text
    return response.json()["events"][0]  # type: ignore[no-any-return]


def refund(customer_id: str, order_id: str, **properties: Any) -> dict[str, Any]:
    return {
        "type": "order.refunded",
        "customer": {"id": customer_id},
        "properties": {"order_id": order_id, **properties},
    }


def order(stack: Stack, org: Org, order_id: str) -> dict[str, Any]:
    response = stack.api.get(f"/v1/orders/{order_id}", headers=org.headers())
    assert response.status_code == 200, response.text
    return response.json()  # type: ignore[no-any-return]


def stored_events(stack: Stack, org: Org, kind: str) -> int:
    with stack.db.session(org.id) as session:
        return session.scalar(select(func.count()).where(Event.type == kind)) or 0


def settled_balance(stack: Stack, org: Org, customer_id: str, entries: int) -> dict[str, Any]:
    wait_for_entries(stack, org, customer_id, entries)
    time.sleep(0.5)  # anything still to come would show now
    return points(stack, org, customer_id)


def test_the_same_order_posted_twice_is_one_order_with_its_items(stack: Stack, org: Org) -> None:
    customer = create_customer(stack, org)
    paid = order_paid(customer["id"], "O-1", amount="42.50")
    paid["properties"] |= {
        "discount": "5",
        "shipping": "4.50",
        "source": "web",
        "items": [
            {"product_id": "tea", "name": "Green tea", "quantity": 2, "unit_price": "12.00"},
            {"product_id": "cup", "variant_id": "blue", "unit_price": "19.00"},
        ],
    }
    first = post(stack, org, paid)
    again = dict(paid, properties=dict(paid["properties"], amount="999"))
    second = post(stack, org, again)

    assert first["duplicate"] is False
    assert second == {**first, "duplicate": True}  # the first event answers for the repeat
    assert stored_events(stack, org, "order.paid") == 1
    recorded = order(stack, org, "O-1")
    assert (recorded["amount"], recorded["currency"], recorded["status"]) == (
        "42.5000",
        "EUR",
        "paid",
    )
    assert (recorded["discount"], recorded["shipping"], recorded["source"]) == (
        "5.0000",
        "4.5000",
        "web",
    )
    assert [(i["product_id"], i["variant_id"], i["quantity"]) for i in recorded["items"]] == [
        ("tea", None, 2),
        ("cup", "blue", 1),
    ]
    page = stack.api.get(f"/v1/customers/{customer['id']}/orders", headers=org.headers()).json()
    assert [o["order_id"] for o in page["items"]] == ["O-1"]
    assert settled_balance(stack, org, customer["id"], 1)["balance"] == 42


def test_partial_refunds_take_back_their_share_once_each(stack: Stack, org: Org) -> None:
    customer = create_customer(stack, org)
    post(stack, org, order_paid(customer["id"], "P-1", amount="100"))
    wait_for_entries(stack, org, customer["id"], 1)

    post(stack, org, refund(customer["id"], "P-1", refund_id="r1", amount="30"))
    repeat = post(stack, org, refund(customer["id"], "P-1", refund_id="r1", amount="30"))
    assert repeat["duplicate"] is True
    assert settled_balance(stack, org, customer["id"], 2)["balance"] == 70
    assert (order(stack, org, "P-1")["status"], order(stack, org, "P-1")["refunded_amount"]) == (
        "partially_refunded",
        "30.0000",
    )

    # By idempotency key this time; then the rest, without an amount.
    post(stack, org, refund(customer["id"], "P-1", amount="33.33") | {"idempotency_key": "k2"})
    assert settled_balance(stack, org, customer["id"], 3)["balance"] == 37
    post(stack, org, refund(customer["id"], "P-1", refund_id="r3"))
    ledger = settled_balance(stack, org, customer["id"], 4)
    assert ledger["balance"] == 0
    assert sorted(e["points"] for e in ledger["entries"]) == [-37, -33, -30, 100]
    assert order(stack, org, "P-1")["status"] == "refunded"
    assert order(stack, org, "P-1")["refunded_amount"] == "100.0000"


def test_a_partial_refund_that_overtakes_its_order_is_taken_off_the_award(
    stack: Stack, org: Org
) -> None:
    customer = create_customer(stack, org)
    post(stack, org, refund(customer["id"], "E-1", refund_id="early", amount="25"))
    wait_for_entries(stack, org, customer["id"], 1)
    post(stack, org, order_paid(customer["id"], "E-1", amount="100"))
    ledger = settled_balance(stack, org, customer["id"], 2)
    award = next(e for e in ledger["entries"] if e["kind"] == "earn")
    assert award["points"] == 75 and award["details"]["gross_points"] == 100
    assert order(stack, org, "E-1")["refunded_amount"] == "25.0000"

    post(stack, org, refund(customer["id"], "E-1", refund_id="rest"))
    assert settled_balance(stack, org, customer["id"], 3)["balance"] == 0


def test_an_order_paid_before_the_history_window_is_counted_but_awards_nothing(
    stack: Stack, org: Org
) -> None:
    customer = create_customer(stack, org)
    old = order_paid(customer["id"], "H-1", amount="80")
    old["properties"]["paid_at"] = (datetime.now(UTC) - timedelta(days=40)).isoformat()
    accepted = post(stack, org, old)
    assert accepted["history"] is True
    post(stack, org, order_paid(customer["id"], "NEW-1", amount="5"))

    ledger = settled_balance(stack, org, customer["id"], 1)
    assert [e["source_id"] for e in ledger["entries"]] == ["NEW-1"]
    assert order(stack, org, "H-1")["history"] is True
    event = stack.api.get(f"/v1/events/{accepted['id']}", headers=org.headers()).json()
    assert event["status"] == "dispatched"  # nothing waits on it
    runs = stack.api.get(
        "/v1/runs",
        params={"customer_id": customer["id"], "type": "AwardOrderPoints"},
        headers=org.headers(),
    ).json()["items"]
    assert len(runs) == 1


@pytest.mark.parametrize(
    ("properties", "extra", "message"),
    [
        ({"amount": "5"}, {}, "refund_id"),
        ({"refund_id": "x", "currency": "USD"}, {}, "currency"),
    ],
    ids=["partial without an id", "another currency"],
)
def test_a_refund_that_cannot_be_counted_once_is_refused_and_changes_nothing(
    stack: Stack, org: Org, properties: dict[str, Any], extra: dict[str, Any], message: str
) -> None:
    customer = create_customer(stack, org)
    post(stack, org, order_paid(customer["id"], "Q-1", amount="10", currency="EUR"))
    response = stack.api.post(
        "/v1/events",
        json=refund(customer["id"], "Q-1", **properties) | extra,
        headers=org.headers(),
    )
    assert response.status_code == 422
    assert response.headers["content-type"] == "application/problem+json"
    assert message in response.text
    assert stored_events(stack, org, "order.refunded") == 0
    assert order(stack, org, "Q-1")["status"] == "paid"
    assert wait_until(lambda: points(stack, org, customer["id"])["balance"] == 10)
