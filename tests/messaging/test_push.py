"""Push through FCM with a service account, to every device; the inbox an app reads with its own
token; display rules; push opens. google-auth and Herald's FCM client talk to herald.fake_fcm."""

from __future__ import annotations

import json
import threading
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from herald.access.models import Role
from herald.fake_fcm import FakeFcm
from herald.messaging.fcm import access_token
from herald.messaging.inbox import APP_TOKEN_AUDIENCE, APP_TOKEN_PURPOSE
from herald.messaging.providers import ProviderError
from herald.outbound import Outbound
from herald.secrets import derive
from tests.support import FAKES_NETWORK, TEST_SECRET, Org, Stack, create_customer, wait_until


@pytest.fixture
def fcm() -> Iterator[FakeFcm]:
    fake = FakeFcm().start()
    yield fake
    fake.stop()


def template(stack: Stack, org: Org, key: str, channel: str, content: dict[str, Any]) -> str:
    body = {
        "key": key,
        "name": key,
        "channel": channel,
        "category": "transactional",
        "default_locale": "en",
        "variants": {"en": content},
    }
    created = stack.api.post("/v1/templates", json=body, headers=org.headers())
    assert created.status_code == 201, created.text
    return str(created.json()["id"])


def send_to(stack: Stack, org: Org, template_id: str, customer_id: str) -> dict[str, Any]:
    sent = stack.api.post(
        f"/v1/templates/{template_id}/test-send",
        json={"customer_id": customer_id},
        headers=org.headers(),
    )
    assert sent.status_code == 200, sent.text
    return sent.json()  # type: ignore[no-any-return]


def message(stack: Stack, org: Org, message_id: str) -> dict[str, Any]:
    return stack.api.get(f"/v1/messages/{message_id}", headers=org.headers()).json()  # type: ignore[no-any-return]


def app_token(stack: Stack, org: Org, customer_id: str, **body: Any) -> dict[str, str]:
    issued = stack.api.post(
        f"/v1/customers/{customer_id}/app-token", json=body or None, headers=org.headers()
    )
    assert issued.status_code == 200, issued.text
    return {"Authorization": f"Bearer {issued.json()['token']}"}


def configure_fcm(stack: Stack, org: Org, fcm: FakeFcm) -> None:
    saved = stack.api.put(
        "/v1/messaging/settings",
        json={"fcm_service_account": fcm.service_account(), "fcm_base_url": fcm.url},
        headers=org.headers(),
    )
    assert saved.status_code == 200, saved.text
    settings = saved.json()
    assert (settings["push_provider"], settings["fcm_project_id"]) == ("fcm", fcm.project_id)
    assert "PRIVATE KEY" not in saved.text  # write-only
    shown = stack.api.get("/v1/messaging/settings", headers=org.headers()).text
    assert "PRIVATE KEY" not in shown and fcm.client_email in shown


PUSH = {
    "title": "Hi {{ customer.first_name }}",
    "body": "Your basket is waiting",
    "data": {"basket": "b-17"},
    "link": "https://shop.example/basket",
    "android": {"channel_id": "offers", "priority": "high"},
    "apns": {"headers": {"apns-priority": "10"}},
}


def test_sign_in_mints_one_token_and_refreshes_it_before_it_expires(fcm: FakeFcm) -> None:
    # google-auth refreshes a token within 3 min 45 s of its expiry: 226 s of life leaves one
    # second before it counts as stale.
    fcm.token_lifetime_s = 226
    key = json.dumps(fcm.service_account())
    organization = uuid.uuid4()
    outbound = Outbound.allowing(FAKES_NETWORK)
    first = access_token(organization, key, outbound)
    assert access_token(organization, key, outbound) == first
    assert fcm.token_requests == 1
    time.sleep(1.5)
    second = access_token(organization, key, outbound)
    assert second != first and fcm.token_requests == 2

    # Another key for the account's address: the token endpoint refuses its signature.
    other = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    forged = {
        **fcm.service_account(),
        "private_key": other.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        ).decode(),
    }
    with pytest.raises(ProviderError) as refused:
        access_token(uuid.uuid4(), json.dumps(forged), outbound)
    assert not refused.value.retryable and "invalid_grant" in refused.value.reason
    # The guard stands between the key's token address and the network.
    with pytest.raises(ProviderError) as guarded:
        access_token(uuid.uuid4(), key, Outbound())
    assert not guarded.value.retryable and fcm.token_requests == 2


