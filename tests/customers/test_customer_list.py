"""The customer list by what merchants ask of it (order figures, country, segment, deleted),
sorted by value, orders or last order, paged without gaps; and the organization's figures."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from tests.support import Org, Stack, create_customer, order_paid, wait_until

# SQL here differs between SQLite and PostgreSQL: run on both.
pytestmark = pytest.mark.dialects

NOW = datetime.now(UTC)


def paid(
    stack: Stack,
    org: Org,
    cid: str,
    order_id: str,
    amount: str,
    days_ago: float = 1,
    currency: str = "USD",
) -> None:
    event = order_paid(cid, order_id, amount=amount, currency=currency)
    event["properties"]["paid_at"] = (NOW - timedelta(days=days_ago)).isoformat()
    assert stack.api.post("/v1/events", json=event, headers=org.headers()).status_code == 202


def names(stack: Stack, org: Org, **params: Any) -> list[str]:
    response = stack.api.get("/v1/customers", params=params, headers=org.headers())
    assert response.status_code == 200, response.text
    return [c["name"] for c in response.json()["items"]]


@pytest.fixture
def shop(stack: Stack, org: Org) -> dict[str, str]:
    """Ana (VN, 2 orders: 150), Ben (GB, 1 order: 30), Chi (VN, none), Dan (deleted, 1: 10)."""
    ids = {}
    for name, country in (("Ana", "VN"), ("Ben", "GB"), ("Chi", "VN"), ("Dan", "VN")):
        address = {"line1": "1 Street", "country": country}
        ids[name] = create_customer(stack, org, name=name, addresses=[address])["id"]
    paid(stack, org, ids["Ana"], "A-1", "100", days_ago=40)
    paid(stack, org, ids["Ana"], "A-2", "50", days_ago=2)
    paid(stack, org, ids["Ben"], "B-1", "30", days_ago=10)
    paid(stack, org, ids["Dan"], "D-1", "10", days_ago=5)
    assert stack.api.delete(f"/v1/customers/{ids['Dan']}", headers=org.headers()).status_code == 204
    return ids


def test_the_list_filters_by_order_figures_country_and_deletion(
    stack: Stack, org: Org, shop: dict[str, str]
) -> None:
    assert sorted(names(stack, org, country="vn")) == ["Ana", "Chi"]
    assert names(stack, org, min_lifetime_value="100") == ["Ana"]
    assert names(stack, org, min_orders=1, max_orders=1) == ["Ben"]
    assert names(stack, org, max_orders=0) == ["Chi"]
    since = (NOW - timedelta(days=7)).isoformat()
    assert names(stack, org, last_order_after=since) == ["Ana"]
    assert names(stack, org, deleted_only="true") == ["Dan"]
    listed = stack.api.get("/v1/customers", params={"q": "ana"}, headers=org.headers()).json()
    ana = listed["items"][0]
    assert (ana["orders"], ana["lifetime_value"], ana["country"]) == (2, "150.00", "VN")


def test_the_list_sorts_by_value_orders_and_last_order_in_gapless_pages(
    stack: Stack, org: Org, shop: dict[str, str]
) -> None:
    assert names(stack, org, sort="-lifetime_value") == ["Ana", "Ben", "Chi"]
    assert names(stack, org, sort="orders")[-1] == "Ana"
    assert names(stack, org, sort="-last_order") == ["Ana", "Ben"]  # those who ordered
    for sort in ("-lifetime_value", "orders", "-last_order", "name"):
        walked, cursor = [], None
        while True:
            params: dict[str, Any] = {"sort": sort, "limit": 1} | (
                {"cursor": cursor} if cursor else {}
            )
            page = stack.api.get("/v1/customers", params=params, headers=org.headers()).json()
            walked += [c["name"] for c in page["items"]]
            if not (cursor := page["next_cursor"]):
                break
        assert walked == names(stack, org, sort=sort), sort


def test_a_segment_filters_the_list(stack: Stack, org: Org, shop: dict[str, str]) -> None:
    rule = {"orders": "total_spent", "op": "gte", "value": 25}
    made = stack.api.post(
        "/v1/segments",
        json={"key": "spenders", "name": "Spenders", "rule": rule},
        headers=org.headers(),
    )
    assert made.status_code in (200, 201), made.text
    assert sorted(names(stack, org, segment="spenders")) == ["Ana", "Ben"]
    assert (
        stack.api.get(
            "/v1/customers", params={"segment": "nope"}, headers=org.headers()
        ).status_code
        == 404
    )


def test_figures_follow_refunds_rates_and_the_reporting_currency(stack: Stack, org: Org) -> None:
    cid = create_customer(stack, org, name="Eve")["id"]
    paid(stack, org, cid, "E-1", "100")
    paid(stack, org, cid, "E-2", "20", currency="EUR")

    def value() -> str:
        return stack.api.get(f"/v1/customers/{cid}", headers=org.headers()).json()["lifetime_value"]

    assert value() == "100.00"  # the euros wait for a rate
    refund = {"order_id": "E-1", "refund_id": "r", "amount": "40"}
    stack.api.post(
        "/v1/events",
        json={"type": "order.refunded", "customer": {"id": cid}, "properties": refund},
        headers=org.headers(),
    )
    assert value() == "60.00"
    month = f"{NOW - timedelta(days=1):%Y-%m}"
    stack.api.put(
        "/v1/currency-rates",
        json={"rates": [{"currency": "EUR", "month": month, "rate": "2"}]},
        headers=org.headers(),
    )
    # A rate or currency change has every buyer concerned recomputed by a run, in pages.
    wait_until(lambda: value() == "100.00")
    stack.api.put(
        "/v1/currency-rates",
        json={"rates": [{"currency": "USD", "month": month, "rate": "0.5"}]},
        headers=org.headers(),
    )
    stack.api.patch("/v1/organization", json={"reporting_currency": "EUR"}, headers=org.headers())
    wait_until(lambda: value() == "50.00")  # 60 dollars at 0.5, and 20 euros
    wait_until(
        lambda: (
            [
                r["status"]
                for r in stack.api.get(
                    "/v1/runs", params={"type": "RefreshCustomerFigures"}, headers=org.headers()
                ).json()["items"]
            ]
            == ["completed"] * 3
        )
    )


@pytest.mark.parametrize(
    "params",
    [
        {"min_orders": -1},
        {"sort": "points"},
        {"country": "ZZ"},
        {"cursor": "bm9wZQ=="},
        {
            "sort": "-lifetime_value",
            "cursor": "WyJ4IiwgIjAwMDAwMDAwLTAwMDAtMDAwMC0wMDAwLTAwMDAwMDAwMDAwMCJd",
        },
    ],
    ids=[
        "negative count",
        "unknown sort",
        "unknown country",
        "garbled cursor",
        "cursor of another sort",
    ],
)
def test_a_bad_list_query_is_a_422(stack: Stack, org: Org, params: dict[str, Any]) -> None:
    response = stack.api.get("/v1/customers", params=params, headers=org.headers())
    assert response.status_code == 422, response.text
    assert response.headers["content-type"] == "application/problem+json"


def test_the_stats_count_buyers_repeats_value_and_activity(
    stack: Stack, org: Org, shop: dict[str, str]
) -> None:
    response = stack.api.get(
        "/v1/customers/stats", params={"period": "week", "periods": 8}, headers=org.headers()
    )
    assert response.status_code == 200, response.text
    stats = response.json()
    assert (stats["total"], stats["buyers"], stats["repeat_buyers"]) == (3, 2, 1)
    assert stats["repeat_purchase_rate"] == 0.5
    assert stats["average_lifetime_value"] == "90.00"  # (150 + 30) / 2; Dan is deleted
    vietnam = next(c for c in stats["by_country"] if c["country"] == "VN")
    assert (vietnam["customers"], vietnam["buyers"], vietnam["lifetime_value"]) == (2, 1, "150.00")
    weeks = stats["periods"]
    assert len(weeks) == 8 and weeks[-1]["start"] <= NOW.date().isoformat()
    assert sum(w["new"] for w in weeks) == 3
    # Customer-weeks with an order: Ana's two (40 and 2 days ago), Ben's, and Dan's (deleted
    # since, but he did buy then).
    assert sum(w["active"] for w in weeks) == 4
    months = stack.api.get("/v1/customers/stats", headers=org.headers()).json()["periods"]
    assert len(months) == 12 and months[-1]["start"] == NOW.date().replace(day=1).isoformat()


def test_a_search_pages_through_matches_by_name_email_and_phone_each_once(
    stack: Stack, org: Org, other_org: Org
) -> None:
    create_customer(stack, org, name="Kim Ode", emails=["kim.ode@example.com"])  # name and email
    create_customer(stack, org, name="Lee", emails=["kimberly@example.com"])  # email only
    create_customer(stack, org, name="Kimora", phones=["+14155550199"])  # name only
    create_customer(stack, org, name="Ann", emails=["ann@example.com"], phones=["+14155550198"])
    create_customer(stack, other_org, name="Kim Elsewhere")  # another organization's

    def pages(**params: Any) -> list[str]:
        seen, cursor = [], None
        while True:
            query = {**params, "limit": 1, **({"cursor": cursor} if cursor else {})}
            response = stack.api.get("/v1/customers", params=query, headers=org.headers())
            assert response.status_code == 200, response.text
            seen += [c["name"] for c in response.json()["items"]]
            cursor = response.json()["next_cursor"]
            if not cursor:
                return seen

    assert pages(q="KIM", sort="-created_at") == ["Kimora", "Lee", "Kim Ode"]
    assert pages(q="kim", sort="name") == ["Kim Ode", "Kimora", "Lee"]
    assert pages(q="415 555 01", sort="name") == ["Ann", "Kimora"]
    assert pages(q="nobody") == []
