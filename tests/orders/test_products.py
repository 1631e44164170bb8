"""The product catalog: batches from the shop, and the products orders name."""

from __future__ import annotations

from typing import Any

import pytest

from herald.access.models import Role
from tests.support import Org, Stack, create_customer, order_paid

# SQL here differs between SQLite and PostgreSQL: run on both.
pytestmark = pytest.mark.dialects

TEA = {
    "product_id": "tea",
    "name": "Green tea",
    "url": "https://shop.example/tea",
    "image_url": "https://shop.example/tea.jpg",
    "category": "drinks",
    "price": "12.50",
    "currency": "EUR",
}


def put(stack: Stack, org: Org, *products: dict[str, Any], role: Role = Role.owner) -> Any:
    return stack.api.put(
        "/v1/products", json={"products": list(products)}, headers=org.headers(role)
    )


def product(stack: Stack, org: Org, product_id: str) -> dict[str, Any]:
    response = stack.api.get(f"/v1/products/{product_id}", headers=org.headers())
    assert response.status_code == 200, response.text
    return response.json()  # type: ignore[no-any-return]


def test_a_batch_creates_and_replaces_products(stack: Stack, org: Org) -> None:
    cup = {"product_id": "cup", "name": "Cup", "category": "kitchen"}
    first = put(stack, org, TEA, cup)
    assert first.status_code == 200, first.text
    assert first.json() == {"created": 2, "updated": 0}

    second = put(
        stack, org, TEA | {"price": "11.00", "active": False}, {"product_id": "pot", "name": "Pot"}
    )
    assert second.json() == {"created": 1, "updated": 1}
    tea = product(stack, org, "tea")
    assert (tea["price"], tea["active"], tea["url"]) == (
        "11.0000",
        False,
        "https://shop.example/tea",
    )

    listed = stack.api.get(
        "/v1/products", params={"category": "drinks"}, headers=org.headers()
    ).json()
    assert [p["product_id"] for p in listed["items"]] == ["tea"]
    active = stack.api.get("/v1/products", params={"active": "true"}, headers=org.headers()).json()
    assert sorted(p["product_id"] for p in active["items"]) == ["cup", "pot"]


def test_an_order_adds_the_products_the_catalog_lacks(stack: Stack, org: Org) -> None:
    assert put(stack, org, TEA).status_code == 200
    customer = create_customer(stack, org)
    paid = order_paid(customer["id"], "L-1", amount="30", currency="EUR")
    paid["properties"]["items"] = [
        {"product_id": "tea", "name": "Tea (old name)", "unit_price": "10.00"},
        {"product_id": "honey", "name": "Honey", "quantity": 2, "unit_price": "10.00"},
    ]
    assert stack.api.post("/v1/events", json=paid, headers=org.headers()).status_code == 202

    honey = product(stack, org, "honey")
    assert (honey["name"], honey["price"], honey["currency"]) == ("Honey", "10.0000", "EUR")
    assert product(stack, org, "tea")["name"] == "Green tea"  # the shop's catalog wins


@pytest.mark.parametrize(
    ("products", "message"),
    [
        ([TEA, {"product_id": "x", "name": "X", "price": "5"}], "currency"),
        ([TEA, TEA], "twice"),
        ([TEA, {"product_id": "y", "name": "Y", "url": "javascript:alert(1)"}], "url"),
    ],
    ids=["price without a currency", "one product twice", "not a web address"],
)
def test_a_bad_batch_is_refused_and_saves_nothing(
    stack: Stack, org: Org, products: list[dict[str, Any]], message: str
) -> None:
    response = put(stack, org, *products)
    assert response.status_code == 422
    assert response.headers["content-type"] == "application/problem+json"
    assert message in response.text
    assert stack.api.get("/v1/products", headers=org.headers()).json()["items"] == []


def test_a_cashier_cannot_change_the_catalog(stack: Stack, org: Org) -> None:
    assert put(stack, org, TEA, role=Role.cashier).status_code == 403
    assert stack.api.get("/v1/products/tea", headers=org.headers()).status_code == 404
