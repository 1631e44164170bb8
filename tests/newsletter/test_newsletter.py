"""The public newsletter: sign-up that reveals nothing, double opt-in, one-click leave, stats."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

import httpx

from herald.devserver import wait_for_port
from tests.support import Org, Stack, api_process, wait_until


def _subscribe(stack: Stack, org: Org, email: str, **extra: Any) -> httpx.Response:
    return stack.api.post(f"/v1/public/{org.slug}/newsletter", json={"email": email, **extra})


def _subscribers(stack: Stack, org: Org) -> list[dict[str, Any]]:
    return stack.api.get("/v1/newsletter/subscribers", headers=org.headers()).json()["items"]  # type: ignore[no-any-return]


def _single_opt_in(stack: Stack, org: Org) -> None:
    response = stack.api.put(
        "/v1/messaging/settings", json={"newsletter_double_opt_in": False}, headers=org.headers()
    )
    assert response.status_code == 200 and response.json()["newsletter_double_opt_in"] is False


def _confirmation_path(stack: Stack, org: Org, email: str) -> str:
    """The confirm link of the latest confirmation email to ``email``."""
    outbox = wait_until(
        lambda: [
            m
            for m in stack.api.get("/v1/outbox", headers=org.headers()).json()["items"]
            if m["recipient"] == email
        ]
    )
    link = outbox[0]["content"]["text"].split(": ")[-1]
    return str(link.split("127.0.0.1:8000", 1)[1])


def test_a_new_organization_confirms_sign_ups_by_email(stack: Stack, org: Org) -> None:
    settings = stack.api.get("/v1/messaging/settings", headers=org.headers()).json()
    assert settings["newsletter_double_opt_in"] is True
    assert _subscribe(stack, org, "new@example.com").status_code == 202
    assert _subscribers(stack, org)[0]["status"] == "pending"


def test_subscribing_twice_leaves_one_subscriber_and_reveals_nothing(
    stack: Stack, org: Org
) -> None:
    _single_opt_in(stack, org)
    first = _subscribe(stack, org, "Fan@Example.com", topics=["news"], locale="de")
    second = _subscribe(stack, org, "fan@example.com", topics=["offers"])
    assert first.status_code == second.status_code == 202
    assert first.json() == second.json() == {"status": "accepted"}
    [subscriber] = _subscribers(stack, org)
    assert subscriber["email"] == "fan@example.com" and subscriber["status"] == "subscribed"
    assert subscriber["topics"] == ["news", "offers"] and subscriber["locale"] == "de"
    assert "token" not in subscriber


def test_a_bot_filling_the_honeypot_is_accepted_and_ignored(stack: Stack, org: Org) -> None:
    response = _subscribe(stack, org, "bot@example.com", website="http://spam.example")
    assert response.status_code == 202 and response.json() == {"status": "accepted"}
    assert _subscribers(stack, org) == []


def test_double_opt_in_sends_a_confirmation_and_counts_only_after_it(
    stack: Stack, org: Org, other_org: Org
) -> None:
    stack.api.put(
        "/v1/messaging/settings", json={"newsletter_double_opt_in": True}, headers=org.headers()
    )
    assert _subscribe(stack, org, "careful@example.com").status_code == 202
    assert _subscribers(stack, org)[0]["status"] == "pending"
    outbox = wait_until(lambda: stack.api.get("/v1/outbox", headers=org.headers()).json()["items"])
    [email] = outbox
    assert email["recipient"] == "careful@example.com" and email["status"] == "sent"
    assert "careful@example.com" not in str(email["idempotency_key"])  # ids, not addresses
    link = email["content"]["text"].split(": ")[-1]
    path = link.split("127.0.0.1:8000", 1)[1]
    assert path.startswith(f"/v1/public/{org.slug}/newsletter/confirm/")

    assert "<form method=post>" in stack.api.get(path).text  # looking changes nothing
    assert _subscribers(stack, org)[0]["status"] == "pending"
    foreign = path.replace(org.slug, other_org.slug)
    assert stack.api.post(foreign).status_code == 404
    assert stack.api.post(path).status_code == 200
    assert _subscribers(stack, org)[0]["status"] == "subscribed"
    # Signing up again once subscribed sends nothing new.
    _subscribe(stack, org, "careful@example.com")
    assert len(stack.api.get("/v1/outbox", headers=org.headers()).json()["items"]) == 1


def test_one_click_leave_and_come_back_only_by_confirming(
    stack: Stack, org: Org, other_org: Org, db: Any
) -> None:
    _single_opt_in(stack, org)
    _subscribe(stack, org, "leaver@example.com")
    from sqlalchemy import select

    from herald.newsletter.models import Subscriber

    with db.session(org.id) as session:
        token = session.scalar(select(Subscriber.token))
    path = f"/v1/public/{org.slug}/newsletter/unsubscribe/{token}"
    assert (
        stack.api.post(f"/v1/public/{other_org.slug}/newsletter/unsubscribe/{token}").status_code
        == 404
    )
    assert (
        stack.api.post(f"/v1/public/{org.slug}/newsletter/unsubscribe/{uuid.uuid4()}").status_code
        == 404
    )
    assert _subscribers(stack, org)[0]["status"] == "subscribed"
    assert stack.api.post(path).status_code == 200
    assert _subscribers(stack, org)[0]["status"] == "unsubscribed"
    # Anyone could type in the address of someone who left: coming back is confirmed by email,
    # even where sign-ups need no confirmation.
    _subscribe(stack, org, "leaver@example.com")
    assert _subscribers(stack, org)[0]["status"] == "pending"
    assert stack.api.post(_confirmation_path(stack, org, "leaver@example.com")).status_code == 200
    assert _subscribers(stack, org)[0]["status"] == "subscribed"
    stats = stack.api.get("/v1/newsletter/stats", headers=org.headers()).json()
    assert stats["total"] == 1 and stats["by_status"]["subscribed"] == 1
    this_month = stats["monthly_growth"][-1]
    assert (this_month["subscribed"], this_month["unsubscribed"]) == (1, 0)
    assert len(stats["monthly_growth"]) == 12


def test_public_endpoints_refuse_floods_and_oversized_bodies(
    stack: Stack, org: Org, tmp_path: Path
) -> None:
    # A private API process: the limit is counted per process and per client address.
    api, base_url = api_process(stack.env, tmp_path)
    api.start()
    try:
        wait_for_port(int(base_url.rsplit(":", 1)[1]))
        with httpx.Client(base_url=base_url, timeout=30) as client:
            url = f"/v1/public/{org.slug}/newsletter"
            big = client.post(
                url,
                content=b'{"email": "' + b"a" * 20_000 + b'@x.com"}',
                headers={"Content-Type": "application/json"},
            )
            assert big.status_code == 413
            codes = [
                client.post(url, json={"email": f"f{i}@example.com"}).status_code
                for i in range(100)
            ]
            assert codes[0] == 202 and codes[-1] == 429
            refused = client.post(url, json={"email": "late@example.com"})
            assert refused.status_code == 429
            assert refused.headers["content-type"].startswith("application/problem+json")
    finally:
        api.stop()
    assert len(_subscribers(stack, org)) == sum(1 for c in codes if c == 202) <= 20
