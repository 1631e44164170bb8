"""Inquiries over HTTP on the running stack: the public form, the live feed, the follow-up run
in Temporal, and the sales team moving a lead on."""

from __future__ import annotations

import json
import queue
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest

from herald.access.models import Role
from herald.devserver import wait_for_port
from tests.support import Org, Stack, api_process, wait_until

# SQL here differs between SQLite and PostgreSQL: run on both.
pytestmark = pytest.mark.dialects


def _form(**extra: Any) -> dict[str, Any]:
    return {
        "name": "Grace Hopper",
        "email": f"grace-{uuid.uuid4().hex[:8]}@navy.example",
        "phone": "+1 202 555 0143",
        "company": "Navy",
        "company_size": "51-200",
        "industry": "Defence",
        "website": "https://navy.example",
        "message": "Loyalty for 40 stores?",
        "source_page": "https://shop.example/contact",
        **extra,
    }


def _post(client: httpx.Client, org: Org, **extra: Any) -> httpx.Response:
    return client.post(f"/v1/public/{org.slug}/inquiries", json=_form(**extra))


def _staff_user(stack: Stack, org: Org, role: Role) -> dict[str, Any]:
    body = {"email": f"{role.value}-{uuid.uuid4().hex[:6]}@shop.example", "role": role.value}
    response = stack.api.post("/v1/users", json=body, headers=org.headers())
    assert response.status_code == 201, response.text
    return response.json()  # type: ignore[no-any-return]


def _inquiry(stack: Stack, org: Org, inquiry_id: str) -> dict[str, Any]:
    response = stack.api.get(f"/v1/inquiries/{inquiry_id}", headers=org.headers(Role.sales))
    assert response.status_code == 200, response.text
    return response.json()  # type: ignore[no-any-return]


def _kinds(stack: Stack, org: Org, inquiry_id: str) -> list[str]:
    return [entry["kind"] for entry in _inquiry(stack, org, inquiry_id)["timeline"]]


def _outbox(stack: Stack, org: Org) -> list[dict[str, Any]]:
    return stack.api.get("/v1/outbox?limit=200", headers=org.headers()).json()["items"]  # type: ignore[no-any-return]


@contextmanager
def _live_feed(
    base_url: str, org: Org, role: Role, last_event_id: str | None = None
) -> Iterator[queue.Queue[tuple[float, str, dict[str, Any]]]]:
    """A connected SSE client; yields a queue of (arrival time, id, inquiry) per event."""
    events: queue.Queue[tuple[float, str, dict[str, Any]]] = queue.Queue()
    connected = threading.Event()
    headers = org.headers(role) | ({"Last-Event-ID": last_event_id} if last_event_id else {})
    client = httpx.Client(base_url=base_url, timeout=httpx.Timeout(10, read=None))

    def listen() -> None:
        try:
            with client.stream("GET", "/v1/inquiries/stream", headers=headers) as response:
                assert response.status_code == 200
                assert response.headers["content-type"].startswith("text/event-stream")
                connected.set()
                fields: dict[str, str] = {}
                for line in response.iter_lines():
                    if line:
                        name, _, value = line.partition(": ")
                        fields[name] = value
                        continue
                    if "data" in fields:  # a blank line ends an event
                        data = json.loads(fields["data"])
                        events.put((time.monotonic(), fields.get("id", ""), data))
                    fields = {}
        except (httpx.ReadError, httpx.RemoteProtocolError):
            pass  # closed at the end of the test

    thread = threading.Thread(target=listen, daemon=True)
    thread.start()
    assert connected.wait(10), "the stream did not open"
    time.sleep(0.3)  # the feed takes its starting point just after the connection opens
    try:
        yield events
    finally:
        client.close()
        thread.join(5)