# Devices and expiry are queried in SQL that differs between the databases.
@pytest.mark.dialects
def test_a_push_reaches_every_active_device_once_and_dead_tokens_are_deactivated(
    stack: Stack, org: Org, fcm: FakeFcm
) -> None:
    configure_fcm(stack, org, fcm)
    push = template(stack, org, "basket", "push", PUSH)
    customer = create_customer(stack, org, name="Mai Tran")["id"]
    assert send_to(stack, org, push, customer)["status_reason"] == "no active push device"
    app = app_token(stack, org, customer)
    for token, platform in (
        ("phone-token-0001", "android"),
        ("unregistered-tablet-0002", "ios"),
        ("browser-token-0003", "web"),
    ):
        registered = stack.api.post(
            "/v1/app/devices", json={"token": token, "platform": platform}, headers=app
        )
        assert registered.status_code == 200, registered.text

    sent = message(stack, org, send_to(stack, org, push, customer)["id"])
    assert (sent["provider"], sent["status"]) == ("fcm", "sent")
    assert sorted(d["status"] for d in sent["devices"]) == ["failed", "sent", "sent"]
    [dead] = [d for d in sent["devices"] if d["status"] == "failed"]
    assert "UNREGISTERED" in dead["error"] and dead["platform"] == "ios"
    delivered = fcm.accepted()
    assert sorted(m["token"] for m in delivered) == ["browser-token-0003", "phone-token-0001"]
    phone = next(m for m in delivered if m["token"] == "phone-token-0001")
    assert phone["notification"] == {"title": "Hi Mai", "body": "Your basket is waiting"}
    assert phone["data"]["basket"] == "b-17" and phone["data"]["herald_message_id"] == sent["id"]
    assert phone["data"]["link"] == "https://shop.example/basket"
    assert phone["android"] == {"priority": "high", "notification": {"channel_id": "offers"}}
    assert phone["apns"] == {"headers": {"apns-priority": "10"}}
    assert phone["webpush"]["fcm_options"]["link"] == "https://shop.example/basket"
    devices = stack.api.get(f"/v1/customers/{customer}/devices", headers=org.headers()).json()
    assert sorted(d["active"] for d in devices) == [False, True, True]
    assert "UNREGISTERED" in next(d for d in devices if not d["active"])["deactivated_reason"]

    # FCM answers 503 once: the retry sends to the devices not yet served, each once; the
    # dead one is not tried again; one sign-in served it all.
    fcm.failures.append(503)
    before = len(fcm.delivered)
    again = message(stack, org, send_to(stack, org, push, customer)["id"])
    assert again["status"] == "sent" and again["attempts"] == 2
    tried = [d.message["token"] for d in fcm.delivered[before:]]
    assert sorted(tried) == ["browser-token-0003", "phone-token-0001", "phone-token-0001"]
    assert sum(d["status"] == "sent" for d in again["devices"]) == 2
    assert fcm.token_requests == 1

    # Google revokes the token held: Herald signs in again and the push still goes.
    fcm.expire_tokens()
    third = message(stack, org, send_to(stack, org, push, customer)["id"])
    assert third["status"] == "sent" and fcm.token_requests == 2


