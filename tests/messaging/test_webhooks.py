"""Provider webhooks: verified signatures, applied once, statuses and suppression updated."""

from __future__ import annotations

import json
import time
from typing import Any

from twilio.request_validator import RequestValidator

from tests.fakes import FakeProviders, SendGridSigner
from tests.support import Org, Stack, create_customer

PUBLIC_URL = "http://127.0.0.1:8000"  # what the API believes its public address is
AUTH_TOKEN = "twilio-secret"
TWILIO_SID = "AC" + "1" * 32
EMAIL = {
    "key": "note",
    "name": "Note",
    "channel": "email",
    "category": "transactional",
    "default_locale": "en",
    "variants": {"en": {"subject": "Note", "html": "<p>n</p>"}},
}
SMS = {
    "key": "note-sms",
    "name": "Note",
    "channel": "sms",
    "category": "marketing",
    "default_locale": "en",
    "variants": {"en": {"body": "Deals today"}},
}


def _send_email(stack: Stack, org: Org, signer: SendGridSigner) -> dict[str, Any]:
    stack.api.put(
        "/v1/messaging/settings",
        json={"sendgrid_webhook_public_key": signer.public_key},
        headers=org.headers(),
    )
    template = stack.api.post("/v1/templates", json=EMAIL, headers=org.headers()).json()
    return stack.api.post(
        f"/v1/templates/{template['id']}/test-send",
        json={"to": "reader@example.com"},
        headers=org.headers(),
    ).json()


def _status(stack: Stack, org: Org, message_id: str) -> str:
    return stack.api.get(f"/v1/messages/{message_id}", headers=org.headers()).json()["status"]


def test_sendgrid_events_update_status_and_suppress_once(stack: Stack, org: Org) -> None:
    signer = SendGridSigner()
    message = _send_email(stack, org, signer)
    path = f"/v1/webhooks/sendgrid/{org.slug}"
    events = [
        {
            "sg_event_id": "e1",
            "event": "delivered",
            "email": "reader@example.com",
            "herald_message_id": message["id"],
        },
        {
            "sg_event_id": "e2",
            "event": "open",
            "email": "reader@example.com",
            "herald_message_id": message["id"],
        },
        {
            "sg_event_id": "e3",
            "event": "spamreport",
            "email": "Reader@example.com",
            "herald_message_id": message["id"],
        },
    ]
    body = json.dumps(events).encode()
    assert stack.api.post(path, content=body, headers=signer.headers(body)).status_code == 204
    assert _status(stack, org, message["id"]) == "complained"
    suppressed = stack.api.get("/v1/suppressions", headers=org.headers()).json()["items"]
    assert [(s["address"], s["reason"]) for s in suppressed] == [
        ("reader@example.com", "spam_complaint")
    ]
    # SendGrid retries and duplicates: the same events again change nothing.
    late = json.dumps(
        [{"sg_event_id": "e1", "event": "delivered", "herald_message_id": message["id"]}]
    ).encode()
    assert stack.api.post(path, content=late, headers=signer.headers(late)).status_code == 204
    assert _status(stack, org, message["id"]) == "complained"
    assert len(stack.api.get("/v1/suppressions", headers=org.headers()).json()["items"]) == 1


def test_bad_or_stale_sendgrid_signatures_are_refused_and_record_nothing(
    stack: Stack, org: Org
) -> None:
    signer = SendGridSigner()
    message = _send_email(stack, org, signer)
    path = f"/v1/webhooks/sendgrid/{org.slug}"
    body = json.dumps(
        [
            {
                "sg_event_id": "b1",
                "event": "bounce",
                "type": "bounce",
                "email": "reader@example.com",
                "herald_message_id": message["id"],
            }
        ]
    ).encode()
    tampered = body.replace(b"bounce", b"click", 1)
    assert stack.api.post(path, content=tampered, headers=signer.headers(body)).status_code == 401
    stale = signer.headers(body, stamp=int(time.time()) - 3600)
    assert stack.api.post(path, content=body, headers=stale).status_code == 401
    other = SendGridSigner()
    assert stack.api.post(path, content=body, headers=other.headers(body)).status_code == 401
    assert stack.api.post(path, content=body).status_code == 401
    assert _status(stack, org, message["id"]) == "sent"
    assert stack.api.get("/v1/suppressions", headers=org.headers()).json()["items"] == []
    # The genuine one is applied: a hard bounce suppresses the address.
    assert stack.api.post(path, content=body, headers=signer.headers(body)).status_code == 204
    assert _status(stack, org, message["id"]) == "bounced"


