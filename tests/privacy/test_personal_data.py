"""A person's data: the archive of everything Herald holds about them, and its erasure."""

from __future__ import annotations

import io
import json
import uuid
import zipfile
from datetime import date
from decimal import Decimal
from typing import Any

import pytest

from herald.access.models import Role
from herald.messaging.models import Channel
from herald.messaging.policy import suppressed
from herald.predictions.models import CustomerPrediction
from tests.support import Org, Stack, create_customer, order_paid, wait_for_entries, wait_until

# SQL here differs between SQLite and PostgreSQL: run on both.
pytestmark = pytest.mark.dialects

EMAIL = "lan.nguyen@example.com"
PHONE = "+84912345678"
RECEIPT = {
    "key": "receipt",
    "name": "Receipt",
    "channel": "email",
    "category": "transactional",
    "default_locale": "en",
    "variants": {"en": {"subject": "Thanks, {{ customer.first_name }}", "html": "<p>Hi</p>"}},
}
WAITING = {
    "name": "Waits a week",
    "trigger": {"event": "browsed"},
    "steps": [{"id": "pause", "type": "wait", "duration": "P7D", "next": None}],
}


def person(stack: Stack, org: Org) -> str:
    """Lan, with everything Herald can hold about a person: profile, an order and its refund,
    a message, a note, a newsletter subscription, consent, and a journey run waiting."""
    cid = create_customer(
        stack,
        org,
        name="Lan Nguyen",
        emails=[EMAIL],
        phones=[PHONE],
        addresses=[{"line1": "12 Hang Bac", "city": "Hanoi", "country": "VN"}],
        attributes={"favourite": "bun cha"},
    )["id"]
    h = org.headers()
    order = order_paid(cid, "P-1", amount="30")
    order["properties"]["note"] = "leave at the door, Lan"
    assert stack.api.post("/v1/events", json=order, headers=h).status_code == 202
    # The refund comes after the award, as in a shop: one posted first would be netted out of
    # the award instead of taken back from it.
    wait_for_entries(stack, org, cid, 1)
    refund = {"order_id": "P-1", "refund_id": "r1", "amount": "5"}
    stack.api.post(
        "/v1/events",
        json={"type": "order.refunded", "customer": {"id": cid}, "properties": refund},
        headers=h,
    )
    stack.api.put(f"/v1/customers/{cid}/consent", json={"email": "granted"}, headers=h)
    template = stack.api.post("/v1/templates", json=RECEIPT, headers=h).json()
    sent = stack.api.post(
        f"/v1/templates/{template['id']}/test-send",
        json={"to": EMAIL, "customer_id": cid},
        headers=h,
    )
    assert sent.status_code == 200, sent.text
    stack.api.post(
        f"/v1/customers/{cid}/notes", json={"body": f"Lan called from {PHONE}"}, headers=h
    )
    stack.api.post(
        "/v1/newsletter/subscribers", json={"email": EMAIL, "topics": ["deals"]}, headers=h
    )
    inquiry = {"name": "Lan Nguyen", "email": EMAIL, "message": "Loyalty for our Hanoi cafes?"}
    assert stack.api.post(f"/v1/public/{org.slug}/inquiries", json=inquiry).status_code == 202
    assert (
        stack.api.post(
            "/v1/journeys", json={"key": "waits", "definition": WAITING}, headers=h
        ).status_code
        == 201
    )
    assert stack.api.post("/v1/journeys/waits/publish", headers=h).status_code == 200
    stack.api.post("/v1/events", json={"type": "browsed", "customer": {"id": cid}}, headers=h)
    wait_until(lambda: runs(stack, org, cid, "running"))
    return cid


def runs(stack: Stack, org: Org, cid: str, status: str) -> list[dict[str, Any]]:
    return stack.api.get(  # type: ignore[no-any-return]
        "/v1/runs",
        params={"customer_id": cid, "type": "JourneyRun", "status": status},
        headers=org.headers(),
    ).json()["items"]


def archive(stack: Stack, org: Org, cid: str) -> dict[str, Any]:
    response = stack.api.get(f"/v1/customers/{cid}/export", headers=org.headers())
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "application/zip"
    with zipfile.ZipFile(io.BytesIO(response.content)) as zipped:
        return {n.removesuffix(".json"): json.loads(zipped.read(n)) for n in zipped.namelist()}


def scored(stack: Stack, org: Org, cid: str) -> None:
    """Her scores, as the nightly lifetime-value fit of a larger shop would have left them."""
    with stack.db.session(org.id) as session:
        session.add(
            CustomerPrediction(
                customer_id=uuid.UUID(cid),
                as_of=date.today(),
                expected_purchases=1.4,
                probability_alive=0.35,
                churn_risk=0.65,
                expected_value=Decimal("42.00"),
                predicted_clv=Decimal("97.00"),
            )
        )
        session.commit()