def test_push_opens_reported_by_the_app_count_as_opens(
    stack: Stack, org: Org, other_org: Org, fcm: FakeFcm
) -> None:
    configure_fcm(stack, org, fcm)
    push = template(stack, org, "basket", "push", PUSH)
    customer = create_customer(stack, org, name="Mai Tran")["id"]
    stack.api.post(
        "/v1/app/devices",
        json={"token": "phone-token-0001", "platform": "android"},
        headers=app_token(stack, org, customer),
    )
    sent = send_to(stack, org, push, customer)
    [delivered] = fcm.accepted()
    token = delivered["data"]["herald_open_token"]
    assert (
        stack.api.post(
            f"/v1/public/{other_org.slug}/push/opened", json={"token": token}
        ).status_code
        == 404
    )  # another shop's address
    assert (
        stack.api.post(
            f"/v1/public/{org.slug}/push/opened", json={"token": token[:-2] + "xx"}
        ).status_code
        == 404
    )
    assert message(stack, org, sent["id"])["opened_at"] is None
    for _ in range(2):  # the app may report twice: one open
        opened = stack.api.post(f"/v1/public/{org.slug}/push/opened", json={"token": token})
        assert opened.status_code == 204, opened.text
    shown = message(stack, org, sent["id"])
    assert shown["status"] == "opened" and shown["opened_at"] is not None


def expired_token(organization_id: uuid.UUID, customer_id: str) -> str:
    """An app token Herald signed an hour ago for ten minutes (the test knows the secret)."""
    claims = {
        "sub": customer_id,
        "org": str(organization_id),
        "aud": APP_TOKEN_AUDIENCE,
        "exp": datetime.now(UTC) - timedelta(minutes=50),
        "iat": datetime.now(UTC) - timedelta(hours=1),
    }
    return jwt.encode(claims, derive(TEST_SECRET, APP_TOKEN_PURPOSE), algorithm="HS256")


def test_an_app_token_reads_only_its_customer_s_inbox_and_expires(
    stack: Stack, org: Org, other_org: Org
) -> None:
    note = template(
        stack, org, "note", "in_app", {"title": "For {{ customer.first_name }}", "body": "Hello"}
    )
    ana = create_customer(stack, org, name="Ana Silva")["id"]
    ben = create_customer(stack, org, name="Ben Okafor")["id"]
    ana_message = send_to(stack, org, note, ana)["id"]
    ben_message = send_to(stack, org, note, ben)["id"]
    app = app_token(stack, org, ana, ttl_seconds=600)

    inbox = stack.api.get("/v1/app/inbox", headers=app).json()
    assert [(m["id"], m["title"]) for m in inbox["items"]] == [(ana_message, "For Ana")]
    assert inbox["unread"] == 1
    for method, path in (
        ("GET", f"/v1/app/inbox/{ben_message}"),
        ("POST", f"/v1/app/inbox/{ben_message}/read"),
        ("DELETE", f"/v1/app/inbox/{ben_message}"),
    ):
        assert stack.api.request(method, path, headers=app).status_code == 404
    # Nothing else answers to it, and an API key is no app token.
    assert stack.api.get("/v1/customers", headers=app).status_code == 401
    assert stack.api.get(f"/v1/customers/{ana}/inbox", headers=app).status_code == 401
    assert stack.api.get("/v1/app/inbox", headers=org.headers()).status_code == 401
    assert stack.api.get("/v1/app/inbox").status_code == 401
    # Another shop cannot issue one for this shop's customer; a cashier cannot read customers.
    assert (
        stack.api.post(f"/v1/customers/{ana}/app-token", headers=other_org.headers()).status_code
        == 404
    )
    bad_ttl = stack.api.post(
        f"/v1/customers/{ana}/app-token", json={"ttl_seconds": 10}, headers=org.headers()
    )
    assert bad_ttl.status_code == 422 and bad_ttl.headers["content-type"].startswith(
        "application/problem+json"
    )

    expired = stack.api.get(
        "/v1/app/inbox",
        headers={"Authorization": f"Bearer {expired_token(org.id, ana)}"},
    )
    assert expired.status_code == 401 and "expired" in expired.text
    forged = jwt.encode(
        {"sub": ben, "org": str(org.id), "aud": APP_TOKEN_AUDIENCE, "exp": 2_000_000_000},
        b"0" * 32,
        algorithm="HS256",
    )
    assert (
        stack.api.get("/v1/app/inbox", headers={"Authorization": f"Bearer {forged}"}).status_code
        == 401
    )

    read = stack.api.post(f"/v1/app/inbox/{ana_message}/read", headers=app)
    assert read.status_code == 200 and read.json()["read_at"] is not None
    assert stack.api.get("/v1/app/inbox", headers=app).json()["unread"] == 0
    assert message(stack, org, ana_message)["status"] == "opened"
    assert stack.api.delete(f"/v1/app/inbox/{ana_message}", headers=app).status_code == 204
    assert stack.api.get("/v1/app/inbox", headers=app).json()["items"] == []
    # Ben's inbox is untouched.
    ben_app = app_token(stack, org, ben)
    assert [m["id"] for m in stack.api.get("/v1/app/inbox", headers=ben_app).json()["items"]] == [
        ben_message
    ]