def test_a_new_inquiry_reaches_sales_within_a_second_and_starts_its_follow_up_run(
    stack: Stack, org: Org
) -> None:
    sales = _staff_user(stack, org, Role.sales)
    base_url = str(stack.api.base_url)
    with _live_feed(base_url, org, Role.sales) as feed:
        posted_at = time.monotonic()
        response = _post(stack.api, org)
        assert response.status_code == 202, response.text
        inquiry_id = response.json()["id"]
        assert response.json() == {"id": inquiry_id, "status": "received"}
        arrived_at, event_id, pushed = feed.get(timeout=5)
        assert arrived_at - posted_at < 1.0
        assert event_id == pushed["id"] == inquiry_id
        assert pushed["status"] == "new" and pushed["phone"] == "+12025550143"
        assert feed.empty()  # each inquiry once
    # Reconnecting with the last id seen resumes after it: nothing missed in between.
    second = _post(stack.api, org).json()["id"]
    with _live_feed(base_url, org, Role.owner, last_event_id=inquiry_id) as feed:
        assert feed.get(timeout=5)[1] == second

    # One Temporal run per inquiry, known to the runs API (and the Temporal UI) by its id.
    inquiry = _inquiry(stack, org, inquiry_id)
    run = wait_until(
        lambda: (
            (r := stack.api.get(f"/v1/runs/{inquiry['run_id']}", headers=org.headers())).status_code
            == 200
            and r.json()
        )
    )
    assert run["type"] == "InquiryFollowUp" and run["status"] == "running"
    # Marketing reads runs, but not sales follow-ups: listed nowhere, opened as if missing.
    marketing = org.headers(Role.marketing)
    listed = stack.api.get("/v1/runs", headers=marketing).json()["items"]
    assert all(r["type"] != "InquiryFollowUp" for r in listed)
    assert stack.api.get(f"/v1/runs/{inquiry['run_id']}", headers=marketing).status_code == 404
    refused = stack.api.get("/v1/runs", params={"type": "InquiryFollowUp"}, headers=marketing)
    assert refused.status_code == 403, refused.text
    owner_sees = stack.api.get(
        "/v1/runs", params={"type": "InquiryFollowUp"}, headers=org.headers()
    )
    assert inquiry["run_id"] in [r["workflow_id"] for r in owner_sees.json()["items"]]
    # Sales hear of it by email too, through the delivery path.
    wait_until(lambda: "notified" in _kinds(stack, org, inquiry_id))
    notices = [
        m
        for m in _outbox(stack, org)
        if m["idempotency_key"].startswith(f"inquiry/{inquiry_id}/new/")
    ]
    assert [m["recipient"] for m in notices] == [sales["email"]]
    assert "Loyalty for 40 stores?" in notices[0]["content"]["text"]


def test_sales_assign_reply_once_and_convert_while_the_run_refuses_what_the_status_forbids(
    stack: Stack, org: Org
) -> None:
    sales = _staff_user(stack, org, Role.sales)
    form = _form()
    inquiry_id = stack.api.post(f"/v1/public/{org.slug}/inquiries", json=form).json()["id"]
    wait_until(lambda: "notified" in _kinds(stack, org, inquiry_id))
    url, headers = f"/v1/inquiries/{inquiry_id}", org.headers(Role.sales)

    early = stack.api.post(f"{url}/reply", json={"subject": "Hi", "body": "Hello"}, headers=headers)
    assert early.status_code == 409
    assert early.headers["content-type"].startswith("application/problem+json")
    assert "assign the inquiry before replying" in early.json()["detail"]
    not_staff = stack.api.post(
        f"{url}/assign", json={"assignee_id": str(uuid.uuid4())}, headers=headers
    )
    assert not_staff.status_code == 422

    assigned = stack.api.post(
        f"{url}/assign", json={"assignee_id": sales["user_id"]}, headers=headers
    )
    assert assigned.status_code == 200, assigned.text
    assert assigned.json()["status"] == "assigned"
    assert assigned.json()["assignee_id"] == sales["user_id"]

    # A retried request (same Idempotency-Key) is one reply and one email.
    reply = {"subject": "Re: loyalty", "body": "Ten euros per store and month."}
    retry = headers | {"Idempotency-Key": "reply-1"}
    first = stack.api.post(f"{url}/reply", json=reply, headers=retry)
    again = stack.api.post(f"{url}/reply", json=reply, headers=retry)
    assert first.status_code == again.status_code == 200, first.text
    assert first.json()["status"] == "replied"
    to_lead = [m for m in _outbox(stack, org) if m["recipient"] == form["email"]]
    assert len(to_lead) == 1 and to_lead[0]["content"]["subject"] == "Re: loyalty"
    assert _kinds(stack, org, inquiry_id).count("replied") == 1

    converted = stack.api.post(f"{url}/convert", json={"create_customer": True}, headers=headers)
    assert converted.status_code == 200, converted.text
    detail = converted.json()
    assert detail["status"] == "converted" and detail["customer_id"]
    customer = stack.api.get(f"/v1/customers/{detail['customer_id']}", headers=org.headers())
    assert form["email"] in [e["address"] for e in customer.json()["emails"]]
    closed = stack.api.post(f"{url}/lose", json={"reason": "changed mind"}, headers=headers)
    assert closed.status_code == 409 and "converted" in closed.json()["detail"]
    listed = stack.api.get(
        "/v1/inquiries",
        params={"status": "converted", "assignee_id": sales["user_id"]},
        headers=headers,
    ).json()
    assert [i["id"] for i in listed["items"]] == [inquiry_id]


