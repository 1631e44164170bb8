"""Journeys under time skipping: weeks of drip in seconds, every step type, what went out when."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select
from temporalio.testing import WorkflowEnvironment

from activities.journeys import JourneyActivities
from herald.customers.schemas import CustomerCreate
from herald.customers.service import create_customer, get_customer
from herald.database import Database
from herald.journeys.contracts import EnrollmentStatus, JourneyEvent, JourneyProgress
from herald.journeys.definition import JourneyDefinition
from herald.journeys.files import install_examples
from herald.journeys.models import JourneyEnrollment
from herald.journeys.schemas import JourneyCreate
from herald.journeys.service import create_journey, get_journey, publish
from herald.journeys.triggers import journey_start
from herald.loyalty.schemas import LoyaltySettingsIn
from herald.loyalty.service import customer_points, put_settings
from herald.messaging.audience import set_consent
from herald.messaging.models import Channel, ConsentStatus, Message
from herald.messaging.schemas import ConsentIn, MessagingSettingsIn, TemplateCreate
from herald.messaging.setup import put_messaging_settings
from herald.messaging.templates import create_template
from herald.messaging.unsubscribe import Links
from simulator import time_skipping_worker
from tests.fakes import FakeProviders
from tests.support import TO_FAKES, Org
from workflows.journeys import JourneyRun

# SQL here differs between SQLite and PostgreSQL: run on both.
pytestmark = pytest.mark.dialects

QUEUE = "journeys"
TEMPLATES = ("welcome", "vip", "tip", "thanks", "nudge")

ONBOARDING: dict[str, Any] = {
    "name": "Onboarding",
    "trigger": {"event": "customer.signed_up"},
    "goal": {"event": "order.paid", "within": "P14D", "exit_on_conversion": False},
    "steps": [
        {
            "id": "welcome",
            "type": "send",
            "channel": "email",
            "template": "welcome",
            "next": "wait",
        },
        {"id": "wait", "type": "wait", "duration": "P2D", "next": "vip"},
        {
            "id": "vip",
            "type": "branch",
            "condition": {"tag": "vip"},
            "then": "vip-offer",
            "else": "split",
        },
        {
            "id": "vip-offer",
            "type": "send",
            "channel": "email",
            "template": "vip",
            "next": "points",
        },
        {
            "id": "split",
            "type": "random_split",
            "paths": [{"weight": 1, "next": "tip"}, {"weight": 1, "next": "tag-b"}],
        },
        {"id": "tip", "type": "send", "channel": "email", "template": "tip", "next": "points"},
        {"id": "tag-b", "type": "update", "add_tags": ["path-b"], "next": "points"},
        {
            "id": "points",
            "type": "award_points",
            "points": 50,
            "reason": "welcome gift",
            "next": "order",
        },
        {
            "id": "order",
            "type": "wait_for_event",
            "event": "order.paid",
            "timeout": "P7D",
            "on_event": "thanks",
            "on_timeout": "nudge",
        },
        {"id": "thanks", "type": "send", "channel": "email", "template": "thanks", "next": None},
        {"id": "nudge", "type": "send", "channel": "email", "template": "nudge", "next": "mark"},
        {"id": "mark", "type": "update", "set_attributes": {"nudged": True}, "next": "done"},
        {"id": "done", "type": "exit"},
    ],
}


def _setup(db: Database, org: Org, definition: dict[str, Any], key: str = "onboarding") -> None:
    with db.session(org.id) as session:
        put_messaging_settings(session, MessagingSettingsIn(postal_address="1 Main St"), TO_FAKES)
        for name in TEMPLATES:
            create_template(
                session,
                TemplateCreate(
                    key=name,
                    name=name,
                    channel=Channel.email,
                    default_locale="en",
                    variants={
                        "en": {"subject": f"{name} {{{{ customer.first_name }}}}", "html": "x"}
                    },
                ),
            )
        create_journey(
            session, JourneyCreate(key=key, definition=JourneyDefinition.model_validate(definition))
        )
        publish(session, key, may_publish_effects=True)


def _customer(db: Database, org: Org, **fields: Any) -> uuid.UUID:
    with db.session(org.id) as session:
        data = {"name": "Noor Haddad", "emails": [f"{uuid.uuid4().hex[:8]}@example.com"], **fields}
        customer = create_customer(session, CustomerCreate(**data))
        set_consent(session, customer.id, ConsentIn(email=ConsentStatus.granted))
        return customer.id


def _event(kind: str, at: datetime, **properties: Any) -> JourneyEvent:
    return JourneyEvent(id=uuid.uuid4(), type=kind, properties=properties, occurred_at=at)


@asynccontextmanager
async def _journeys(db: Database) -> AsyncIterator[WorkflowEnvironment]:
    activities = JourneyActivities(db, Links("http://127.0.0.1:8000", "test-secret"), TO_FAKES)
    async with time_skipping_worker(QUEUE, [JourneyRun], activities.all_activities()) as env:
        yield env


async def _start(
    env: WorkflowEnvironment,
    db: Database,
    org: Org,
    customer: uuid.UUID,
    key: str = "onboarding",
    trigger_type: str = "customer.signed_up",
    **properties: Any,
) -> Any:
    """Start a run the way event dispatch does: signal-with-start carrying the trigger."""
    with db.session(org.id) as session:
        start = journey_start(get_journey(session, key), customer, None)
    now = await env.get_current_time()
    trigger = _event(trigger_type, now, **properties)
    return await env.client.start_workflow(
        JourneyRun.run,
        start.arg.model_copy(update={"trigger": trigger}),  # type: ignore[attr-defined]
        id=start.workflow_id,
        task_queue=QUEUE,
        start_signal="event",
        start_signal_args=[trigger],
    )


def _sent(db: Database, org: Org, customer: uuid.UUID) -> list[str]:
    with db.session(org.id) as session:
        rows = session.scalars(
            select(Message).where(Message.customer_id == customer).order_by(Message.created_at)
        )
        return [m.content["subject"].split(" ")[0] for m in rows if m.status.value == "sent"]


def _when(progress: JourneyProgress, what: str) -> timedelta:
    """How long after entry the timeline shows ``what``."""
    entered = progress.timeline[0].at
    return next(e.at for e in progress.timeline if what in e.what) - entered


async def test_a_customer_who_never_orders_gets_the_whole_series_over_nine_days(
    db: Database, org: Org
) -> None:
    _setup(db, org, ONBOARDING)
    customer = _customer(db, org)
    async with _journeys(db) as env:
        handle = await _start(env, db, org, customer)
        result = await handle.result()
        progress: JourneyProgress = await handle.query(JourneyRun.progress)
    assert (result.status, result.reason, result.converted) == ("exited", "exit step: done", False)
    sent = _sent(db, org, customer)
    assert sent[0] == "welcome" and sent[-1] == "nudge"
    assert sent[1:-1] in (["tip"], [])  # the random split: a tip, or the tag on path B
    assert timedelta(0) <= _when(progress, "email welcome") < timedelta(minutes=1)
    assert timedelta(days=2) <= _when(progress, "condition not met") < timedelta(days=2, minutes=1)
    assert timedelta(days=9) <= _when(progress, "email nudge") < timedelta(days=9, minutes=1)
    with db.session(org.id) as session:
        profile = get_customer(session, customer)
        assert profile.attributes["nudged"] is True
        assert ({t.tag for t in profile.tags} == {"path-b"}) == (sent[1:-1] == [])
        enrollment = session.scalars(select(JourneyEnrollment)).one()
        assert enrollment.status is EnrollmentStatus.exited and enrollment.version == 1
    with db.session(org.id) as session:
        assert customer_points(session, customer).balance == 50


async def test_a_vip_who_orders_on_day_four_gets_the_offer_then_thanks_and_converts(
    db: Database, org: Org
) -> None:
    _setup(db, org, ONBOARDING)
    customer = _customer(db, org, tags=["vip"])
    async with _journeys(db) as env:
        handle = await _start(env, db, org, customer)
        await env.sleep(timedelta(days=4))
        await handle.signal(JourneyRun.on_event, _event("order.paid", await env.get_current_time()))
        result = await handle.result()
        progress: JourneyProgress = await handle.query(JourneyRun.progress)
    assert (result.status, result.converted) == ("completed", True)
    assert _sent(db, org, customer) == ["welcome", "vip", "thanks"]
    assert timedelta(days=2) <= _when(progress, "email vip") < timedelta(days=2, minutes=1)
    ordered = _when(progress, "email thanks")  # the order came four days after the signup
    assert timedelta(days=4) - timedelta(minutes=1) < ordered < timedelta(days=4, minutes=1)
    with db.session(org.id) as session:
        enrollment = session.scalars(select(JourneyEnrollment)).one()
        assert enrollment.status is EnrollmentStatus.completed
        assert enrollment.converted_at is not None


async def _run_alone(
    db: Database, org: Org, definition: dict[str, Any], **customer: Any
) -> tuple[Any, JourneyProgress, uuid.UUID]:
    """Publish ``definition`` as the onboarding journey and run one customer through it."""
    _setup(db, org, definition)
    customer_id = _customer(db, org, **customer)
    async with _journeys(db) as env:
        handle = await _start(env, db, org, customer_id)
        result = await handle.result()
        progress: JourneyProgress = await handle.query(JourneyRun.progress)
    return result, progress, customer_id


async def test_waits_until_a_local_time_of_day_and_a_date_attribute(db: Database, org: Org) -> None:
    definition = {
        "name": "Renewal",
        "steps": [
            {"id": "morning", "type": "wait", "until_time": "09:00", "next": "hello"},
            {
                "id": "hello",
                "type": "send",
                "channel": "email",
                "template": "welcome",
                "next": "before",
            },
            {
                "id": "before",
                "type": "wait",
                "until_attribute": "renews_on",
                "offset": "-P3D",
                "next": "remind",
            },
            {"id": "remind", "type": "send", "channel": "email", "template": "nudge", "next": None},
        ],
    }
    renews = (datetime.now(UTC) + timedelta(days=20)).date().isoformat()
    result, progress, customer = await _run_alone(
        db, org, definition, timezone="Asia/Tokyo", attributes={"renews_on": renews}
    )
    assert result.status == "completed"
    tokyo = ZoneInfo("Asia/Tokyo")
    hello = next(e.at for e in progress.timeline if "email welcome" in e.what)
    assert hello.astimezone(tokyo).time().replace(microsecond=0) >= time(9, 0)
    assert hello.astimezone(tokyo).time() < time(9, 1)
    assert hello - progress.timeline[0].at <= timedelta(days=1)
    remind = next(e.at for e in progress.timeline if "email nudge" in e.what)
    expected = datetime.combine(date.fromisoformat(renews) - timedelta(days=3), time(0), tokyo)
    assert timedelta(0) <= remind - expected < timedelta(minutes=1)
    assert _sent(db, org, customer) == ["welcome", "nudge"]


async def test_a_missing_date_attribute_means_no_wait(db: Database, org: Org) -> None:
    definition = {
        "name": "No date",
        "steps": [
            {"id": "before", "type": "wait", "until_attribute": "renews_on", "next": "remind"},
            {"id": "remind", "type": "send", "channel": "email", "template": "nudge", "next": None},
        ],
    }
    result, progress, _ = await _run_alone(db, org, definition)
    assert result.status == "completed" and _when(progress, "email nudge") < timedelta(minutes=1)
    assert any(e.what == "nothing to wait for" for e in progress.timeline)


async def test_a_webhook_step_posts_the_run_and_the_journey_goes_on_when_it_fails(
    db: Database, org: Org, fake_providers: FakeProviders
) -> None:
    definition = {
        "name": "Hooks",
        "steps": [
            {
                "id": "crm",
                "type": "webhook",
                "url": f"{fake_providers.url}/hooks/crm",
                "next": "bad",
            },
            {
                "id": "bad",
                "type": "webhook",
                "url": f"{fake_providers.url}/hooks/bad",
                "next": "metadata",
            },
            # Inside the network: refused before any connection, not retried.
            {
                "id": "metadata",
                "type": "webhook",
                "url": "http://169.254.169.254/latest/meta-data/",
                "next": "end",
            },
            {"id": "end", "type": "send", "channel": "email", "template": "thanks", "next": None},
        ],
    }
    # The first hook answers after one 503; the second refuses with 404: not retried.
    fake_providers.failures.extend([(503, {}), None, (404, {})])
    result, progress, customer = await _run_alone(db, org, definition)
    assert result.status == "completed" and _sent(db, org, customer) == ["thanks"]
    hooks = [r for r in fake_providers.requests if r.path.startswith("/hooks/")]
    assert [(r.path, r.accepted) for r in hooks] == [
        ("/hooks/crm", False),
        ("/hooks/crm", True),
        ("/hooks/bad", False),
    ]
    assert hooks[1].body["customer_id"] == str(customer) and hooks[1].body["step"] == "crm"
    assert any("webhook failed" in e.what and "404" in e.what for e in progress.timeline)
    assert any("webhook failed" in e.what and "private" in e.what for e in progress.timeline)


async def test_a_rate_limit_lets_one_customer_a_day_through(db: Database, org: Org) -> None:
    definition = {
        "name": "Trickle",
        "steps": [
            {"id": "gate", "type": "rate_limit", "max_customers": 1, "period": "P1D", "next": "hi"},
            {"id": "hi", "type": "send", "channel": "email", "template": "welcome", "next": None},
        ],
    }
    _setup(db, org, definition)
    customers = [_customer(db, org) for _ in range(3)]
    async with _journeys(db) as env:
        handles = [await _start(env, db, org, c) for c in customers]
        started = await env.get_current_time()
        for handle in handles:
            await handle.result()
        sends = []
        for handle in handles:
            progress: JourneyProgress = await handle.query(JourneyRun.progress)
            sends.append(next(e.at for e in progress.timeline if "email welcome" in e.what))
    # Periods are fixed windows (UTC days here): one customer in each of three.
    days = sorted((at.date() - started.date()).days for at in sends)
    assert days == [0, 1, 2]


async def _example(
    db: Database,
    org: Org,
    key: str,
    trigger: str,
    later: list[tuple[timedelta, str]] = [],  # noqa: B006 - read only
    **customer: Any,
) -> tuple[Any, JourneyProgress, uuid.UUID]:
    """Run one customer through an example journey, posting ``later`` events at their times."""
    with db.session(org.id) as session:
        put_messaging_settings(session, MessagingSettingsIn(postal_address="1 Main St"), TO_FAKES)
        install_examples(session)
    customer_id = _customer(db, org, **customer)
    async with _journeys(db) as env:
        handle = await _start(env, db, org, customer_id, key, trigger, order_id="A-1")
        started = await env.get_current_time()
        for at, kind in later:
            await env.sleep(at - (await env.get_current_time() - started))
            await handle.signal(JourneyRun.on_event, _event(kind, await env.get_current_time()))
        result = await handle.result()
        progress: JourneyProgress = await handle.query(JourneyRun.progress)
    return result, progress, customer_id


def _sends(progress: JourneyProgress) -> list[tuple[str, int]]:
    """(template, whole hours after entry) for every email the run sent."""
    entered = progress.timeline[0].at
    return [
        (e.what.split(" ")[1].rstrip(":"), round((e.at - entered).total_seconds() / 3600))
        for e in progress.timeline
        if e.what.startswith("email ") and e.what.endswith(": sent")
    ]


async def test_example_welcome_series_for_a_customer_who_does_not_order(
    db: Database, org: Org
) -> None:
    result, progress, _ = await _example(db, org, "welcome-series", "newsletter.subscribed")
    assert result.status == "completed" and not result.converted
    assert _sends(progress) == [("welcome", 0), ("first-order-nudge", 48), ("loyalty-intro", 120)]


async def test_example_review_request_rewards_a_review(db: Database, org: Org) -> None:
    result, progress, customer = await _example(
        db, org, "post-purchase-review", "order.paid", [(timedelta(days=8), "review.submitted")]
    )
    assert result.status == "completed"
    assert _sends(progress) == [("review-request", 168), ("review-thanks", 192)]
    with db.session(org.id) as session:
        assert customer_points(session, customer).balance == 20
    with db.session(org.id) as session:
        request = session.scalars(
            select(Message).where(Message.customer_id == customer).order_by(Message.created_at)
        ).first()
        assert (
            request is not None and request.content["subject"] == "How is order A-1?"
        )  # the trigger's properties


async def test_example_cart_abandonment_stops_when_the_order_comes(db: Database, org: Org) -> None:
    result, progress, _ = await _example(
        db, org, "cart-abandonment", "cart.abandoned", [(timedelta(hours=5), "order.paid")]
    )
    assert (result.status, result.reason, result.converted) == (
        "exited",
        "converted: order.paid",
        True,
    )
    assert _sends(progress) == [("cart-reminder", 1)]


async def test_example_win_back_tags_a_customer_who_stays_away(db: Database, org: Org) -> None:
    result, progress, customer = await _example(db, org, "win-back", "customer.inactive")
    assert result.status == "completed"
    assert _sends(progress) == [("we-miss-you", 0)]  # no points, so no points reminder
    with db.session(org.id) as session:
        assert {t.tag for t in get_customer(session, customer).tags} == {"lapsed"}


async def test_a_long_running_loop_continues_as_new_and_keeps_its_place(
    db: Database, org: Org
) -> None:
    definition = {
        "name": "Heartbeat",
        "exit_on": [{"event": "customer.unsubscribed"}],
        "steps": [
            {"id": "tick", "type": "wait", "duration": "PT1M", "next": "note"},
            {"id": "note", "type": "update", "add_tags": ["ticked"], "next": "tick"},
        ],
    }
    _setup(db, org, definition)
    customer = _customer(db, org)
    async with _journeys(db) as env:
        handle = await _start(env, db, org, customer)
        first_run = (await handle.describe()).run_id
        for _ in range(4):  # ~960 loops in all: more history than one run keeps
            # In steps: one sleep is one call to the test server, which gives up after 30 s.
            await env.sleep(timedelta(hours=4))
        await handle.signal(
            JourneyRun.on_event, _event("customer.unsubscribed", await env.get_current_time())
        )
        result = await handle.result()
        first = await env.client.get_workflow_handle(handle.id, run_id=first_run).describe()
        progress: JourneyProgress = await handle.query(JourneyRun.progress)
    assert first.status is not None and first.status.name == "CONTINUED_AS_NEW"
    assert (result.status, result.reason) == ("exited", "exit event: customer.unsubscribed")
    assert progress.timeline[-1].what == "exit event: customer.unsubscribed"
    with db.session(org.id) as session:
        enrollment = session.scalars(select(JourneyEnrollment)).one()  # one pass, many runs
        assert enrollment.status is EnrollmentStatus.exited


async def test_a_looping_journey_awards_no_more_than_the_program_allows_per_run(
    db: Database, org: Org
) -> None:
    """A loop that awards points on every pass stops awarding at the program's cap per run."""
    with db.session(org.id) as session:
        put_settings(
            session, LoyaltySettingsIn(points_per_unit=Decimal(1), journey_points_per_run=120)
        )
    definition = {
        "name": "Drip of points",
        "exit_on": [{"event": "customer.unsubscribed"}],
        "steps": [
            {"id": "tick", "type": "wait", "duration": "PT1H", "next": "gift"},
            {"id": "gift", "type": "award_points", "points": 50, "reason": "loop", "next": "tick"},
        ],
    }
    _setup(db, org, definition)
    customer = _customer(db, org)
    async with _journeys(db) as env:
        handle = await _start(env, db, org, customer)
        await env.sleep(timedelta(hours=6))  # six passes through the award
        await handle.signal(
            JourneyRun.on_event, _event("customer.unsubscribed", await env.get_current_time())
        )
        await handle.result()
    with db.session(org.id) as session:
        assert customer_points(session, customer).balance == 120  # 50 + 50 + 20, then nothing