# Devices and expiry are queried in SQL that differs between the databases.
@pytest.mark.dialects
def test_display_rules_choose_what_the_app_shows_now(stack: Stack, org: Org) -> None:
    customer = create_customer(stack, org, name="Ivo Petrov")["id"]
    shown: dict[str, str] = {}
    for key, rules in {
        "cart-modal": {
            "kind": "modal",
            "priority": 50,
            "triggers": [{"on": "screen", "screen": "cart"}],
        },
        "welcome-banner": {"kind": "banner", "priority": 90, "triggers": [{"on": "app_open"}]},
        "any-banner": {"kind": "banner", "priority": 10, "expires_in": "P7D"},
        "old-banner": {"kind": "banner", "priority": 99, "expires_at": "2020-01-01T00:00:00Z"},
        "news": {"kind": "inbox"},
    }.items():
        made = template(stack, org, key, "in_app", {"title": key, "body": "...", **rules})
        shown[key] = send_to(stack, org, made, customer)["id"]
    app = app_token(stack, org, customer)

    def display(**params: str) -> list[str]:
        answer = stack.api.get("/v1/app/inbox/display", params=params, headers=app)
        assert answer.status_code == 200, answer.text
        return [m["title"] for m in answer.json()]

    assert display(on="app_open") == ["welcome-banner", "any-banner"]
    assert display(on="screen", screen="cart") == ["cart-modal", "any-banner"]
    assert display(on="screen", screen="account") == ["any-banner"]
    inbox = stack.api.get("/v1/app/inbox", headers=app).json()["items"]
    assert sorted(m["title"] for m in inbox) == [
        "any-banner",
        "cart-modal",
        "news",
        "welcome-banner",
    ]
    week = next(m for m in inbox if m["title"] == "any-banner")
    assert week["expires_at"] is not None and week["kind"] == "banner"
    stack.api.post(f"/v1/app/inbox/{shown['cart-modal']}/read", headers=app)
    assert display(on="screen", screen="cart") == ["any-banner"]
    bad = {"title": "x", "body": "y", "kind": "modal", "triggers": [{"on": "screen"}]}
    refused = stack.api.post(
        "/v1/templates",
        json={
            "key": "bad",
            "name": "bad",
            "channel": "in_app",
            "default_locale": "en",
            "variants": {"en": bad},
        },
        headers=org.headers(),
    )
    assert refused.status_code == 422 and "screen" in refused.text


def test_new_in_app_messages_reach_the_app_live(stack: Stack, org: Org) -> None:
    note = template(stack, org, "live", "in_app", {"title": "Flash sale", "body": "Now"})
    customer = create_customer(stack, org, name="Lea Roth")["id"]
    token = app_token(stack, org, customer)["Authorization"].removeprefix("Bearer ")
    lines: list[str] = []
    opened = threading.Event()

    def listen() -> None:
        # A browser's EventSource cannot set headers: the token goes in the query.
        with stack.api.stream(
            "GET", "/v1/app/inbox/stream", params={"access_token": token}, timeout=30
        ) as stream:
            assert stream.status_code == 200
            opened.set()
            for line in stream.iter_lines():
                lines.append(line)
                if not line and any(seen.startswith("data:") for seen in lines):
                    return  # the end of the first event

    listener = threading.Thread(target=listen, daemon=True)
    listener.start()
    assert opened.wait(10)
    sent = send_to(stack, org, note, customer)["id"]
    listener.join(15)
    assert not listener.is_alive()
    assert "event: message" in lines and f"id: {sent}" in lines
    data = json.loads(next(line for line in lines if line.startswith("data:"))[5:])
    assert (data["title"], data["id"]) == ("Flash sale", sent)
    assert (
        stack.api.get("/v1/app/inbox/stream", params={"access_token": "not-a-token"}).status_code
        == 401
    )