def test_only_sales_owners_and_managers_work_inquiries(stack: Stack, org: Org) -> None:
    inquiry_id = _post(stack.api, org).json()["id"]
    url = f"/v1/inquiries/{inquiry_id}"
    for role in (Role.marketing, Role.cashier):
        assert stack.api.get("/v1/inquiries", headers=org.headers(role)).status_code == 403
        assert stack.api.get(url, headers=org.headers(role)).status_code == 403
        lost = stack.api.post(f"{url}/lose", json={"reason": "x"}, headers=org.headers(role))
        assert lost.status_code == 403
        stream = stack.api.get("/v1/inquiries/stream", headers=org.headers(role))
        assert stream.status_code == 403
    assert stack.api.get(url).status_code == 401  # the visitor who posted it reads nothing
    settings = {"unassigned_reminder_hours": 2}
    put = stack.api.put("/v1/inquiries/settings", json=settings, headers=org.headers(Role.sales))
    assert put.status_code == 403
    put = stack.api.put("/v1/inquiries/settings", json=settings, headers=org.headers())
    assert put.status_code == 200 and put.json()["unassigned_reminder_hours"] == 2
    # Only owners create staff accounts.
    body = {"email": "new-sales@shop.example", "role": "sales"}
    assert (
        stack.api.post("/v1/users", json=body, headers=org.headers(Role.manager)).status_code == 403
    )
    wait_until(  # the run may still be starting: the API says so with a 409
        lambda: (
            (
                r := stack.api.post(
                    f"{url}/lose", json={"reason": "spam"}, headers=org.headers(Role.manager)
                )
            ).status_code
            == 200
            or "is lost" in r.text
        )
    )
    assert _inquiry(stack, org, inquiry_id)["lost_reason"] == "spam"


def test_bots_flooding_or_filling_the_honeypot_and_bad_forms_are_refused_and_store_nothing(
    stack: Stack, org: Org, other_org: Org, tmp_path: Path
) -> None:
    def total() -> int:
        listed = stack.api.get("/v1/inquiries", headers=org.headers()).json()
        return listed["total"]  # type: ignore[no-any-return]

    # A second API process: the budget is shared by both, per organization and client address.
    api, base_url = api_process(stack.env, tmp_path)
    api.start()
    try:
        wait_for_port(int(base_url.rsplit(":", 1)[1]))
        with httpx.Client(base_url=base_url, timeout=30) as client:
            # A bot that fills in the honeypot is told what a person is told: nothing to learn.
            honeypot = _post(client, org, fax="+1 555 0100")
            person = _form()
            assert honeypot.status_code == 202
            assert honeypot.json().keys() == {"id", "status"}
            assert honeypot.json()["status"] == "received"
            assert person  # the same form, without the hidden field
            assert _post(client, org, email="not-an-email").status_code == 422
            assert _post(client, org, message="").status_code == 422
            big = _post(client, org, message="x" * 20_000)
            assert big.status_code == 413
            assert client.post("/v1/public/no-such-shop/inquiries", json=_form()).status_code == 404
            assert total() == 0
            first = [_post(stack.api, org).status_code for _ in range(4)]
            codes = first + [_post(client, org).status_code for _ in range(100)]
            # The same client writing to another shop is counted apart.
            assert _post(client, other_org).status_code == 202
    finally:
        api.stop()
    accepted = codes.count(202)
    assert first == [202] * 4 and codes[-1] == 429 and accepted <= 10
    assert total() == accepted


def test_a_revoked_key_s_live_feed_closes(stack: Stack, org: Org) -> None:
    base_url = str(stack.api.base_url)
    [key] = [
        k
        for k in stack.api.get("/v1/api-keys", headers=org.headers()).json()
        if k["role"] == "sales"
    ]
    closed = threading.Event()

    def listen() -> None:
        with (
            httpx.Client(base_url=base_url, timeout=httpx.Timeout(10, read=None)) as client,
            client.stream("GET", "/v1/inquiries/stream", headers=org.headers(Role.sales)) as feed,
        ):
            assert feed.status_code == 200
            for _ in feed.iter_lines():
                pass
        closed.set()  # the server ended the stream

    thread = threading.Thread(target=listen, daemon=True)
    thread.start()
    time.sleep(1.5)
    assert not closed.is_set()  # open while the key is in force
    revoked = stack.api.delete(f"/v1/api-keys/{key['id']}", headers=org.headers())
    assert revoked.status_code == 204
    assert closed.wait(5), "the feed outlived its key"
    thread.join(5)


def test_one_key_holds_at_most_five_live_feeds(stack: Stack, org: Org) -> None:
    base_url = str(stack.api.base_url)
    timeout = httpx.Timeout(10, read=None)
    with httpx.Client(base_url=base_url, timeout=timeout) as client, ExitStack() as feeds:
        for _ in range(5):
            feed = feeds.enter_context(
                client.stream("GET", "/v1/inquiries/stream", headers=org.headers(Role.sales))
            )
            assert feed.status_code == 200
        refused = client.get("/v1/inquiries/stream", headers=org.headers(Role.sales))
        assert refused.status_code == 429, refused.text
        # Another key of the same shop has its own feeds.
        with client.stream("GET", "/v1/inquiries/stream", headers=org.headers()) as other:
            assert other.status_code == 200
    # Closed feeds give their places back.
    with (
        httpx.Client(base_url=base_url, timeout=timeout) as client,
        client.stream("GET", "/v1/inquiries/stream", headers=org.headers(Role.sales)) as again,
    ):
        assert again.status_code == 200
