"""The real sendgrid and twilio SDKs, driven by the worker, against a local fake of each API."""

from __future__ import annotations

import threading
from typing import Any

from sqlalchemy import text, update

from herald.access.models import Role
from herald.messaging.models import MessagingSettings
from herald.secrets import ENCRYPTED_PREFIX
from tests.fakes import FakeProviders
from tests.support import Org, Stack, wait_until

EMAIL = {
    "key": "hello",
    "name": "Hello",
    "channel": "email",
    "default_locale": "en",
    "variants": {
        "en": {"subject": "Hello from {{ organization.name }}", "html": "<p>Hi</p>", "text": "Hi"}
    },
}
SMS = {
    "key": "hello-sms",
    "name": "Hello SMS",
    "channel": "sms",
    "category": "transactional",
    "default_locale": "en",
    "variants": {"en": {"body": "Your code is 1234 - {{ organization.name }}"}},
}
TWILIO_SID = "AC" + "0" * 32


def _configure(stack: Stack, org: Org, fake: FakeProviders) -> None:
    response = stack.api.put(
        "/v1/messaging/settings",
        json={
            "email_from": "shop@example.com",
            "email_from_name": "The Shop",
            "postal_address": "1 Main St, Springfield",
            "sendgrid_api_key": "SG.fake-key",
            "sendgrid_host": fake.url,
            "twilio_account_sid": TWILIO_SID,
            "twilio_auth_token": "secret-token",
            "twilio_base_url": fake.url,
            "sms_from": "+14155550100",
        },
        headers=org.headers(),
    )
    assert response.status_code == 200, response.text
    settings = response.json()
    assert (settings["email_provider"], settings["sms_provider"]) == ("sendgrid", "twilio")
    assert "secret-token" not in response.text and "SG.fake-key" not in response.text


def _test_send(stack: Stack, org: Org, template: dict[str, Any], to: str) -> Any:
    created = stack.api.post("/v1/templates", json=template, headers=org.headers())
    assert created.status_code == 201, created.text
    return stack.api.post(
        f"/v1/templates/{created.json()['id']}/test-send", json={"to": to}, headers=org.headers()
    )


def test_email_goes_through_the_sendgrid_sdk_with_herald_s_message_id(
    stack: Stack, org: Org, fake_providers: FakeProviders
) -> None:
    _configure(stack, org, fake_providers)
    # At rest the key is sealed; the worker opens it to call SendGrid.
    with stack.db.engine.connect() as conn:
        stored = conn.execute(
            text(
                "SELECT sendgrid_api_key, twilio_auth_token FROM messaging_settings "
                "WHERE organization_id = :org"
            ),
            {"org": org.id.hex if stack.db.engine.dialect.name == "sqlite" else org.id},
        ).one()
    assert all(v.startswith(ENCRYPTED_PREFIX) for v in stored)
    assert "SG.fake-key" not in stored[0] and "secret-token" not in stored[1]
    response = _test_send(stack, org, EMAIL, "reader@example.com")
    assert response.status_code == 200, response.text
    message = response.json()
    assert message["provider"] == "sendgrid" and message["status"] == "sent"
    [request] = fake_providers.accepted("/v3/mail/send")
    assert request.headers["Authorization"] == "Bearer SG.fake-key"
    body = request.body
    [personalization] = body["personalizations"]
    assert personalization["to"] == [{"email": "reader@example.com"}]
    assert body["from"] == {"email": "shop@example.com", "name": "The Shop"}
    assert personalization["subject"].startswith("Hello from Shop")
    assert personalization["custom_args"] == {"herald_message_id": message["id"]}
    assert message["provider_message_id"].startswith("sg-")


def test_a_sendgrid_500_then_success_sends_once(
    stack: Stack, org: Org, fake_providers: FakeProviders
) -> None:
    _configure(stack, org, fake_providers)
    fake_providers.failures.extend([(500, {}), (429, {"Retry-After": "1"})])
    response = _test_send(stack, org, EMAIL, "twice@example.com")
    assert response.status_code == 200, response.text
    assert response.json()["status"] == "sent" and response.json()["attempts"] == 3
    assert len(fake_providers.requests) == 3
    assert len(fake_providers.accepted("/v3/mail/send")) == 1


def test_a_refused_email_fails_without_retrying(
    stack: Stack, org: Org, fake_providers: FakeProviders
) -> None:
    _configure(stack, org, fake_providers)
    fake_providers.failures.append((400, {}))
    message = _test_send(stack, org, EMAIL, "bad@example.com").json()
    assert message["status"] == "failed" and "400" in message["status_reason"]
    assert len(fake_providers.requests) == 1


