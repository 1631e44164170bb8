"""Newsletter subscribers are customers: each has a profile, joining grants email marketing
consent and leaving revokes it, topics are preferences a campaign can target, and staff manage
the list."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from sqlalchemy import select

from herald.access.models import Role
from herald.newsletter.models import Subscriber
from tests.support import Org, Stack, create_customer, wait_until

# SQL here differs between SQLite and PostgreSQL: run on both.
pytestmark = pytest.mark.dialects


def subscribe(stack: Stack, org: Org, email: str, topics: list[str] = ()) -> None:  # type: ignore[assignment]
    body = {"email": email, "topics": list(topics)}
    assert stack.api.post(f"/v1/public/{org.slug}/newsletter", json=body).status_code == 202


def single_opt_in(stack: Stack, org: Org) -> None:
    body = {"newsletter_double_opt_in": False, "postal_address": "1 Harbour Road, Bristol"}
    assert (
        stack.api.put("/v1/messaging/settings", json=body, headers=org.headers()).status_code == 200
    )


def subscriber(stack: Stack, org: Org, email: str) -> dict[str, Any]:
    items = stack.api.get(
        "/v1/newsletter/subscribers", params={"q": email}, headers=org.headers()
    ).json()["items"]
    assert len(items) == 1, items
    return items[0]  # type: ignore[no-any-return]


def consent(stack: Stack, org: Org, customer_id: str) -> str | None:
    response = stack.api.get(f"/v1/customers/{customer_id}/consent", headers=org.headers())
    assert response.status_code == 200, response.text
    return response.json()["channels"].get("email")  # type: ignore[no-any-return]


def token(stack: Stack, org: Org, email: str) -> str:
    with stack.db.session(org.id) as session:
        return session.scalar(select(Subscriber.token).where(Subscriber.email == email)) or ""


def test_a_sign_up_is_a_profile_with_consent_and_leaving_revokes_it(stack: Stack, org: Org) -> None:
    single_opt_in(stack, org)
    known = create_customer(
        stack, org, name="Known", emails=["first@example.com", "second@example.com"]
    )
    subscribe(stack, org, "Second@example.com")
    subscribe(stack, org, "new@example.com", ["deals"])

    linked = subscriber(stack, org, "second@example.com")
    assert linked["customer_id"] == known["id"]  # matched by any of the profile's addresses
    made = subscriber(stack, org, "new@example.com")
    profile = stack.api.get(f"/v1/customers/{made['customer_id']}", headers=org.headers()).json()
    assert [e["address"] for e in profile["emails"]] == ["new@example.com"]
    assert consent(stack, org, made["customer_id"]) == "granted"

    path = f"/v1/public/{org.slug}/newsletter/unsubscribe/{token(stack, org, 'new@example.com')}"
    assert stack.api.post(path).status_code == 200
    assert consent(stack, org, made["customer_id"]) == "revoked"


def test_double_opt_in_grants_consent_only_once_confirmed(stack: Stack, org: Org) -> None:
    subscribe(stack, org, "careful@example.com")
    pending = subscriber(stack, org, "careful@example.com")
    assert pending["status"] == "pending" and pending["customer_id"]
    assert consent(stack, org, pending["customer_id"]) is None
    path = f"/v1/public/{org.slug}/newsletter/confirm/{token(stack, org, 'careful@example.com')}"
    assert stack.api.post(path).status_code == 200
    assert consent(stack, org, pending["customer_id"]) == "granted"


def test_leaving_a_topic_keeps_the_others_and_the_consent(stack: Stack, org: Org) -> None:
    single_opt_in(stack, org)
    subscribe(stack, org, "reader@example.com", ["deals", "recipes"])
    base = f"/v1/public/{org.slug}/newsletter/leave-topic/{token(stack, org, 'reader@example.com')}"
    assert stack.api.get(base).status_code == 404  # no topic named: not a valid link
    assert stack.api.post(base, params={"topic": "deals"}).status_code == 200
    after = subscriber(stack, org, "reader@example.com")
    assert (after["topics"], after["status"]) == (["recipes"], "subscribed")
    assert consent(stack, org, after["customer_id"]) == "granted"


def test_the_email_s_one_click_link_leaves_the_newsletter_too(stack: Stack, org: Org) -> None:
    single_opt_in(stack, org)
    subscribe(stack, org, "clicker@example.com")
    customer_id = subscriber(stack, org, "clicker@example.com")["customer_id"]
    from herald.messaging.unsubscribe import Links

    links = Links("http://127.0.0.1:8000", stack.env["HERALD_SECRET_KEY"])
    link = links.unsubscribe_url(org.slug, org.id, uuid.UUID(customer_id))
    link = link.split("127.0.0.1:8000", 1)[1]
    assert stack.api.post(link).status_code == 200
    assert subscriber(stack, org, "clicker@example.com")["status"] == "unsubscribed"
    assert consent(stack, org, customer_id) == "revoked"


def test_a_campaign_to_a_topic_reaches_its_subscribers_only(stack: Stack, org: Org) -> None:
    single_opt_in(stack, org)
    subscribe(stack, org, "deals@example.com", ["deals"])
    subscribe(stack, org, "recipes@example.com", ["recipes"])
    subscribe(stack, org, "gone@example.com", ["deals"])
    stack.api.post(
        f"/v1/public/{org.slug}/newsletter/unsubscribe/{token(stack, org, 'gone@example.com')}"
    )
    create_customer(stack, org, emails=["customer@example.com"])  # not on the list
    template = {
        "key": "deals",
        "name": "Deals",
        "channel": "email",
        "category": "marketing",
        "default_locale": "en",
        "variants": {"en": {"subject": "This week's deals", "html": "<p>Deals</p>"}},
    }
    assert stack.api.post("/v1/templates", json=template, headers=org.headers()).status_code == 201
    campaign = {
        "key": "weekly-deals",
        "name": "Weekly deals",
        "channel": "email",
        "audience": {"topic": "deals"},
        "variants": [{"name": "A", "template": "deals"}],
    }
    made = stack.api.post("/v1/campaigns", json=campaign, headers=org.headers())
    assert made.status_code == 201, made.text
    cid = made.json()["id"]
    assert stack.api.post(f"/v1/campaigns/{cid}/send", headers=org.headers()).status_code == 202
    wait_until(
        lambda: (
            stack.api.get(f"/v1/campaigns/{cid}", headers=org.headers()).json()["status"]
            == "completed"
        ),
        timeout_s=60,
    )
    outbox = stack.api.get("/v1/outbox", headers=org.headers()).json()["items"]
    assert [
        m["recipient"] for m in outbox if m["content"].get("subject") == "This week's deals"
    ] == ["deals@example.com"]


def test_staff_search_add_edit_unsubscribe_and_delete_subscribers(stack: Stack, org: Org) -> None:
    marketer = org.headers(Role.marketing)
    added = stack.api.post(
        "/v1/newsletter/subscribers",
        json={"email": "Staff@Example.com", "topics": ["deals"]},
        headers=marketer,
    )
    assert added.status_code == 201, added.text
    row = added.json()
    assert (row["email"], row["status"], row["source"]) == (
        "staff@example.com",
        "subscribed",
        "staff",
    )
    assert consent(stack, org, row["customer_id"]) == "granted"
    again = stack.api.post(
        "/v1/newsletter/subscribers", json={"email": "staff@example.com"}, headers=marketer
    )
    assert again.status_code == 409

    edited = stack.api.patch(
        f"/v1/newsletter/subscribers/{row['id']}",
        json={"topics": ["recipes", "deals"]},
        headers=marketer,
    )
    assert edited.json()["topics"] == ["deals", "recipes"]
    listed = stack.api.get(
        "/v1/newsletter/subscribers", params={"topic": "recipes"}, headers=marketer
    )
    assert [s["id"] for s in listed.json()["items"]] == [row["id"]]
    bad = stack.api.patch(
        f"/v1/newsletter/subscribers/{row['id']}",
        json={"topics": ["Not A Topic"]},
        headers=marketer,
    )
    assert bad.status_code == 422

    left = stack.api.post(f"/v1/newsletter/subscribers/{row['id']}/unsubscribe", headers=marketer)
    assert left.json()["status"] == "unsubscribed"
    assert consent(stack, org, row["customer_id"]) == "revoked"
    assert (
        stack.api.delete(f"/v1/newsletter/subscribers/{row['id']}", headers=marketer).status_code
        == 204
    )
    assert stack.api.get("/v1/newsletter/subscribers", headers=marketer).json()["items"] == []
    cashier = org.headers(Role.cashier)
    assert (
        stack.api.post(
            "/v1/newsletter/subscribers", json={"email": "x@example.com"}, headers=cashier
        ).status_code
        == 403
    )
