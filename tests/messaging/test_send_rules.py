"""Send-time rules: consent, suppression, frequency caps, quiet hours."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from activities.messaging import MessagingActivities
from herald.customers.schemas import CustomerCreate
from herald.customers.service import create_customer
from herald.database import Database
from herald.db import utcnow
from herald.messaging.audience import set_consent, suppress
from herald.messaging.contracts import DeliveryRequest, MessageStatus
from herald.messaging.delivery import DeliveryEnv, SendRules, deliver
from herald.messaging.models import Channel, ConsentStatus, SuppressionReason
from herald.messaging.policy import FrequencyCap, quiet_until
from herald.messaging.providers import OutboxProvider
from herald.messaging.schemas import ConsentIn, MessagingSettingsIn, TemplateCreate
from herald.messaging.setup import put_messaging_settings
from herald.messaging.templates import create_template
from herald.messaging.unsubscribe import Links
from simulator import time_skipping_worker
from tests.support import TO_FAKES, Org, Stack
from workflows.messaging import SendMessage

# SQL here differs between SQLite and PostgreSQL: run on both.
pytestmark = pytest.mark.dialects

LINKS = Links("https://herald.example", "test-secret")
# Marketing email needs the sender's postal address (CAN-SPAM).
RULES = SendRules(postal_address="1 Main St, Springfield")
NEWSLETTER = TemplateCreate(
    key="news",
    name="News",
    channel=Channel.email,
    default_locale="en",
    variants={"en": {"subject": "News for {{ customer.first_name }}", "html": "<p>News</p>"}},
)


def _setup(
    db: Database, org: Org, *, consent: bool = True, **customer: Any
) -> tuple[uuid.UUID, uuid.UUID]:
    with db.session(org.id) as session:
        template = create_template(session, NEWSLETTER).id
        data = {"name": "Kim Lee", "emails": [f"{uuid.uuid4().hex[:8]}@example.com"], **customer}
        customer_id = create_customer(session, CustomerCreate(**data)).id
        if consent:
            set_consent(session, customer_id, ConsentIn(email=ConsentStatus.granted))
    return template, customer_id


def _send(
    db: Database,
    org: Org,
    template: uuid.UUID,
    customer: uuid.UUID,
    key: str,
    rules: SendRules | None = None,
    now: datetime | None = None,
) -> Any:
    request = DeliveryRequest(
        organization_id=org.id, idempotency_key=key, template_id=template, customer_id=customer
    )
    env = DeliveryEnv(lambda c: OutboxProvider(), rules or RULES, LINKS, now or utcnow())
    with db.session(org.id) as session:
        return deliver(session, request, env)


def test_quiet_hours_are_read_in_the_recipient_s_time_zone() -> None:
    start, end = time(21, 0), time(8, 0)
    # 13:30 UTC is 22:30 in Tokyo: inside the window, which ends at 08:00 Tokyo = 23:00 UTC.
    now = datetime(2026, 11, 23, 13, 30, tzinfo=UTC)
    assert quiet_until(now, "Asia/Tokyo", start, end) == datetime(2026, 11, 23, 23, 0, tzinfo=UTC)
    assert quiet_until(now, "Europe/Berlin", start, end) is None  # 14:30 in Berlin
    # 02:00 in New York (07:00 UTC): the window ends at 08:00 the same local day.
    early = datetime(2026, 11, 23, 7, 0, tzinfo=UTC)
    assert quiet_until(early, "America/New_York", start, end) == datetime(
        2026, 11, 23, 13, 0, tzinfo=UTC
    )
    assert quiet_until(now, "Asia/Tokyo", None, None) is None


def test_marketing_needs_consent_at_send_time(db: Database, org: Org) -> None:
    template, customer = _setup(db, org, consent=False)
    outcome = _send(db, org, template, customer, "c1")
    assert (outcome.status, outcome.reason) == (MessageStatus.skipped, "no email consent")
    with db.session(org.id) as session:
        set_consent(session, customer, ConsentIn(email=ConsentStatus.granted))
    assert _send(db, org, template, customer, "c2").status is MessageStatus.sent
    with db.session(org.id) as session:
        set_consent(session, customer, ConsentIn(email=ConsentStatus.revoked))
    assert _send(db, org, template, customer, "c3").status is MessageStatus.skipped


def test_a_suppressed_address_gets_nothing(db: Database, org: Org) -> None:
    template, customer = _setup(db, org)
    with db.session(org.id) as session:
        from herald.customers.models import Customer

        address = session.get(Customer, customer).primary_email  # type: ignore[union-attr]
        suppress(session, Channel.email, address.upper(), SuppressionReason.hard_bounce)  # type: ignore[union-attr]
    outcome = _send(db, org, template, customer, "s1")
    assert (outcome.status, outcome.reason) == (MessageStatus.skipped, "suppressed: hard_bounce")


def test_the_frequency_cap_skips_with_its_reason(db: Database, org: Org) -> None:
    template, customer = _setup(db, org)
    rules = SendRules(
        frequency_caps=(FrequencyCap(channel=Channel.email, max_messages=2, window_hours=24),),
        postal_address="1 Main St",
    )
    statuses = [_send(db, org, template, customer, f"f{i}", rules) for i in range(3)]
    assert [s.status for s in statuses] == [
        MessageStatus.sent,
        MessageStatus.sent,
        MessageStatus.skipped,
    ]
    assert statuses[2].reason == "frequency cap: 2 email per 24h"
    tomorrow = utcnow() + timedelta(hours=25)
    assert _send(db, org, template, customer, "f3", rules, tomorrow).status is MessageStatus.sent


async def test_quiet_hours_defer_a_send_and_never_drop_it(db: Database, org: Org) -> None:
    template, customer = _setup(db, org, timezone="Asia/Tokyo")
    now = datetime.now(UTC).astimezone(ZoneInfo("Asia/Tokyo"))
    # A window that started an hour ago and ends in three hours, Tokyo time.
    start = (now - timedelta(hours=1)).time().replace(second=0, microsecond=0)
    end = (now + timedelta(hours=3)).time().replace(second=0, microsecond=0)
    with db.session(org.id) as session:
        put_messaging_settings(
            session,
            MessagingSettingsIn(
                quiet_hours_start=start, quiet_hours_end=end, postal_address="1 Main St"
            ),
            TO_FAKES,
        )
    activities = MessagingActivities(db, Links("http://127.0.0.1:8000", "test-secret"), TO_FAKES)
    async with time_skipping_worker("quiet", [SendMessage], [activities.deliver_message]) as env:
        client = env.client
        handle = await client.start_workflow(
            SendMessage.run,
            DeliveryRequest(
                organization_id=org.id,
                idempotency_key="quiet-1",
                template_id=template,
                customer_id=customer,
            ),
            id=f"quiet-{uuid.uuid4()}",
            task_queue="quiet",
        )
        outcome = await handle.result()
        run = await handle.describe()
    assert outcome.status is MessageStatus.sent
    assert run.close_time is not None
    held = run.close_time - run.start_time
    assert timedelta(hours=2, minutes=55) <= held <= timedelta(hours=3, minutes=5)


def test_consent_and_suppressions_over_the_api(stack: Stack, org: Org, other_org: Org) -> None:
    customer = stack.api.post(
        "/v1/customers", json={"name": "Ana", "emails": ["ana@example.com"]}, headers=org.headers()
    ).json()
    path = f"/v1/customers/{customer['id']}/consent"
    put = stack.api.put(path, json={"email": "granted", "sms": "revoked"}, headers=org.headers())
    assert put.status_code == 200
    assert put.json()["channels"] == {"email": "granted", "sms": "revoked"}
    assert stack.api.get(path, headers=other_org.headers()).status_code == 404
    added = stack.api.post(
        "/v1/suppressions",
        json={"channel": "email", "address": "Ana@Example.com"},
        headers=org.headers(),
    )
    assert added.status_code == 201 and added.json()["reason"] == "manual"
    assert (
        stack.api.post(
            "/v1/suppressions",
            json={"channel": "email", "address": "ana@example.com"},
            headers=org.headers(),
        ).status_code
        == 409
    )
    assert (
        stack.api.post(
            "/v1/suppressions", json={"channel": "sms", "address": "12"}, headers=org.headers()
        ).status_code
        == 422
    )
    assert stack.api.get("/v1/suppressions", headers=other_org.headers()).json()["items"] == []
    assert (
        stack.api.delete(
            f"/v1/suppressions/{added.json()['id']}", headers=other_org.headers()
        ).status_code
        == 404
    )
    assert (
        stack.api.delete(
            f"/v1/suppressions/{added.json()['id']}", headers=org.headers()
        ).status_code
        == 204
    )
