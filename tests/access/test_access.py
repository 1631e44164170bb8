"""Tenancy and roles: another brand's record is a 404, a role's forbidden action a 403."""

from __future__ import annotations

import uuid

import pytest
from sqlalchemy import select

from herald.access.models import Role
from herald.customers.models import Customer
from tests.support import Org, Stack, create_customer, order_paid, wait_for_entries, wait_until


def test_every_endpoint_answers_another_organizations_key_with_404(
    stack: Stack, org: Org, other_org: Org
) -> None:
    customer = create_customer(stack, org)
    cid = customer["id"]
    event = stack.api.post("/v1/events", json=order_paid(cid, "T-1"), headers=org.headers()).json()[
        "events"
    ][0]
    wait_for_entries(stack, org, cid, 1)
    run_id = f"AwardOrderPoints/{org.id}/T-1"
    user = stack.api.post(
        "/v1/users", json={"email": "t@example.com"}, headers=org.headers()
    ).json()
    key = stack.api.post(
        "/v1/api-keys", json={"name": "till", "role": "cashier"}, headers=org.headers()
    ).json()

    foreign = other_org.headers()
    calls = [
        ("GET", f"/v1/customers/{cid}", None),
        ("PATCH", f"/v1/customers/{cid}", {"name": "Mallory"}),
        ("DELETE", f"/v1/customers/{cid}", None),
        ("POST", f"/v1/customers/{cid}/restore", None),
        ("GET", f"/v1/customers/{cid}/points", None),
        ("POST", f"/v1/customers/{cid}/account", None),
        ("PUT", f"/v1/customers/{cid}/account", {"user_id": user["user_id"]}),
        ("GET", f"/v1/events/{event['id']}", None),
        ("GET", f"/v1/runs/{run_id}", None),
        ("DELETE", f"/v1/api-keys/{key['id']}", None),
    ]
    for method, path, body in calls:
        response = stack.api.request(method, path, json=body, headers=foreign)
        assert response.status_code == 404, (method, path, response.text)
        assert response.headers["content-type"].startswith("application/problem+json")

    # Lists never show another brand's rows, and an event cannot name its customers.
    assert stack.api.get("/v1/customers", headers=foreign).json()["items"] == []
    runs = stack.api.get("/v1/runs", headers=foreign).json()["items"]
    assert all(r["customer_id"] != cid for r in runs)
    response = stack.api.post("/v1/events", json=order_paid(cid, "T-2"), headers=foreign)
    assert response.status_code == 422
    # The owner still sees everything unchanged.
    assert (
        stack.api.get(f"/v1/customers/{cid}", headers=org.headers()).json()["name"]
        == customer["name"]
    )


def test_a_link_to_another_organizations_user_is_refused(
    stack: Stack, org: Org, other_org: Org
) -> None:
    customer = create_customer(stack, org)
    foreign_user = stack.api.post(
        "/v1/users", json={"email": "x@example.com"}, headers=other_org.headers()
    ).json()
    response = stack.api.put(
        f"/v1/customers/{customer['id']}/account",
        json={"user_id": foreign_user["user_id"]},
        headers=org.headers(),
    )
    assert response.status_code == 404


@pytest.mark.parametrize(
    ("role", "method", "path", "body"),
    [
        (Role.manager, "PUT", "/v1/loyalty/settings", {"points_per_unit": "3"}),
        (Role.manager, "POST", "/v1/api-keys", {"name": "k", "role": "owner"}),
        (Role.cashier, "DELETE", "/v1/customers/{cid}", None),
        (Role.cashier, "PATCH", "/v1/customers/{cid}", {"name": "Changed"}),
        (Role.cashier, "PUT", "/v1/loyalty/settings", {"points_per_unit": "3"}),
        (Role.marketing, "PATCH", "/v1/customers/{cid}", {"name": "Changed"}),
        (Role.marketing, "POST", "/v1/events", "order"),
        (Role.sales, "GET", "/v1/customers/{cid}", None),
        (Role.sales, "GET", "/v1/customers", None),
        (Role.sales, "POST", "/v1/customers", {"name": "New"}),
    ],
)
def test_each_roles_forbidden_action_is_a_403_and_changes_nothing(
    stack: Stack, org: Org, role: Role, method: str, path: str, body: object
) -> None:
    customer = create_customer(stack, org)
    if body == "order":
        body = order_paid(customer["id"], "F-1")
    before = stack.api.get(f"/v1/customers/{customer['id']}", headers=org.headers()).json()
    response = stack.api.request(
        method, path.format(cid=customer["id"]), json=body, headers=org.headers(role)
    )
    assert response.status_code == 403, response.text
    assert response.json()["status"] == 403
    after = stack.api.get(f"/v1/customers/{customer['id']}", headers=org.headers()).json()
    assert after == before
    assert (
        stack.api.get("/v1/loyalty/settings", headers=org.headers()).json()["points_per_unit"]
        == "1"
    )


