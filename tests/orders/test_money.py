"""Money in one currency: the reporting currency, monthly rates, a customer's figures."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest

from herald.access.models import Role
from tests.support import Org, Stack, create_customer, order_paid

# SQL here differs between SQLite and PostgreSQL: run on both.
pytestmark = pytest.mark.dialects


def post(stack: Stack, org: Org, event: dict[str, Any]) -> dict[str, Any]:
    response = stack.api.post("/v1/events", json=event, headers=org.headers())
    assert response.status_code == 202, response.text
    return response.json()["events"][0]  # type: ignore[no-any-return]


def metrics(stack: Stack, org: Org, customer_id: str) -> dict[str, Any]:
    response = stack.api.get(f"/v1/customers/{customer_id}", headers=org.headers())
    assert response.status_code == 200, response.text
    return response.json()["metrics"]  # type: ignore[no-any-return]


def test_lifetime_value_is_one_figure_in_the_reporting_currency(stack: Stack, org: Org) -> None:
    patched = stack.api.patch(
        "/v1/organization", json={"reporting_currency": "eur"}, headers=org.headers()
    )
    assert patched.status_code == 200, patched.text
    assert patched.json()["reporting_currency"] == "EUR"
    customer = create_customer(stack, org)
    paid_at = datetime.now(UTC) - timedelta(days=3)
    month = f"{paid_at:%Y-%m}"
    for order_id, amount, currency in (("M-1", "100", "EUR"), ("M-2", "50", "USD")):
        event = order_paid(customer["id"], order_id, amount=amount, currency=currency)
        event["properties"]["paid_at"] = paid_at.isoformat()
        post(stack, org, event)
    refund = {"order_id": "M-1", "refund_id": "r1", "amount": "20"}
    post(
        stack,
        org,
        {"type": "order.refunded", "customer": {"id": customer["id"]}, "properties": refund},
    )

    before = metrics(stack, org, customer["id"])
    assert before["currency"] == "EUR"
    assert (before["lifetime_value"], before["orders"], before["orders_not_converted"]) == (
        "80.00",
        2,
        1,
    )  # the dollars are not added to the euros as they are
    assert before["average_order_value"] == "80.00"
    assert before["days_since_last_order"] == 3
    assert datetime.fromisoformat(before["last_order_at"]) == paid_at.replace(
        microsecond=paid_at.microsecond
    )

    rates = stack.api.put(
        "/v1/currency-rates",
        json={"rates": [{"currency": "usd", "month": month, "rate": "0.9"}]},
        headers=org.headers(),
    )
    assert rates.status_code == 200, rates.text
    assert [(r["currency"], r["month"], Decimal(r["rate"])) for r in rates.json()] == [
        ("USD", month, Decimal("0.9"))
    ]
    after = metrics(stack, org, customer["id"])
    assert (after["lifetime_value"], after["orders_not_converted"]) == ("125.00", 0)
    assert after["average_order_value"] == "62.50"

    # A rate set again replaces the first; removing it leaves the dollars out again.
    stack.api.put(
        "/v1/currency-rates",
        json={"rates": [{"currency": "USD", "month": month, "rate": "1.1"}]},
        headers=org.headers(),
    )
    assert metrics(stack, org, customer["id"])["lifetime_value"] == "135.00"
    deleted = stack.api.delete(f"/v1/currency-rates/USD/{month}", headers=org.headers())
    assert deleted.status_code == 204
    assert metrics(stack, org, customer["id"])["lifetime_value"] == "80.00"
    assert stack.api.get("/v1/currency-rates", headers=org.headers()).json() == []


@pytest.mark.parametrize(
    "rate",
    [
        {"currency": "XXY", "month": "2026-11", "rate": "1"},
        {"currency": "USD", "month": "2026-13", "rate": "1"},
        {"currency": "USD", "month": "2026-11", "rate": "0"},
    ],
    ids=["unknown currency", "no such month", "zero rate"],
)
def test_a_bad_rate_is_refused_and_changes_nothing(
    stack: Stack, org: Org, rate: dict[str, str]
) -> None:
    good = {"currency": "GBP", "month": "2026-11", "rate": "1.2"}
    response = stack.api.put(
        "/v1/currency-rates", json={"rates": [good, rate]}, headers=org.headers()
    )
    assert response.status_code == 422
    assert response.headers["content-type"] == "application/problem+json"
    assert stack.api.get("/v1/currency-rates", headers=org.headers()).json() == []


def test_only_staff_who_configure_the_organization_set_its_money(stack: Stack, org: Org) -> None:
    cashier = org.headers(Role.cashier)
    assert (
        stack.api.patch(
            "/v1/organization", json={"reporting_currency": "VND"}, headers=cashier
        ).status_code
        == 403
    )
    rate = {"rates": [{"currency": "USD", "month": "2026-11", "rate": "25000"}]}
    assert stack.api.put("/v1/currency-rates", json=rate, headers=cashier).status_code == 403
    assert (
        stack.api.get("/v1/organization", headers=org.headers()).json()["reporting_currency"]
        == "USD"
    )


def test_the_history_window_is_the_organization_s_own(stack: Stack, org: Org) -> None:
    patched = stack.api.patch(
        "/v1/organization", json={"order_history_days": 1}, headers=org.headers()
    )
    assert patched.json()["order_history_days"] == 1
    customer = create_customer(stack, org)
    event = order_paid(customer["id"], "W-1")
    event["properties"]["paid_at"] = (datetime.now(UTC) - timedelta(days=2)).isoformat()
    assert post(stack, org, event)["history"] is True
    assert post(stack, org, order_paid(customer["id"], "W-2"))["history"] is False


def test_templates_read_the_customer_s_order_figures(stack: Stack, org: Org) -> None:
    customer = create_customer(stack, org, name="Mai")
    for order_id, amount in (("TPL-1", "100"), ("TPL-2", "25.5")):
        post(stack, org, order_paid(customer["id"], order_id, amount=amount, currency="USD"))
    template = {
        "key": "thanks",
        "name": "Thanks",
        "channel": "email",
        "category": "transactional",
        "default_locale": "en",
        "variants": {
            "en": {
                "subject": "{{ customer.orders }} orders, {{ customer.lifetime_value }} USD",
                "html": "<p>Thanks</p>",
            }
        },
    }
    made = stack.api.post("/v1/templates", json=template, headers=org.headers()).json()
    sent = stack.api.post(
        f"/v1/templates/{made['id']}/test-send",
        json={"to": "qa@example.com", "customer_id": customer["id"]},
        headers=org.headers(),
    )
    assert sent.status_code == 200, sent.text
    assert sent.json()["content"]["subject"] == "2 orders, 125.50 USD"
