"""The delivery path: one message per intent, recorded before the provider, never sent twice."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

import pytest
from sqlalchemy import func, select

from herald.customers.schemas import CustomerCreate
from herald.customers.service import create_customer as create_customer_row
from herald.customers.service import delete_customer
from herald.database import Database
from herald.db import utcnow
from herald.messaging.contracts import DeliveryRequest, MessageStatus
from herald.messaging.delivery import DeliveryEnv, SendRules, deliver
from herald.messaging.models import Channel, Message
from herald.messaging.providers import OneByOne, OutboxProvider, OutgoingMessage, ProviderError
from herald.messaging.schemas import TemplateCreate
from herald.messaging.templates import create_template
from herald.messaging.unsubscribe import Links
from tests.support import Org, Stack, create_customer

# SQL here differs between SQLite and PostgreSQL: run on both.
pytestmark = pytest.mark.dialects

EMAIL = {
    "key": "receipt",
    "name": "Receipt",
    "channel": "email",
    "category": "transactional",
    "default_locale": "en",
    "variants": {
        "en": {
            "subject": "Thanks, {{ customer.first_name | default('there') }}",
            "html": "<p>{{ organization.name }} thanks you. Points: "
            "{{ customer.points | default(0) }}</p>",
        }
    },
}


class RecordingProvider(OneByOne):
    """Stands in for a provider's HTTP API: counts what reaches it, can fail on cue."""

    name = "recording"
    tracks_engagement = True  # keeps the content as rendered, for the assertions below

    def __init__(
        self,
        *,
        resend_when_in_doubt: bool,
        fail_with: Exception | None = None,
        fail_after: int = 0,
    ) -> None:
        self.resend_when_in_doubt = resend_when_in_doubt
        self.fail_with = fail_with
        self.fail_after = fail_after  # how many messages go through before it fails
        self.sent: list[OutgoingMessage] = []

    def send(self, message: OutgoingMessage) -> str:
        if self.fail_with is not None and len(self.sent) == self.fail_after:
            error, self.fail_with = self.fail_with, None
            if isinstance(error, ProviderError):
                raise error
            self.sent.append(message)  # it got there, but the answer is lost
            raise error
        self.sent.append(message)
        return f"rec-{len(self.sent)}"


def _template(db: Database, org: Org, **changes: Any) -> uuid.UUID:
    with db.session(org.id) as session:
        return create_template(session, TemplateCreate(**{**EMAIL, **changes})).id


def _customer(db: Database, org: Org, **fields: Any) -> uuid.UUID:
    data = {"name": "Mia Wong", "emails": [f"{uuid.uuid4().hex[:8]}@example.com"], **fields}
    with db.session(org.id) as session:
        return create_customer_row(session, CustomerCreate(**data)).id


def _deliver(
    db: Database,
    org: Org,
    request: DeliveryRequest,
    provider: Any,
    rules: SendRules | None = None,
    now: datetime | None = None,
) -> Any:
    env = DeliveryEnv(
        lambda channel: provider,
        rules or SendRules(),
        Links("https://h.example", "s"),
        now or utcnow(),
    )
    with db.session(org.id) as session:
        return deliver(session, request, env)


def _request(
    org: Org, template_id: uuid.UUID, customer_id: uuid.UUID | None, key: str = "k"
) -> DeliveryRequest:
    return DeliveryRequest(
        organization_id=org.id,
        idempotency_key=key,
        template_id=template_id,
        customer_id=customer_id,
    )


def test_the_same_intent_is_delivered_once(db: Database, org: Org) -> None:
    template, customer = _template(db, org), _customer(db, org)
    provider = RecordingProvider(resend_when_in_doubt=False)
    first = _deliver(db, org, _request(org, template, customer), provider)
    second = _deliver(db, org, _request(org, template, customer), provider)
    assert first == second and first.status is MessageStatus.sent
    assert len(provider.sent) == 1
    assert provider.sent[0].content["subject"] == "Thanks, Mia"
    assert provider.sent[0].message_id == first.message_id  # travels with the message


def test_a_provider_error_then_success_sends_once(db: Database, org: Org) -> None:
    template, customer = _template(db, org), _customer(db, org)
    provider = RecordingProvider(
        resend_when_in_doubt=False,
        fail_with=ProviderError("HTTP 500", retryable=True, retry_after_s=1),
    )
    with pytest.raises(ProviderError):
        _deliver(db, org, _request(org, template, customer), provider)
    outcome = _deliver(db, org, _request(org, template, customer), provider)
    assert outcome.status is MessageStatus.sent and len(provider.sent) == 1
    with db.session(org.id) as session:
        assert session.get(Message, outcome.message_id).attempts == 2  # type: ignore[union-attr]


def test_a_send_whose_outcome_was_lost_is_not_sent_again(db: Database, org: Org) -> None:
    template, customer = _template(db, org), _customer(db, org)
    provider = RecordingProvider(resend_when_in_doubt=False, fail_with=ConnectionResetError())
    with pytest.raises(ConnectionResetError):
        _deliver(db, org, _request(org, template, customer), provider)
    outcome = _deliver(db, org, _request(org, template, customer), provider)
    assert outcome.status is MessageStatus.unknown and "lost" in (outcome.reason or "")
    assert len(provider.sent) == 1


def test_the_outbox_may_record_again_when_in_doubt(db: Database, org: Org) -> None:
    template, customer = _template(db, org), _customer(db, org)
    assert OutboxProvider.resend_when_in_doubt  # nothing leaves the machine
    provider = RecordingProvider(resend_when_in_doubt=True, fail_with=ConnectionResetError())
    with pytest.raises(ConnectionResetError):
        _deliver(db, org, _request(org, template, customer), provider)
    assert (
        _deliver(db, org, _request(org, template, customer), provider).status is MessageStatus.sent
    )


