"""Batches: many recipients of one template, SendGrid's personalizations, each message once."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from herald.customers.service import delete_customer
from herald.database import Database
from herald.db import utcnow
from herald.messaging.accounts import providers_for
from herald.messaging.contracts import DeliveryBatch, MessageStatus, Recipient
from herald.messaging.delivery import DeliveryEnv, SendRules, deliver_batch
from herald.messaging.models import Channel, Message, Suppression, SuppressionReason
from herald.messaging.providers import ProviderError
from herald.messaging.schemas import MessagingSettingsIn, TemplateCreate
from herald.messaging.setup import load_messaging_settings, put_messaging_settings
from herald.messaging.templates import create_template
from herald.messaging.unsubscribe import Links
from tests.fakes import FakeProviders
from tests.messaging.test_delivery import RecordingProvider
from tests.seed import seed_email_audience
from tests.support import TO_FAKES, Org

# SQL here differs between SQLite and PostgreSQL: run on both.
pytestmark = pytest.mark.dialects

PROMO = TemplateCreate(
    key="promo",
    name="Promo",
    channel=Channel.email,
    default_locale="en",
    variants={
        "en": {
            "subject": "{{ customer.first_name }}, {{ customer.points }} points",
            "html": '<p>Hi {{ customer.name }}</p><a href="{{ unsubscribe_url }}">Leave</a>',
            "text": "Hi {{ customer.name }}",
        }
    },
)


def _setup(db: Database, org: Org, fake: FakeProviders) -> uuid.UUID:
    with db.session(org.id) as session:
        put_messaging_settings(
            session,
            MessagingSettingsIn(
                email_from="shop@example.com",
                sendgrid_api_key="SG.fake-key",
                sendgrid_host=fake.url,
                postal_address="2 High St",
            ),
            TO_FAKES,
        )
        return create_template(session, PROMO).id


def _batch(org: Org, template: uuid.UUID, customers: list[uuid.UUID]) -> DeliveryBatch:
    return DeliveryBatch(
        organization_id=org.id,
        template_id=template,
        recipients=[Recipient(idempotency_key=f"promo/{c}", customer_id=c) for c in customers],
    )


def _env(session: Session, provider: Any = None) -> DeliveryEnv:
    links = Links("https://h.example", "s")
    settings = load_messaging_settings(session)
    providers = providers_for(session, settings, links.public_url, TO_FAKES)
    return DeliveryEnv(
        (lambda channel: provider) if provider else providers,
        SendRules.of(settings),
        links,
        utcnow(),
    )


def _deliver(
    db: Database, org: Org, template: uuid.UUID, customers: list[uuid.UUID], provider: Any = None
) -> list[Any]:
    with db.session(org.id) as session:
        return deliver_batch(session, _batch(org, template, customers), _env(session, provider))


def test_a_batch_goes_to_sendgrid_as_personalizations_each_recipient_once(
    db: Database, org: Org, fake_providers: FakeProviders
) -> None:
    template = _setup(db, org, fake_providers)
    customers = seed_email_audience(db, org.id, 1_050)
    unconsented = seed_email_audience(db, org.id, 3, consent=False)
    with db.session(org.id) as session:
        address = f"r7-{customers[7].hex[:6]}@example.com"
        session.add(
            Suppression(
                channel=Channel.email, address=address, reason=SuppressionReason.hard_bounce
            )
        )
        delete_customer(session, customers[8], actor="test")
        session.commit()

    everyone = customers + unconsented
    outcomes = _deliver(db, org, template, everyone)
    first = _deliver(db, org, template, everyone)  # the same intents again: nothing new

    assert [o.message_id for o in outcomes] == [o.message_id for o in first]
    reasons = {c: (o.status, o.reason) for c, o in zip(everyone, outcomes, strict=True)}
    assert reasons[customers[7]] == (MessageStatus.skipped, "suppressed: hard_bounce")
    assert reasons[customers[8]] == (MessageStatus.skipped, "customer deleted")
    assert {reasons[c] for c in unconsented} == {(MessageStatus.skipped, "no email consent")}
    sent = [o for o in outcomes if o.status is MessageStatus.sent]
    assert len(sent) == 1_048

    # Two Mail Send requests (SendGrid takes at most 1,000 recipients each), one email each.
    assert len(fake_providers.accepted("/v3/mail/send")) == 2
    emails = fake_providers.emails()
    assert sorted(e["custom_args"]["herald_message_id"] for e in emails) == sorted(
        str(o.message_id) for o in sent
    )
    by_address = {e["to"]: e for e in emails}
    assert len(by_address) == 1_048
    mail = by_address[f"r5-{customers[5].hex[:6]}@example.com"]
    assert mail["subject"] == "Reader, 0 points"
    assert mail["html"].startswith("<p>Hi Reader 5</p>") and "2 High St" in mail["html"]
    assert mail["text"].startswith("Hi Reader 5")
    unsubscribe = mail["headers"]["List-Unsubscribe"].strip("<>")
    assert unsubscribe in mail["html"]  # each recipient's own link, in body and header
    assert by_address[f"r6-{customers[6].hex[:6]}@example.com"]["headers"] != mail["headers"]


def test_a_failed_request_is_retried_without_resending_the_accepted_one(
    db: Database, org: Org, fake_providers: FakeProviders
) -> None:
    template = _setup(db, org, fake_providers)
    customers = seed_email_audience(db, org.id, 1_200)
    fake_providers.failures.extend([None, (503, {})])  # the first request is taken, not the second
    with pytest.raises(ProviderError):
        _deliver(db, org, template, customers)
    assert len(fake_providers.emails()) == 1_000
    outcomes = _deliver(db, org, template, customers)
    assert {o.status for o in outcomes} == {MessageStatus.sent}
    emails = fake_providers.emails()
    assert len(emails) == 1_200 == len({e["to"] for e in emails})


def test_in_a_batch_a_lost_outcome_is_not_resent_and_the_rest_still_go(
    db: Database, org: Org, fake_providers: FakeProviders
) -> None:
    template = _setup(db, org, fake_providers)
    customers = seed_email_audience(db, org.id, 5)
    # The third message reaches the provider and its answer is lost.
    provider = RecordingProvider(
        resend_when_in_doubt=False, fail_with=ConnectionResetError(), fail_after=2
    )
    with pytest.raises(ConnectionResetError):
        _deliver(db, org, template, customers, provider)
    assert len(provider.sent) == 3
    outcomes = _deliver(db, org, template, customers, provider)
    statuses = [o.status for o in outcomes]
    assert statuses == [MessageStatus.sent] * 2 + [MessageStatus.unknown] + [MessageStatus.sent] * 2
    assert len(provider.sent) == 5  # the one in doubt was not sent again
    with db.session(org.id) as session:
        attempts = dict(session.execute(select(Message.customer_id, Message.attempts)).all())
    assert [attempts[c] for c in customers] == [1, 1, 1, 1, 1]


def test_a_batch_another_worker_recorded_meanwhile_is_sent_once(
    db: Database, org: Org, fake_providers: FakeProviders
) -> None:
    if db.engine.dialect.name != "postgresql":
        pytest.skip("SQLite takes its write lock at BEGIN: two batches cannot interleave")
    template = _setup(db, org, fake_providers)
    customers = seed_email_audience(db, org.id, 20)
    with db.session(org.id) as late:
        # This worker's snapshot is taken before the other worker records the batch, so it
        # finds none of the messages and writes them again: the intent key refuses them.
        late.connection(execution_options={"isolation_level": "REPEATABLE READ"})
        late.execute(select(Message.id).limit(1)).all()
        first = _deliver(db, org, template, customers)
        again = deliver_batch(late, _batch(org, template, customers), _env(late))
    assert [o.message_id for o in again] == [o.message_id for o in first]
    assert {o.status for o in again} == {MessageStatus.sent}
    assert len(fake_providers.accepted("/v3/mail/send")) == 1
