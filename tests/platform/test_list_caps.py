"""Small lists stay small: keys in force, a customer's devices, the rewards catalog."""

from __future__ import annotations

import uuid

from tests.support import Org, Stack, create_customer


def test_an_organization_has_at_most_50_keys_in_force(stack: Stack, org: Org) -> None:
    issued = []
    for i in range(60):
        response = stack.api.post(
            "/v1/api-keys", json={"name": f"till {i}", "role": "cashier"}, headers=org.headers()
        )
        if response.status_code == 409:
            break
        assert response.status_code == 201, response.text
        issued.append(response.json()["id"])
    else:
        raise AssertionError("no cap on keys in force")
    assert "at most 50" in response.json()["detail"]
    listed = stack.api.get("/v1/api-keys", headers=org.headers()).json()
    assert sum(1 for k in listed if k["revoked_at"] is None) == 50
    assert stack.api.delete(f"/v1/api-keys/{issued[0]}", headers=org.headers()).status_code == 204
    again = stack.api.post(
        "/v1/api-keys", json={"name": "replacement", "role": "cashier"}, headers=org.headers()
    )
    assert again.status_code == 201, again.text


def test_a_new_device_past_ten_replaces_the_one_unseen_longest(stack: Stack, org: Org) -> None:
    customer = create_customer(stack, org)
    registered = []
    for i in range(12):
        response = stack.api.post(
            f"/v1/customers/{customer['id']}/devices",
            json={"token": f"token-{i:02d}-{uuid.uuid4().hex}", "platform": "android"},
            headers=org.headers(),
        )
        assert response.status_code in (200, 201), response.text
        registered.append(response.json()["id"])
    listed = stack.api.get(f"/v1/customers/{customer['id']}/devices", headers=org.headers())
    assert sorted(d["id"] for d in listed.json()) == sorted(registered[2:])
