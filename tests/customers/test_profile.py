"""The full profile as staff see it: addresses, order figures, notes, the activity log, the
timeline of everything that happened, and the segments the customer is in."""

from __future__ import annotations

from typing import Any

import pytest

from herald.access.models import Role
from tests.support import Org, Stack, create_customer, order_paid, wait_until

# SQL here differs between SQLite and PostgreSQL: run on both.
pytestmark = pytest.mark.dialects

RECEIPT = {
    "key": "receipt",
    "name": "Receipt",
    "channel": "email",
    "category": "transactional",
    "default_locale": "en",
    "variants": {"en": {"subject": "Thanks, {{ customer.first_name }}", "html": "<p>Thanks</p>"}},
}
HANOI = {"label": "home", "line1": "12 Hang Bac", "city": "Hanoi", "country": "vn"}


def get(stack: Stack, org: Org, path: str, **params: Any) -> Any:
    response = stack.api.get(path, params=params, headers=org.headers())
    assert response.status_code == 200, response.text
    return response.json()


def test_the_timeline_tells_the_customer_s_story_newest_first(stack: Stack, org: Org) -> None:
    customer = create_customer(stack, org, name="Lan Nguyen", addresses=[HANOI])
    assert (customer["country"], customer["addresses"][0]["primary"]) == ("VN", True)
    cid = customer["id"]
    for _ in range(2):  # the same order twice: one order
        posted = stack.api.post(
            "/v1/events", json=order_paid(cid, "T-1", amount="40"), headers=org.headers()
        )
        assert posted.status_code == 202
    refund = {"order_id": "T-1", "refund_id": "r1", "amount": "10"}
    stack.api.post(
        "/v1/events",
        json={"type": "order.refunded", "customer": {"id": cid}, "properties": refund},
        headers=org.headers(),
    )
    template = stack.api.post("/v1/templates", json=RECEIPT, headers=org.headers()).json()
    sent = stack.api.post(
        f"/v1/templates/{template['id']}/test-send",
        json={"to": "lan@example.com", "customer_id": cid},
        headers=org.headers(),
    )
    assert sent.status_code == 200, sent.text
    note = stack.api.post(
        f"/v1/customers/{cid}/notes", json={"body": "Prefers SMS"}, headers=org.headers()
    )
    assert note.status_code == 201, note.text

    profile = get(stack, org, f"/v1/customers/{cid}")
    assert (profile["metrics"]["orders"], profile["metrics"]["currency"]) == (1, "USD")
    wait_until(lambda: len(get(stack, org, f"/v1/customers/{cid}/points")["entries"]) == 2)
    items = get(stack, org, f"/v1/customers/{cid}/timeline", limit=200)["items"]
    kinds = [i["kind"] for i in items]
    assert sorted(set(kinds)) == ["activity", "event", "loyalty", "message", "note"]
    assert sorted(i["summary"] for i in items if i["kind"] == "event") == [
        "customer.created",  # Herald's own events are part of the story
        "customer.first_order",
        "customer.refunded",
        "order.paid",
        "order.refunded",
    ]
    assert [i["details"]["points"] for i in items if i["kind"] == "loyalty"] == [-10, 40]
    assert [i["summary"] for i in items if i["kind"] == "activity"] == ["note added", "created"]
    message = next(i for i in items if i["kind"] == "message")
    assert message["summary"] == "email sent: Thanks, Lan"
    assert [i["at"] for i in items] == sorted((i["at"] for i in items), reverse=True)

    # Pages of two walk the same stream, nothing twice, nothing left out.
    walked, cursor = [], None
    while True:
        page = get(
            stack,
            org,
            f"/v1/customers/{cid}/timeline",
            limit=2,
            **({"cursor": cursor} if cursor else {}),
        )
        walked += [(i["kind"], i["id"]) for i in page["items"]]
        if not (cursor := page["next_cursor"]):
            break
    assert walked == [(i["kind"], i["id"]) for i in items]


