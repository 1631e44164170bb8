"""Bad input is a clear 4xx in problem+json form and writes nothing."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import func, select

from herald.access.models import Role
from herald.customers.models import Customer
from herald.events.models import Event
from herald.events.schemas import HERALD_CUSTOMER_EVENTS
from tests.support import Org, Stack, create_customer, order_paid


def _counts(stack: Stack, org: Org) -> tuple[int, int]:
    """Customers, and the events keys posted (not those Herald records about them)."""
    posted = ~Event.type.in_(HERALD_CUSTOMER_EVENTS)
    with stack.db.session(org.id) as session:
        return (
            session.scalar(select(func.count()).select_from(Customer)) or 0,
            session.scalar(select(func.count()).select_from(Event).where(posted)) or 0,
        )


def _assert_problem(response: Any, status: int, field: str | None = None) -> None:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    body = response.json()
    assert body["status"] == status and body["title"] and body["detail"]
    if field is not None:
        assert any(e["field"] == field for e in body["errors"]), body


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"emails": ["not-an-email"]}, "emails.0.address"),
        ({"phones": ["+1 555"]}, "phones.0.number"),
        ({"phones": ["0301234567"]}, "phones.0.number"),
        ({"timezone": "Mars/Olympus"}, "timezone"),
        ({"birthday": "2999-01-01"}, "birthday"),
        (
            {
                "emails": [
                    {"address": "a@x.com", "primary": True},
                    {"address": "b@x.com", "primary": True},
                ]
            },
            "emails",
        ),
        ({"name": "x", "unknown": 1}, "unknown"),
    ],
)
def test_bad_customer_payloads_are_422_and_write_nothing(
    stack: Stack, org: Org, body: dict[str, Any], field: str
) -> None:
    before = _counts(stack, org)
    _assert_problem(stack.api.post("/v1/customers", json=body, headers=org.headers()), 422, field)
    assert _counts(stack, org) == before


def _order(customer_id: str, **properties: Any) -> dict[str, Any]:
    event = order_paid(customer_id, "V-1")
    event["properties"].update(properties)
    for key in [k for k, v in properties.items() if v is None]:
        del event["properties"][key]
    return event


@pytest.mark.parametrize(
    ("mutate", "field"),
    [
        (lambda e: e.pop("type"), None),
        (lambda e: e.pop("customer"), None),
        (lambda e: e["properties"].pop("order_id"), "events.0.properties.order_id"),
        (lambda e: e["properties"].update(amount="-5"), "events.0.properties.amount"),
        (lambda e: e["properties"].update(currency="XYZ"), "events.0.properties.currency"),
        (lambda e: e.update(occurred_at="2026-01-01T10:00:00"), "events.0.occurred_at"),
        (lambda e: e.update(type="Not A Type"), "events.0.type"),
        (
            lambda e: e.update(customer={"id": "00000000-0000-0000-0000-000000000000"}),
            "events.0.customer",
        ),
    ],
)
def test_bad_events_are_refused_and_the_whole_batch_writes_nothing(
    stack: Stack, org: Org, mutate: Any, field: str | None
) -> None:
    customer = create_customer(stack, org)
    good = order_paid(customer["id"], "GOOD-1")
    bad = order_paid(customer["id"], "BAD-1")
    mutate(bad)
    before = _counts(stack, org)
    response = stack.api.post("/v1/events", json={"events": [bad, good]}, headers=org.headers())
    _assert_problem(response, 422, field)
    assert _counts(stack, org) == before


@pytest.mark.parametrize(
    "kind", ["inquiry.received", "segment.entered", "loyalty.tier_changed", "newsletter.x"]
)
def test_no_key_may_post_an_event_type_herald_records_itself(
    stack: Stack, org: Org, kind: str
) -> None:
    """Herald's own events start and move runs: a shop's key posting one (with properties the
    reaction cannot read) once stalled dispatch for every organization."""
    customer = create_customer(stack, org)
    event = {"type": kind, "customer": {"id": customer["id"]}, "properties": {"inquiry_id": "x"}}
    before = _counts(stack, org)
    response = stack.api.post(
        "/v1/events", json={"events": [event]}, headers=org.headers(Role.cashier)
    )
    _assert_problem(response, 422, "events.0.type")
    assert "Herald's own" in response.text
    assert _counts(stack, org) == before


def test_a_batch_of_1001_events_is_refused(stack: Stack, org: Org) -> None:
    customer = create_customer(stack, org)
    before = _counts(stack, org)
    batch = {"events": [order_paid(customer["id"], f"B-{i}") for i in range(1001)]}
    _assert_problem(stack.api.post("/v1/events", json=batch, headers=org.headers()), 422, "events")
    assert _counts(stack, org) == before
    # A full batch is taken. (Page views start no workflow, so the shared worker stays free.)
    views = {
        "events": [
            {"type": "page.viewed", "customer": {"id": customer["id"]}, "properties": {"n": i}}
            for i in range(1000)
        ]
    }
    response = stack.api.post("/v1/events", json=views, headers=org.headers())
    assert response.status_code == 202 and response.json()["accepted"] == 1000
    assert _counts(stack, org)[1] == before[1] + 1000


def test_a_repeated_idempotency_key_is_stored_once(stack: Stack, org: Org) -> None:
    customer = create_customer(stack, org)
    event = {**order_paid(customer["id"], "I-1"), "idempotency_key": "shop-evt-1"}
    first = stack.api.post("/v1/events", json=event, headers=org.headers()).json()["events"][0]
    second = stack.api.post("/v1/events", json=event, headers=org.headers()).json()["events"][0]
    assert second == {**first, "duplicate": True}
    assert _counts(stack, org)[1] == 1


def test_signup_creates_an_unknown_customer(stack: Stack, org: Org) -> None:
    response = stack.api.post(
        "/v1/events",
        json={
            "type": "signup",
            "customer": {"email": "New@Example.com", "name": "Newbie"},
            "properties": {"source": "footer-form"},
        },
        headers=org.headers(),
    )
    assert response.status_code == 202, response.text
    customer_id = response.json()["events"][0]["customer_id"]
    profile = stack.api.get(f"/v1/customers/{customer_id}", headers=org.headers()).json()
    assert profile["name"] == "Newbie" and profile["emails"][0]["address"] == "new@example.com"
    # A second signup of the same address finds the profile instead of duplicating it.
    again = stack.api.post(
        "/v1/events",
        json={"type": "signup", "customer": {"email": "new@example.com"}},
        headers=org.headers(),
    ).json()["events"][0]
    assert again["customer_id"] == customer_id


def test_loyalty_settings_refuse_a_non_positive_rate(stack: Stack, org: Org) -> None:
    for rate in ("0", "-1", "abc"):
        response = stack.api.put(
            "/v1/loyalty/settings", json={"points_per_unit": rate}, headers=org.headers()
        )
        _assert_problem(response, 422, "points_per_unit")
