"""Bulk actions: one change to every customer a filter, a segment or a list selects, as a run
with progress, a per-customer report, the single action's permission and the activity log."""

from __future__ import annotations

import csv
import io
from typing import Any

import pytest

from herald.access.models import Role
from tests.support import Org, Stack, create_customer, wait_until

# SQL here differs between SQLite and PostgreSQL: run on both.
pytestmark = pytest.mark.dialects

WAITING = {
    "name": "Waits a week",
    "trigger": {"event": "browsed"},
    "steps": [{"id": "pause", "type": "wait", "duration": "P7D", "next": None}],
}


def bulk(stack: Stack, org: Org, body: dict[str, Any], role: Role = Role.owner) -> Any:
    started = stack.api.post("/v1/bulk-actions", json=body, headers=org.headers(role))
    assert started.status_code == 202, started.text
    bulk_id = started.json()["id"]
    return wait_until(
        lambda: (
            (b := stack.api.get(f"/v1/bulk-actions/{bulk_id}", headers=org.headers()).json())
            and b["status"] == "done"
            and b
        ),
        timeout_s=60,
    )


def profile(stack: Stack, org: Org, customer: dict[str, Any]) -> Any:
    return stack.api.get(f"/v1/customers/{customer['id']}", headers=org.headers()).json()


def test_tagging_a_segment_then_acting_on_its_members(stack: Stack, org: Org) -> None:
    h = org.headers()
    vips = [create_customer(stack, org, tags=["vip"]) for _ in range(3)]
    other = create_customer(stack, org)
    segment = {"key": "vip", "name": "VIP", "rule": {"tag": "vip"}}
    assert stack.api.post("/v1/segments", json=segment, headers=h).status_code == 201

    tagged = bulk(stack, org, {"action": "tag", "tag": "gold", "filter": {"segment": "vip"}})
    assert tagged["total"] == 3
    assert tagged["progress"] == {
        "processed": 3,
        "updated": 3,
        "unchanged": 0,
        "failed": 0,
    }
    assert all("gold" in profile(stack, org, c)["tags"] for c in vips)
    assert "gold" not in profile(stack, org, other)["tags"]
    log = stack.api.get(f"/v1/customers/{vips[0]['id']}/activity", headers=h).json()["items"]
    assert log[0]["action"] == "bulk tag" and log[0]["changes"]["tag"] == "gold"
    # The same action again changes nothing, and says so customer by customer.
    again = bulk(stack, org, {"action": "tag", "tag": "gold", "filter": {"tag": "vip"}})
    assert again["progress"]["unchanged"] == 3 and again["progress"]["updated"] == 0
    report = stack.api.get(f"/v1/bulk-actions/{again['id']}/report", headers=h)
    rows = list(csv.reader(io.StringIO(report.text)))
    assert rows[0] == ["customer_id", "outcome", "error"]
    assert sorted(r[0] for r in rows[1:]) == sorted(c["id"] for c in vips)
    assert {r[1] for r in rows[1:]} == {"unchanged"}

    ids = [vips[0]["id"], other["id"]]
    bulk(stack, org, {"action": "untag", "tag": "vip", "customer_ids": ids})
    assert profile(stack, org, vips[0])["tags"] == ["gold"]

    consent = {"action": "set_consent", "consent": {"email": "granted"}, "customer_ids": ids}
    bulk(stack, org, consent, Role.marketing)
    shown = stack.api.get(f"/v1/customers/{other['id']}/consent", headers=h).json()
    assert shown["channels"] == {"email": "granted"}

    group = {"key": "wholesale", "name": "Wholesale"}
    assert stack.api.post("/v1/customer-groups", json=group, headers=h).status_code == 201
    bulk(stack, org, {"action": "add_to_group", "group": "wholesale", "customer_ids": ids})
    assert profile(stack, org, other)["groups"] == ["wholesale"]
    bulk(stack, org, {"action": "remove_from_group", "group": "wholesale", "customer_ids": ids})
    assert profile(stack, org, other)["groups"] == []

    deleted = bulk(stack, org, {"action": "delete", "customer_ids": ids})
    assert deleted["progress"]["updated"] == 2
    assert stack.api.get(f"/v1/customers/{other['id']}", headers=h).status_code == 404
    # Tagging a deleted customer fails for them alone, with the reason in the report.
    tag_deleted = bulk(stack, org, {"action": "tag", "tag": "x", "customer_ids": ids})
    assert tag_deleted["progress"]["failed"] == 2
    report = stack.api.get(f"/v1/bulk-actions/{tag_deleted['id']}/report", headers=h).text
    assert "the customer is deleted" in report
    bulk(stack, org, {"action": "restore", "filter": {"deleted_only": True}})
    assert profile(stack, org, other)["deleted_at"] is None