def _twilio_post(stack: Stack, path: str, form: dict[str, str], token: str = AUTH_TOKEN) -> Any:
    signature = RequestValidator(token).compute_signature(PUBLIC_URL + path, form)
    return stack.api.post(path, data=form, headers={"X-Twilio-Signature": signature})


def _configure_twilio(stack: Stack, org: Org, fake: FakeProviders) -> None:
    stack.api.put(
        "/v1/messaging/settings",
        json={
            "twilio_account_sid": TWILIO_SID,
            "twilio_auth_token": AUTH_TOKEN,
            "twilio_base_url": fake.url,
            "sms_from": "+14155550100",
        },
        headers=org.headers(),
    )


def test_twilio_status_callbacks_are_verified_and_applied(
    stack: Stack, org: Org, fake_providers: FakeProviders
) -> None:
    _configure_twilio(stack, org, fake_providers)
    template = stack.api.post("/v1/templates", json=SMS, headers=org.headers()).json()
    message = stack.api.post(
        f"/v1/templates/{template['id']}/test-send",
        json={"to": "+14155550199"},
        headers=org.headers(),
    ).json()
    path = f"/v1/webhooks/twilio/status?message_id={message['id']}"
    form = {"MessageSid": message["provider_message_id"], "MessageStatus": "delivered"}
    assert _twilio_post(stack, path, form, token="wrong").status_code == 401
    assert _status(stack, org, message["id"]) == "sent"
    assert _twilio_post(stack, path, form).status_code == 204
    assert _status(stack, org, message["id"]) == "delivered"


def test_inbound_stop_start_and_help(stack: Stack, org: Org, fake_providers: FakeProviders) -> None:
    _configure_twilio(stack, org, fake_providers)
    customer = create_customer(stack, org, phones=["+14155550177"])
    stack.api.put(
        f"/v1/customers/{customer['id']}/consent", json={"sms": "granted"}, headers=org.headers()
    )
    path = f"/v1/webhooks/twilio/inbound/{org.slug}"

    stop = _twilio_post(
        stack, path, {"From": "+14155550177", "Body": " stop ", "MessageSid": "SM1"}
    )
    assert stop.status_code == 200 and "<Message>" not in stop.text
    suppressed = stack.api.get("/v1/suppressions", headers=org.headers()).json()["items"]
    assert [(s["address"], s["reason"]) for s in suppressed] == [("+14155550177", "sms_stop")]
    consent = stack.api.get(f"/v1/customers/{customer['id']}/consent", headers=org.headers())
    assert consent.json()["channels"]["sms"] == "revoked"
    template = stack.api.post("/v1/templates", json=SMS, headers=org.headers()).json()
    blocked = stack.api.post(
        f"/v1/templates/{template['id']}/test-send",
        json={"to": "+14155550177"},
        headers=org.headers(),
    ).json()
    assert (blocked["status"], blocked["status_reason"]) == ("skipped", "suppressed: sms_stop")

    helped = _twilio_post(
        stack, path, {"From": "+14155550177", "Body": "HELP", "MessageSid": "SM2"}
    )
    assert "reply STOP" in helped.text
    started = _twilio_post(
        stack, path, {"From": "+14155550177", "Body": "Start", "MessageSid": "SM3"}
    )
    assert "subscribed again" in started.text
    assert stack.api.get("/v1/suppressions", headers=org.headers()).json()["items"] == []
    assert (
        _twilio_post(
            stack,
            path,
            {"From": "+14155550177", "Body": "STOP", "MessageSid": "SM4"},
            token="forged",
        ).status_code
        == 401
    )
    assert stack.api.get("/v1/suppressions", headers=org.headers()).json()["items"] == []