def test_sms_goes_through_the_twilio_sdk_with_a_status_callback(
    stack: Stack, org: Org, fake_providers: FakeProviders
) -> None:
    _configure(stack, org, fake_providers)
    fake_providers.failures.append((503, {}))
    response = _test_send(stack, org, SMS, "+1 415 555 0123")
    assert response.status_code == 200, response.text
    message = response.json()
    assert message["provider"] == "twilio" and message["status"] == "sent"
    assert message["recipient"] == "+14155550123"
    [request] = fake_providers.accepted("/Messages.json")
    assert request.path == f"/2010-04-01/Accounts/{TWILIO_SID}/Messages.json"
    form = request.body
    assert (form["To"], form["From"]) == ("+14155550123", "+14155550100")
    assert form["Body"].startswith("Your code is 1234")
    assert form["StatusCallback"].endswith(f"/v1/webhooks/twilio/status?message_id={message['id']}")
    assert message["provider_message_id"].startswith("SM")
    assert len(fake_providers.requests) == 2


def test_only_owners_and_managers_configure_providers(stack: Stack, org: Org) -> None:
    body = {"email_from": "x@example.com"}
    for role in (Role.marketing, Role.cashier, Role.sales):
        response = stack.api.put("/v1/messaging/settings", json=body, headers=org.headers(role))
        assert response.status_code == 403
    assert (
        stack.api.put(
            "/v1/messaging/settings", json=body, headers=org.headers(Role.manager)
        ).status_code
        == 200
    )
    assert (
        stack.api.put(
            "/v1/messaging/settings", json={"sms_from": "12"}, headers=org.headers()
        ).status_code
        == 422
    )


def _send_and_lose_the_answer(
    stack: Stack, org: Org, fake: FakeProviders, template: dict[str, Any], to: str
) -> dict[str, Any]:
    """Test-send; the provider takes the message and the worker dies before the answer comes.
    Returns the message once the retry (after the lost attempt times out) has settled it."""
    _configure(stack, org, fake)
    fake.gate = threading.Event()  # the provider holds its answer
    sender = threading.Thread(target=_test_send, args=(stack, org, template, to))
    sender.start()
    wait_until(lambda: fake.requests)
    stack.worker.kill()  # dies before it learns the outcome or updates the row
    fake.gate.set()
    sender.join(timeout=30)
    stack.worker.start()

    def settled() -> dict[str, Any] | None:
        items = stack.api.get("/v1/messages", headers=org.headers()).json()["items"]
        return items[0] if items and items[0]["status"] != "queued" else None

    return wait_until(settled, timeout_s=90, interval_s=0.5)  # type: ignore[no-any-return]


def test_a_worker_killed_while_sendgrid_accepts_does_not_send_twice(
    stack: Stack, org: Org, fake_providers: FakeProviders
) -> None:
    message = _send_and_lose_the_answer(stack, org, fake_providers, EMAIL, "once@example.com")
    assert message["status"] == "unknown" and "not sent again" in message["status_reason"]
    assert len(fake_providers.requests) == 1


def test_an_sms_whose_outcome_was_lost_is_found_at_twilio_not_resent(
    stack: Stack, org: Org, fake_providers: FakeProviders
) -> None:
    message = _send_and_lose_the_answer(stack, org, fake_providers, SMS, "+1 415 555 0199")
    assert message["status"] == "sent" and "found at the provider" in message["status_reason"]
    [taken] = fake_providers.sms
    assert message["provider_message_id"] == taken["sid"]
    assert len(fake_providers.accepted("/Messages.json")) == 1


def test_provider_addresses_inside_the_network_are_refused_when_saved_and_when_called(
    stack: Stack, org: Org, fake_providers: FakeProviders
) -> None:
    """A tenant once pointed its push endpoint at the metadata service; the worker sent its
    credentials there and showed part of the answer back in /v1/messages."""
    for field, url in [
        ("fcm_base_url", "http://169.254.169.254/latest/meta-data/"),
        ("sendgrid_host", "http://10.0.0.8"),
        ("twilio_base_url", "http://[::1]:8080"),
    ]:
        response = stack.api.put("/v1/messaging/settings", json={field: url}, headers=org.headers())
        assert response.status_code == 422, response.text
        assert response.json()["errors"][0]["field"] == field
    _configure(stack, org, fake_providers)
    # Stored before this check existed: the call itself is refused, and not retried.
    with stack.db.session(org.id) as session:
        session.execute(update(MessagingSettings).values(sendgrid_host="http://127.0.0.2:9"))
        session.commit()
    message = _test_send(stack, org, EMAIL, "reader@example.com").json()
    assert message["status"] == "failed" and message["attempts"] == 1
    assert "private" in message["status_reason"]
    assert fake_providers.requests == []