def test_enrolling_customers_in_a_journey_in_bulk(stack: Stack, org: Org) -> None:
    h = org.headers()
    created = stack.api.post(
        "/v1/journeys", json={"key": "waiting", "definition": WAITING}, headers=h
    )
    assert created.status_code == 201, created.text
    assert stack.api.post("/v1/journeys/waiting/publish", headers=h).status_code == 200
    customers = [create_customer(stack, org, tags=["browse"]) for _ in range(3)]
    body = {"action": "enroll", "journey": "waiting", "filter": {"tag": "browse"}}
    done = bulk(stack, org, body, Role.marketing)
    assert done["progress"]["updated"] == 3

    def runs() -> list[dict[str, Any]]:
        found = stack.api.get("/v1/journeys/waiting/runs", headers=h).json()["items"]
        return found  # type: ignore[no-any-return]

    wait_until(lambda: len(runs()) == 3, timeout_s=30)
    assert sorted(r["customer_id"] for r in runs()) == sorted(c["id"] for c in customers)
    # Enrolling them again starts no second run: the run's id is the customer's.
    bulk(stack, org, body)
    stats = wait_until(
        lambda: (
            (s := stack.api.get("/v1/journeys/waiting/stats", headers=h).json())
            and s["entered"] >= 3
            and s
        )
    )
    assert len(runs()) == 3 and stats["entered"] == 3


def test_a_bulk_action_needs_the_single_actions_permission_and_valid_parameters(
    stack: Stack, org: Org, other_org: Org
) -> None:
    customer = create_customer(stack, org)
    ids = [customer["id"]]
    for role, body in (
        (Role.marketing, {"action": "tag", "tag": "x", "customer_ids": ids}),
        (Role.marketing, {"action": "delete", "customer_ids": ids}),
        (Role.cashier, {"action": "set_consent", "consent": {"email": "granted"}}),
        (Role.sales, {"action": "enroll", "journey": "waiting"}),
    ):
        refused = stack.api.post("/v1/bulk-actions", json=body, headers=org.headers(role))
        assert refused.status_code == 403, (role, body)
    h = org.headers()
    for body, status in (
        ({"action": "tag", "customer_ids": ids}, 422),
        ({"action": "delete", "tag": "x", "customer_ids": ids}, 422),
        ({"action": "tag", "tag": "x", "filter": {}, "customer_ids": ids}, 422),
        ({"action": "enroll", "journey": "nope", "customer_ids": ids}, 404),
        ({"action": "add_to_group", "group": "nope", "customer_ids": ids}, 404),
        ({"action": "tag", "tag": "x", "filter": {"segment": "nope"}}, 404),
    ):
        response = stack.api.post("/v1/bulk-actions", json=body, headers=h)
        assert response.status_code == status, (body, response.text)
    done = bulk(stack, org, {"action": "tag", "tag": "x", "customer_ids": ids})
    theirs = stack.api.get(f"/v1/bulk-actions/{done['id']}", headers=other_org.headers())
    assert theirs.status_code == 404
    # Another brand's customer id is not theirs to change.
    foreign = bulk(stack, other_org, {"action": "tag", "tag": "y", "customer_ids": ids})
    assert foreign["total"] == 0
    assert profile(stack, org, customer)["tags"] == ["x"]
