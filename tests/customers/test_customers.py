"""Customer profiles: create, find, page, update, soft delete, accounts."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from tests.support import Org, Stack, create_customer

# SQL here differs between SQLite and PostgreSQL: run on both.
pytestmark = pytest.mark.dialects


def test_a_profile_keeps_every_field_and_names_its_primaries(stack: Stack, org: Org) -> None:
    customer = create_customer(
        stack,
        org,
        name="Grace Hopper",
        emails=["grace@navy.example", {"address": "Grace@Work.example", "primary": True}],
        phones=["+49 30 901820"],
        birthday="1906-12-09",
        locale="en-US",
        timezone="America/New_York",
        external_id="shop-7",
        attributes={"plan": "gold", "visits": 3},
        tags=["vip", "newsletter", "vip"],
    )
    assert customer["emails"] == [
        {"address": "grace@navy.example", "primary": False},
        {"address": "grace@work.example", "primary": True},
    ]
    assert customer["phones"] == [{"number": "+4930901820", "primary": True}]
    assert customer["tags"] == ["newsletter", "vip"]
    fetched = stack.api.get(f"/v1/customers/{customer['id']}", headers=org.headers()).json()
    assert fetched.pop("metrics")["orders"] == 0  # the profile adds the order figures
    assert fetched == customer


def test_duplicate_external_id_or_primary_email_is_a_409(
    stack: Stack, org: Org, other_org: Org
) -> None:
    create_customer(stack, org, emails=["dup@example.com"], external_id="X-1")
    for body in (
        {"emails": ["other@example.com"], "external_id": "X-1"},
        {"emails": ["DUP@example.com"]},
    ):
        response = stack.api.post("/v1/customers", json=body, headers=org.headers())
        assert response.status_code == 409, response.text
        assert response.headers["content-type"].startswith("application/problem+json")
    # Another brand may have the same shopper.
    create_customer(stack, other_org, emails=["dup@example.com"], external_id="X-1")
    listed = stack.api.get("/v1/customers", params={"q": "dup@"}, headers=org.headers()).json()
    assert len(listed["items"]) == 1


def test_search_filters_sorting_and_cursor_pages(stack: Stack, org: Org) -> None:
    names = ["Carol", "Alice", "Eve", "Bob", "Dave"]
    made = [
        create_customer(
            stack,
            org,
            name=n,
            emails=[f"{n.lower()}@example.com"],
            phones=[f"+1415555{i:04d}"],
            tags=["even"] if i % 2 == 0 else [],
        )
        for i, n in enumerate(names)
    ]
    headers = org.headers()

    def query(**params: object) -> dict:
        return stack.api.get("/v1/customers", params=params, headers=headers).json()  # type: ignore[no-any-return]

    assert [c["name"] for c in query(q="ali")["items"]] == ["Alice"]
    assert [c["name"] for c in query(q="eve@example")["items"]] == ["Eve"]
    assert [c["name"] for c in query(q="4155550003")["items"]] == ["Bob"]
    assert sorted(c["name"] for c in query(tag="even")["items"]) == ["Carol", "Dave", "Eve"]

    seen, cursor = [], None
    while True:
        page = query(sort="name", limit=2, **({"cursor": cursor} if cursor else {}))
        seen += [c["name"] for c in page["items"]]
        cursor = page["next_cursor"]
        if not cursor:
            break
    assert seen == sorted(names)
    newest_first = [c["name"] for c in query(sort="-created_at")["items"]]
    assert newest_first == list(reversed(names))

    after = made[2]["created_at"]
    later = query(created_after=after, sort="created_at")["items"]
    assert [c["name"] for c in later] == names[2:]
    future = (datetime.now(UTC) + timedelta(days=1)).isoformat()
    assert query(created_after=future)["items"] == []
    assert (
        stack.api.get("/v1/customers", params={"cursor": "garbage"}, headers=headers).status_code
        == 422
    )


def test_patch_merges_attributes_and_replaces_lists(stack: Stack, org: Org) -> None:
    customer = create_customer(stack, org, attributes={"a": 1, "b": 2}, tags=["x"])
    response = stack.api.patch(
        f"/v1/customers/{customer['id']}",
        json={"attributes": {"b": None, "c": 3}, "tags": ["y"], "timezone": "Asia/Tokyo"},
        headers=org.headers(),
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["attributes"] == {"a": 1, "c": 3}
    assert body["tags"] == ["y"] and body["timezone"] == "Asia/Tokyo"
    assert body["name"] == customer["name"]


def test_soft_delete_hides_and_restore_brings_back(stack: Stack, org: Org) -> None:
    customer = create_customer(stack, org, name="Gone Soon")
    cid = customer["id"]
    headers = org.headers()
    assert stack.api.delete(f"/v1/customers/{cid}", headers=headers).status_code == 204
    assert stack.api.get(f"/v1/customers/{cid}", headers=headers).status_code == 404
    assert (
        stack.api.get("/v1/customers", params={"q": "Gone"}, headers=headers).json()["items"] == []
    )
    kept = stack.api.get(f"/v1/customers/{cid}", params={"include_deleted": True}, headers=headers)
    assert kept.status_code == 200 and kept.json()["deleted_at"] is not None
    assert stack.api.get(f"/v1/customers/{cid}/points", headers=headers).status_code == 200
    assert stack.api.post(f"/v1/customers/{cid}/restore", headers=headers).status_code == 200
    assert [
        c["id"]
        for c in stack.api.get("/v1/customers", params={"q": "Gone"}, headers=headers).json()[
            "items"
        ]
    ] == [cid]


def test_a_profile_is_promoted_to_or_linked_with_a_customer_account(stack: Stack, org: Org) -> None:
    headers = org.headers()
    first = create_customer(stack, org, emails=["member@example.com"])
    account = stack.api.post(f"/v1/customers/{first['id']}/account", headers=headers)
    assert account.status_code == 201, account.text
    assert account.json()["role"] == "customer" and account.json()["email"] == "member@example.com"
    assert (
        stack.api.post(f"/v1/customers/{first['id']}/account", headers=headers).status_code == 409
    )
    assert (
        stack.api.get(f"/v1/customers/{first['id']}", headers=headers).json()["user_id"]
        == account.json()["user_id"]
    )

    second = create_customer(stack, org)
    user = stack.api.post(
        "/v1/users", json={"email": "shopper@example.com"}, headers=headers
    ).json()
    linked = stack.api.put(
        f"/v1/customers/{second['id']}/account", json={"user_id": user["user_id"]}, headers=headers
    )
    assert linked.status_code == 200
    # One account belongs to one profile.
    third = create_customer(stack, org)
    clash = stack.api.put(
        f"/v1/customers/{third['id']}/account", json={"user_id": user["user_id"]}, headers=headers
    )
    assert clash.status_code == 409


def test_a_country_given_without_an_address_yields_to_the_primary_address(
    stack: Stack, org: Org
) -> None:
    h = org.headers()
    created = stack.api.post(
        "/v1/customers", json={"name": "Ana", "country": "PT"}, headers=h
    ).json()
    assert created["country"] == "PT" and created["addresses"] == []
    address = {"line1": "1 Rua Augusta", "country": "ES", "primary": True}
    moved = stack.api.patch(
        f"/v1/customers/{created['id']}", json={"addresses": [address], "country": "FR"}, headers=h
    ).json()
    assert moved["country"] == "ES"
    refused = stack.api.post("/v1/customers", json={"country": "XX"}, headers=h)
    assert refused.status_code == 422