def test_campaigns_and_journeys_send_push_and_in_app(stack: Stack, org: Org, fcm: FakeFcm) -> None:
    configure_fcm(stack, org, fcm)
    h = org.headers()
    for key, channel, content in (
        ("sale-push", "push", {"title": "Sale, {{ customer.first_name }}", "body": "Today only"}),
        ("sale-card", "in_app", {"title": "Sale", "body": "Today only", "kind": "banner"}),
    ):
        body = {
            "key": key,
            "name": key,
            "channel": channel,
            "default_locale": "en",
            "variants": {"en": content},
        }
        assert stack.api.post("/v1/templates", json=body, headers=h).status_code == 201
    customers = [create_customer(stack, org, name=f"Fan {n}")["id"] for n in range(3)]
    for n, customer in enumerate(customers):
        consent = {"push": "granted", "in_app": "granted"}
        assert (
            stack.api.put(f"/v1/customers/{customer}/consent", json=consent, headers=h).status_code
            == 200
        )
        stack.api.post(
            "/v1/app/devices",
            json={"token": f"fan-device-{n:04d}", "platform": "android"},
            headers=app_token(stack, org, customer),
        )
    segment = {"key": "fans", "name": "Fans", "rule": {"consent": "push"}}
    assert stack.api.post("/v1/segments", json=segment, headers=h).status_code == 201
    for key, channel, template_key in (
        ("sale", "push", "sale-push"),
        ("sale-inbox", "in_app", "sale-card"),
    ):
        campaign = {
            "key": key,
            "name": key,
            "channel": channel,
            "audience": {"segment": "fans"},
            "variants": [{"name": "A", "template": template_key}],
        }
        created = stack.api.post("/v1/campaigns", json=campaign, headers=h, timeout=60)
        assert created.status_code == 201, created.text
        assert (
            stack.api.post(
                f"/v1/campaigns/{created.json()['id']}/send", headers=org.headers(Role.owner)
            ).status_code
            == 202
        )
        wait_until(
            lambda c=created.json()["id"]: (
                stack.api.get(f"/v1/campaigns/{c}", headers=h).json()["status"] == "completed"
            ),
            timeout_s=60,
        )
    assert sorted(m["token"] for m in fcm.accepted()) == [f"fan-device-{n:04d}" for n in range(3)]
    assert {m["notification"]["title"] for m in fcm.accepted()} == {"Sale, Fan"}
    for customer in customers:
        app = app_token(stack, org, customer)
        assert [m["title"] for m in stack.api.get("/v1/app/inbox/display", headers=app).json()] == [
            "Sale"
        ]

    journey = {
        "name": "Basket reminder",
        "trigger": {"event": "basket.left"},
        "steps": [
            {
                "id": "push",
                "type": "send",
                "channel": "push",
                "template": "sale-push",
                "next": "card",
            },
            {
                "id": "card",
                "type": "send",
                "channel": "in_app",
                "template": "sale-card",
                "next": None,
            },
        ],
    }
    assert (
        stack.api.post(
            "/v1/journeys", json={"key": "basket", "definition": journey}, headers=h
        ).status_code
        == 201
    )
    assert stack.api.post("/v1/journeys/basket/publish", headers=h).status_code == 200
    before = len(fcm.accepted())
    event = {"type": "basket.left", "customer": {"id": customers[0]}}
    assert stack.api.post("/v1/events", json=event, headers=h).status_code == 202
    wait_until(lambda: len(fcm.accepted()) == before + 1, timeout_s=30)
    app = app_token(stack, org, customers[0])
    wait_until(lambda: stack.api.get("/v1/app/inbox", headers=app).json()["unread"] == 2)