def test_the_archive_holds_everything_about_the_person(stack: Stack, org: Org) -> None:
    cid = person(stack, org)
    scored(stack, org, cid)
    data = archive(stack, org, cid)
    assert data["profile"]["emails"] == [{"address": EMAIL, "primary": True}]
    assert data["profile"]["metrics"]["orders"] == 1
    assert [o["order_id"] for o in data["orders"]] == ["P-1"]
    assert [r["refund_id"] for r in data["refunds"]] == ["r1"]
    assert any(e["properties"].get("note") == "leave at the door, Lan" for e in data["events"])
    assert [m["content"]["subject"] for m in data["messages"]] == ["Thanks, Lan"]
    assert data["consent"][0]["status"] == "granted"
    assert [n["body"] for n in data["notes"]] == [f"Lan called from {PHONE}"]
    assert [s["email"] for s in data["newsletter"]] == [EMAIL]
    assert [i["message"] for i in data["inquiries"]] == ["Loyalty for our Hanoi cafes?"]
    assert data["inquiry_timelines"]
    assert "token" not in data["newsletter"][0]  # a link secret is not the person's data
    assert sorted(e["points"] for e in data["loyalty_ledger"]) == [-5, 30]
    assert [(p["churn_risk"], p["predicted_clv"]) for p in data["predictions"]] == [(0.65, "97.00")]
    assert (
        stack.api.get(f"/v1/customers/{cid}/export", headers=org.headers(Role.cashier)).status_code
        == 403
    )


def test_erasure_leaves_nothing_findable_by_the_person_s_address(stack: Stack, org: Org) -> None:
    cid = person(stack, org)
    scored(stack, org, cid)
    h = org.headers()
    assert (
        stack.api.post(f"/v1/customers/{cid}/erase", headers=org.headers(Role.manager)).status_code
        == 403
    )
    erased = stack.api.post(f"/v1/customers/{cid}/erase", headers=h)
    assert erased.status_code == 200, erased.text
    # Her journey run, and her inquiry's follow-up.
    assert erased.json()["runs_ended"] == 2 and erased.json()["addresses_suppressed"] == 2
    assert stack.api.post(f"/v1/customers/{cid}/erase", headers=h).status_code == 409
    # The run list is Temporal's visibility store, updated a moment after the termination.
    wait_until(
        lambda: (
            runs(stack, org, cid, "running") == [] and len(runs(stack, org, cid, "terminated")) == 1
        )
    )

    # Every endpoint that could show her: not her address, name, phone or what she said.
    seen = [
        stack.api.get(path, params=params, headers=h).text
        for path, params in (
            (f"/v1/customers/{cid}", {"include_deleted": "true"}),
            ("/v1/customers", {"q": "lan", "include_deleted": "true"}),
            ("/v1/customers", {"deleted_only": "true"}),
            (f"/v1/customers/{cid}/timeline", {}),
            (f"/v1/customers/{cid}/notes", {}),
            (f"/v1/customers/{cid}/activity", {}),
            (f"/v1/customers/{cid}/orders", {}),
            ("/v1/events", {"customer_id": cid}),
            ("/v1/messages", {}),
            ("/v1/outbox", {}),
            ("/v1/newsletter/subscribers", {}),
            ("/v1/suppressions", {}),
            ("/v1/inquiries", {}),
        )
    ]
    with zipfile.ZipFile(
        io.BytesIO(stack.api.get(f"/v1/customers/{cid}/export", headers=h).content)
    ) as z:
        seen += [z.read(n).decode() for n in z.namelist()]
    everything = "\n".join(seen)
    for trace in (
        EMAIL,
        "lan.nguyen",
        "Nguyen",
        PHONE,
        "Hang Bac",
        "bun cha",
        "leave at the door",
        "Thanks, Lan",
        "Hanoi cafes",
    ):
        assert trace not in everything, trace
    # What counts stays: her order, her points and the message's row.
    profile = stack.api.get(
        f"/v1/customers/{cid}", params={"include_deleted": "true"}, headers=h
    ).json()
    assert profile["metrics"]["orders"] == 1 and profile["emails"] == []
    assert stack.api.get(f"/v1/customers/{cid}/points", headers=h).json()["balance"] == 25
    # Her scores were profiling of her: gone.
    with stack.db.session(org.id) as session:
        assert session.get(CustomerPrediction, uuid.UUID(cid)) is None

    # She is never written to again: her address matches the suppression list by its hash.
    with stack.db.session(org.id) as session:
        assert suppressed(session, Channel.email, [EMAIL.upper()]) == {EMAIL: "erased"}
        assert suppressed(session, Channel.sms, [PHONE]) == {PHONE: "erased"}
        assert suppressed(session, Channel.email, ["someone@example.com"]) == {}