def test_a_message_that_cannot_go_is_skipped_or_failed_with_its_reason(
    db: Database, org: Org
) -> None:
    template = _template(db, org)
    provider = RecordingProvider(resend_when_in_doubt=False)
    no_email = _customer(db, org, emails=[])
    outcome = _deliver(db, org, _request(org, template, no_email, "a"), provider)
    assert (outcome.status, outcome.reason) == (MessageStatus.skipped, "no email address")

    gone = _customer(db, org)
    with db.session(org.id) as session:
        delete_customer(session, gone, actor="test")
    outcome = _deliver(db, org, _request(org, template, gone, "b"), provider)
    assert (outcome.status, outcome.reason) == (MessageStatus.skipped, "customer deleted")

    strict = _template(
        db, org, key="strict", variants={"en": {"subject": "{{ customer.nickname }}", "html": "x"}}
    )
    outcome = _deliver(db, org, _request(org, strict, _customer(db, org), "c"), provider)
    assert outcome.status is MessageStatus.failed and "nickname" in (outcome.reason or "")
    assert provider.sent == []
    with db.session(org.id) as session:
        assert session.scalar(select(func.count()).select_from(Message)) == 3


def test_test_send_goes_through_temporal_to_the_outbox(stack: Stack, org: Org) -> None:
    template = stack.api.post("/v1/templates", json=EMAIL, headers=org.headers()).json()
    customer = create_customer(stack, org, name="Ola Nordmann")
    response = stack.api.post(
        f"/v1/templates/{template['id']}/test-send",
        json={"to": "qa@example.com", "customer_id": customer["id"]},
        headers=org.headers(),
    )
    assert response.status_code == 200, response.text
    message = response.json()
    assert message["status"] == "sent" and message["provider"] == "outbox"
    assert message["recipient"] == "qa@example.com"
    assert message["content"]["subject"] == "Thanks, Ola"
    outbox = stack.api.get("/v1/outbox", headers=org.headers()).json()["items"]
    assert [m["id"] for m in outbox] == [message["id"]]
    runs = stack.api.get("/v1/runs", params={"type": "SendMessage"}, headers=org.headers())
    assert len(runs.json()["items"]) == 1


@pytest.mark.parametrize(
    ("body", "status"),
    [({}, 422), ({"to": "not-an-email"}, 422), ({"customer_id": str(uuid.uuid4())}, 404)],
)
def test_bad_test_sends_are_refused_and_send_nothing(
    stack: Stack, org: Org, body: dict[str, Any], status: int
) -> None:
    template = stack.api.post("/v1/templates", json=EMAIL, headers=org.headers()).json()
    response = stack.api.post(
        f"/v1/templates/{template['id']}/test-send", json=body, headers=org.headers()
    )
    assert response.status_code == status, response.text
    assert stack.api.get("/v1/outbox", headers=org.headers()).json()["items"] == []


def test_messages_are_private_to_their_brand(stack: Stack, org: Org, other_org: Org) -> None:
    template = stack.api.post("/v1/templates", json=EMAIL, headers=org.headers()).json()
    message = stack.api.post(
        f"/v1/templates/{template['id']}/test-send",
        json={"to": "qa@example.com"},
        headers=org.headers(),
    ).json()
    assert (
        stack.api.get(f"/v1/messages/{message['id']}", headers=other_org.headers()).status_code
        == 404
    )
    assert stack.api.get("/v1/outbox", headers=other_org.headers()).json()["items"] == []
    assert (
        stack.api.post(
            f"/v1/templates/{template['id']}/test-send",
            json={"to": "x@example.com"},
            headers=other_org.headers(),
        ).status_code
        == 404
    )
    assert Channel.email.value == message["channel"]


def test_in_app_messages_land_in_the_customer_s_inbox(
    stack: Stack, org: Org, other_org: Org
) -> None:
    in_app = {
        "key": "hello-app",
        "name": "Hello",
        "channel": "in_app",
        "default_locale": "en",
        "category": "transactional",
        "variants": {
            "en": {
                "title": "Hi {{ customer.first_name }}",
                "body": "Welcome",
                "data": {"screen": "home"},
            }
        },
    }
    template = stack.api.post("/v1/templates", json=in_app, headers=org.headers()).json()
    customer = create_customer(stack, org, name="Ivy Chen")
    message = stack.api.post(
        f"/v1/templates/{template['id']}/test-send",
        json={"customer_id": customer["id"]},
        headers=org.headers(),
    ).json()
    assert (message["provider"], message["status"]) == ("inbox", "sent")
    inbox = f"/v1/customers/{customer['id']}/inbox"
    [item] = stack.api.get(inbox, params={"unread": True}, headers=org.headers()).json()["items"]
    assert (item["title"], item["body"], item["data"]) == ("Hi Ivy", "Welcome", {"screen": "home"})
    assert stack.api.get(inbox, headers=other_org.headers()).status_code == 404
    read = stack.api.post(f"{inbox}/{item['id']}/read", headers=org.headers()).json()
    assert read["read_at"] is not None
    assert stack.api.get(f"/v1/messages/{item['id']}", headers=org.headers()).json()["status"] == (
        "opened"
    )
    assert (
        stack.api.get(inbox, params={"unread": True}, headers=org.headers()).json()["items"] == []
    )
    assert (
        stack.api.post(f"{inbox}/{item['id']}/read", headers=other_org.headers()).status_code == 404
    )