def test_notes_are_kept_by_whom_and_every_staff_change_is_logged(stack: Stack, org: Org) -> None:
    customer = create_customer(stack, org, name="Ada")
    cid = customer["id"]
    first = stack.api.post(
        f"/v1/customers/{cid}/notes", json={"body": "Called about a refund"}, headers=org.headers()
    ).json()
    second = stack.api.post(
        f"/v1/customers/{cid}/notes",
        json={"body": "VIP at the Hanoi store"},
        headers=org.headers(Role.manager),
    ).json()
    assert first["author"] != second["author"]
    pinned = stack.api.patch(
        f"/v1/customers/{cid}/notes/{first['id']}", json={"pinned": True}, headers=org.headers()
    )
    assert pinned.status_code == 200 and pinned.json()["pinned"] is True
    notes = get(stack, org, f"/v1/customers/{cid}/notes")
    assert [n["id"] for n in notes] == [first["id"], second["id"]]  # pinned first
    assert (
        stack.api.delete(
            f"/v1/customers/{cid}/notes/{second['id']}", headers=org.headers()
        ).status_code
        == 204
    )
    assert [n["id"] for n in get(stack, org, f"/v1/customers/{cid}/notes")] == [first["id"]]

    changed = stack.api.patch(
        f"/v1/customers/{cid}",
        json={"name": "Ada Lovelace", "addresses": [HANOI | {"country": "GB"}]},
        headers=org.headers(),
    )
    assert changed.status_code == 200 and changed.json()["country"] == "GB"
    log = get(stack, org, f"/v1/customers/{cid}/activity")["items"]
    assert [a["action"] for a in log] == [
        "updated",
        "note_deleted",
        "note_edited",
        "note_added",
        "note_added",
        "created",
    ]
    assert log[0]["changes"]["name"] == {"from": "Ada", "to": "Ada Lovelace"}
    assert log[0]["changes"]["addresses"]["to"][0]["country"] == "GB"
    assert log[0]["actor"] == first["author"]


@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("notes", {"body": ""}),
        ("notes", {"body": "x" * 10_001}),
    ],
    ids=["empty note", "note too long"],
)
def test_a_bad_note_is_refused(stack: Stack, org: Org, path: str, body: dict[str, Any]) -> None:
    cid = create_customer(stack, org)["id"]
    response = stack.api.post(f"/v1/customers/{cid}/{path}", json=body, headers=org.headers())
    assert response.status_code == 422
    assert get(stack, org, f"/v1/customers/{cid}/notes") == []


@pytest.mark.parametrize(
    "addresses",
    [
        [{"line1": "1 Main St", "country": "XX"}],
        [HANOI | {"primary": True}, HANOI | {"primary": True}],
        [{"country": "VN"}],
    ],
    ids=["unknown country", "two primary", "no street"],
)
def test_a_bad_address_is_refused(stack: Stack, org: Org, addresses: list[Any]) -> None:
    response = stack.api.post(
        "/v1/customers", json={"name": "X", "addresses": addresses}, headers=org.headers()
    )
    assert response.status_code == 422
    assert response.headers["content-type"] == "application/problem+json"


def test_a_cashier_reads_the_profile_but_writes_no_notes(stack: Stack, org: Org) -> None:
    cid = create_customer(stack, org)["id"]
    cashier = org.headers(Role.cashier)
    assert stack.api.get(f"/v1/customers/{cid}/timeline", headers=cashier).status_code == 200
    note = {"body": "hello"}
    assert (
        stack.api.post(f"/v1/customers/{cid}/notes", json=note, headers=cashier).status_code == 403
    )


def test_the_profile_lists_the_saved_segments_the_customer_is_in(stack: Stack, org: Org) -> None:
    vip = create_customer(stack, org, tags=["vip"], addresses=[HANOI])
    other = create_customer(stack, org)
    for key, rule in (
        ("vips", {"tag": "vip"}),
        ("vietnam", {"profile": "country", "op": "eq", "value": "VN"}),
    ):
        made = stack.api.post(
            "/v1/segments",
            json={"key": key, "name": key.title(), "rule": rule},
            headers=org.headers(),
        )
        assert made.status_code in (200, 201), made.text
    assert [s["key"] for s in get(stack, org, f"/v1/customers/{vip['id']}/segments")] == [
        "vietnam",
        "vips",
    ]
    assert get(stack, org, f"/v1/customers/{other['id']}/segments") == []