def test_roles_can_do_what_their_job_needs(stack: Stack, org: Org) -> None:
    cashier = org.headers(Role.cashier)
    created = stack.api.post("/v1/customers", json={"name": "Walk-in"}, headers=cashier)
    assert created.status_code == 201
    cid = created.json()["id"]
    assert (
        stack.api.post("/v1/events", json=order_paid(cid, "C-1"), headers=cashier).status_code
        == 202
    )
    assert stack.api.get(f"/v1/customers/{cid}/points", headers=cashier).status_code == 200
    manager = org.headers(Role.manager)
    assert (
        stack.api.patch(f"/v1/customers/{cid}", json={"name": "Known"}, headers=manager).status_code
        == 200
    )
    assert stack.api.get("/v1/runs", headers=manager).status_code == 200
    assert (
        stack.api.get(f"/v1/customers/{cid}", headers=org.headers(Role.marketing)).status_code
        == 200
    )


def test_keys_are_shown_once_stored_hashed_and_revocable(stack: Stack, org: Org) -> None:
    issued = stack.api.post(
        "/v1/api-keys", json={"name": "pos", "role": "cashier"}, headers=org.headers()
    ).json()
    secret = issued["key"]
    auth = {"Authorization": f"Bearer {secret}"}
    assert stack.api.get("/v1/customers", headers=auth).status_code == 200
    listed = stack.api.get("/v1/api-keys", headers=org.headers()).json()
    assert all("key" not in k for k in listed)
    with stack.db.system_session() as session:
        from herald.access.models import ApiKey

        row = session.get(ApiKey, uuid.UUID(issued["id"]))
        assert row is not None and secret not in (row.digest, row.prefix)
    assert (
        stack.api.delete(f"/v1/api-keys/{issued['id']}", headers=org.headers()).status_code == 204
    )
    response = stack.api.get("/v1/customers", headers=auth)
    assert response.status_code == 401
    assert stack.api.get("/v1/customers").status_code == 401
    assert (
        stack.api.get("/v1/customers", headers={"Authorization": "Bearer nonsense"}).status_code
        == 401
    )


def test_a_scoped_session_cannot_read_or_write_another_organizations_rows(
    stack: Stack, org: Org, other_org: Org
) -> None:
    customer = create_customer(stack, org)
    cid = uuid.UUID(customer["id"])
    with stack.db.session(other_org.id) as session:
        assert session.get(Customer, cid) is None
        assert session.scalars(select(Customer)).all() == []
    with stack.db.session(org.id) as session:
        row = session.get(Customer, cid)
        assert row is not None
    with stack.db.session(other_org.id) as session:
        session.add(Customer(organization_id=org.id, name="smuggled"))
        with pytest.raises(PermissionError):
            session.flush()


def test_runs_are_listed_only_for_the_callers_organization(
    stack: Stack, org: Org, other_org: Org
) -> None:
    mine = create_customer(stack, org)
    theirs = create_customer(stack, other_org)
    stack.api.post("/v1/events", json=order_paid(mine["id"], "L-1"), headers=org.headers())
    stack.api.post("/v1/events", json=order_paid(theirs["id"], "L-1"), headers=other_org.headers())
    runs = wait_until(lambda: stack.api.get("/v1/runs", headers=org.headers()).json()["items"])
    assert {r["customer_id"] for r in runs} == {mine["id"]}
    completed = wait_until(
        lambda: stack.api.get(
            "/v1/runs", params={"status": "completed"}, headers=org.headers()
        ).json()["items"]
    )
    assert [r["customer_id"] for r in completed] == [mine["id"]]
    running = stack.api.get("/v1/runs", params={"status": "running"}, headers=org.headers())
    assert running.json()["items"] == []
    bad = stack.api.get("/v1/runs", params={"status": "sleeping"}, headers=org.headers())
    assert bad.status_code == 422
