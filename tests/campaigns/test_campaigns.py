"""Campaign sends: an A/B test decided by clicks under time skipping, pause / resume / cancel
through the API, and exactly one message per recipient while the worker keeps dying."""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from collections import Counter
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select
from temporalio.client import WorkflowFailureError
from temporalio.testing import WorkflowEnvironment

from activities.campaigns import CampaignActivities
from herald.access.models import Role
from herald.analytics.rollup import attribute_new_orders
from herald.campaigns.contracts import CampaignSendInput, campaign_workflow_id
from herald.database import Database
from herald.devserver import free_port, wait_for_port
from herald.messaging.models import Message
from herald.messaging.unsubscribe import Links
from herald.settings import Settings
from herald.temporal import connect
from simulator import time_skipping_worker
from tests.fakes import FakeProviders, SendGridSigner
from tests.seed import seed_email_audience
from tests.support import (
    TEST_SECRET,
    TO_FAKES,
    Org,
    Stack,
    TemporalServer,
    api_process,
    herald_env,
    order_paid,
    wait_until,
    worker_process,
)
from workflows.campaigns import CampaignSend

# SQL here differs between SQLite and PostgreSQL: run on both.
pytestmark = pytest.mark.dialects

QUEUE = "campaigns"


def _template(stack: Stack, org: Org, key: str, subject: str) -> None:
    body = {
        "key": key,
        "name": subject,
        "channel": "email",
        "category": "marketing",
        "default_locale": "en",
        "variants": {
            "en": {
                "subject": subject,
                "html": '<p>Hi {{ customer.first_name }}, <a href="https://shop.example/spring">'
                "see the collection</a></p>",
            }
        },
    }
    response = stack.api.post("/v1/templates", json=body, headers=org.headers())
    assert response.status_code == 201, response.text


def _settings(stack: Stack, org: Org, **fields: Any) -> None:
    body = {"postal_address": "1 Harbour Road, Bristol", **fields}
    response = stack.api.put("/v1/messaging/settings", json=body, headers=org.headers())
    assert response.status_code == 200, response.text


def _campaign(stack: Stack, org: Org, **fields: Any) -> dict[str, Any]:
    body = {
        "key": f"spring-{uuid.uuid4().hex[:6]}",
        "name": "Spring collection",
        "channel": "email",
        "audience": {"segment": "readers"},
        "variants": [{"name": "A", "template": "spring-a"}, {"name": "B", "template": "spring-b"}],
        **fields,
    }
    response = stack.api.post("/v1/campaigns", json=body, headers=org.headers(), timeout=60)
    assert response.status_code == 201, response.text
    return response.json()  # type: ignore[no-any-return]


def _audience(stack: Stack, db: Database, org: Org, count: int) -> list[uuid.UUID]:
    """``count`` readers with email consent, and the segment that holds them."""
    ids = seed_email_audience(db, org.id, count)
    segment = {"key": "readers", "name": "Readers", "rule": {"consent": "email"}}
    response = stack.api.post("/v1/segments", json=segment, headers=org.headers())
    assert response.status_code == 201, response.text
    for key, subject in (("spring-a", "Spring is here"), ("spring-b", "New in: spring")):
        _template(stack, org, key, subject)
    return ids


@asynccontextmanager
async def _campaign_worker(stack: Stack) -> AsyncIterator[WorkflowEnvironment]:
    activities = CampaignActivities(
        stack.db, Links("http://127.0.0.1:8000", "test-secret"), TO_FAKES
    )
    async with time_skipping_worker(QUEUE, [CampaignSend], activities.all_activities()) as env:
        yield env


async def _start(
    env: WorkflowEnvironment, org: Org, campaign: dict[str, Any], **options: Any
) -> Any:
    return await env.client.start_workflow(
        CampaignSend.run,
        CampaignSendInput(organization_id=org.id, campaign_id=uuid.UUID(campaign["id"]), **options),
        id=campaign_workflow_id(org.id, uuid.UUID(campaign["id"])),
        task_queue=QUEUE,
    )


async def _progress_until(handle: Any, what: Callable[[Any], bool], timeout_s: float = 60) -> None:
    """Poll the run's progress query (which does not move a time-skipping clock)."""
    deadline = asyncio.get_running_loop().time() + timeout_s
    while not what(await handle.query(CampaignSend.progress)):
        assert asyncio.get_running_loop().time() < deadline, "the run never got there"
        await asyncio.sleep(0.1)


def _click(stack: Stack, org: Org, signer: SendGridSigner, emails: list[dict[str, Any]]) -> None:
    """SendGrid reports these emails clicked, through the signed Event Webhook."""
    events = [
        {
            "sg_event_id": uuid.uuid4().hex,
            "event": "click",
            "email": e["to"],
            "url": "https://shop.example/spring",
            "herald_message_id": e["custom_args"]["herald_message_id"],
        }
        for e in emails
    ]
    body = json.dumps(events).encode()
    path = f"/v1/webhooks/sendgrid/{org.slug}"
    assert stack.api.post(path, content=body, headers=signer.headers(body)).status_code == 204


def _sendgrid(stack: Stack, org: Org, fake: FakeProviders, signer: SendGridSigner) -> None:
    _settings(
        stack,
        org,
        email_from="news@shop.example",
        sendgrid_api_key="SG.fake-key",
        sendgrid_host=fake.url,
        sendgrid_webhook_public_key=signer.public_key,
    )


async def test_the_variant_with_more_clicks_wins_and_the_rest_get_only_it(
    stack: Stack, org: Org, fake_providers: FakeProviders
) -> None:
    signer = SendGridSigner()
    _sendgrid(stack, org, fake_providers, signer)
    _audience(stack, stack.db, org, 200)
    campaign = _campaign(stack, org, ab={"test_fraction": 0.2, "metric": "click", "window": "PT4H"})
    async with _campaign_worker(stack) as env:
        handle = await _start(env, org, campaign)
        # The test group gets its variants; the window then holds the run (the clock is not
        # moved on while nobody awaits the result).
        await _progress_until(handle, lambda state: state.phase == "window")
        test_group = fake_providers.emails()
        assert len(test_group) == 40
        by_subject = Counter(e["subject"] for e in test_group)
        assert by_subject == {"Spring is here": 20, "New in: spring": 20}
        a = [e for e in test_group if e["subject"] == "Spring is here"]
        b = [e for e in test_group if e["subject"] == "New in: spring"]
        _click(stack, org, signer, b[:12] + a[:2])
        wait_until(lambda: _shown(stack, org, campaign)["status"] == "testing")
        result = await handle.result()
    assert (result.status, result.winner) == ("completed", "B")
    emails = fake_providers.emails()
    assert len(emails) == 200
    assert max(Counter(e["to"] for e in emails).values()) == 1  # nobody got it twice
    remainder = emails[40:]
    assert {e["subject"] for e in remainder} == {"New in: spring"}
    analytics = _shown_analytics(stack, org, campaign)
    decision = analytics["decision"]
    assert analytics["winner"] == "B" and decision["significant"] is True
    assert decision["p_value"] < 0.05
    assert {r["variant"]: r["successes"] for r in decision["results"]} == {"A": 2, "B": 12}
    # The winner was decided once the four hours were over, on the workflow's clock.
    started = datetime.fromisoformat(
        stack.api.get(f"/v1/campaigns/{campaign['key']}", headers=org.headers()).json()[
            "started_at"
        ]
    )
    assert datetime.fromisoformat(decision["decided_at"]) - started >= timedelta(hours=4)
    variants = {v["variant"]: v for v in analytics["variants"]}
    assert (variants["A"]["sent"], variants["B"]["sent"]) == (20, 180)
    assert variants["B"]["clicked"]["count"] == 12
    low, high = variants["B"]["clicked"]["low"], variants["B"]["clicked"]["high"]
    assert low < 12 / 180 < high
    # Three of B's clickers order and one unsubscribes: both counted for B, the orders
    # attributed to the clicks (last touch) with their money.
    with stack.db.session(org.id) as session:
        recipients = {
            message_id: customer_id
            for message_id, customer_id in session.execute(
                select(Message.id, Message.customer_id).where(
                    Message.id.in_([uuid.UUID(e["custom_args"]["herald_message_id"]) for e in b])
                )
            )
        }
    buyers = [recipients[uuid.UUID(e["custom_args"]["herald_message_id"])] for e in b]
    for n, buyer in enumerate(buyers[:3]):
        event = order_paid(str(buyer), f"campaign-order-{n}", "25.00", currency="USD")
        assert stack.api.post("/v1/events", json=event, headers=org.headers()).status_code == 202
    with stack.db.session(org.id) as session:
        assert attribute_new_orders(session) == 3
    revoked = stack.api.put(
        f"/v1/customers/{buyers[3]}/consent", json={"email": "revoked"}, headers=org.headers()
    )
    assert revoked.status_code == 200, revoked.text
    variants = {v["variant"]: v for v in _shown_analytics(stack, org, campaign)["variants"]}
    assert (variants["B"]["converted"]["count"], variants["A"]["converted"]["count"]) == (3, 0)
    assert (variants["B"]["orders"], variants["B"]["revenue"]) == (3.0, "75.00")
    assert variants["B"]["revenue_per_recipient"] == "0.42"  # 75 over 180 recipients
    assert (variants["B"]["unsubscribed"]["count"], variants["A"]["unsubscribed"]["count"]) == (
        1,
        0,
    )


def _shown(stack: Stack, org: Org, campaign: dict[str, Any]) -> dict[str, Any]:
    response = stack.api.get(f"/v1/campaigns/{campaign['id']}", headers=org.headers())
    assert response.status_code == 200, response.text
    return response.json()  # type: ignore[no-any-return]


def _act(stack: Stack, org: Org, campaign: dict[str, Any], action: str) -> Any:
    return stack.api.post(
        f"/v1/campaigns/{campaign['id']}/{action}", headers=org.headers(Role.marketing)
    )


def _handed(stack: Stack, org: Org, campaign: dict[str, Any]) -> int:
    return int(_shown(stack, org, campaign)["progress"]["handed_over"])


def test_pause_holds_resume_finishes_and_cancel_stops(stack: Stack, org: Org) -> None:
    _settings(stack, org)  # the local outbox
    _audience(stack, stack.db, org, 200)
    paced = {"variants": [{"name": "A", "template": "spring-a"}], "rate_limit_per_s": 25}
    first = _campaign(stack, org, **paced)
    assert _act(stack, org, first, "send").status_code == 202
    wait_until(lambda: _handed(stack, org, first) >= 50)
    assert _act(stack, org, first, "pause").status_code == 202
    wait_until(lambda: _shown(stack, org, first)["status"] == "paused")
    held = _handed(stack, org, first)
    time.sleep(2)  # at 25/s, two seconds would have sent 50 more
    assert _handed(stack, org, first) == held < 200
    assert _act(stack, org, first, "pause").status_code == 409  # already paused
    assert _act(stack, org, first, "resume").status_code == 202
    done = wait_until(lambda: (c := _shown(stack, org, first))["status"] == "completed" and c)
    assert done["progress"]["by_status"] == {"sent": 200}

    second = _campaign(stack, org, key="spring-second", **paced)
    _act(stack, org, second, "send")
    wait_until(lambda: _handed(stack, org, second) >= 50)
    assert _act(stack, org, second, "cancel").status_code == 202
    wait_until(lambda: _shown(stack, org, second)["status"] == "cancelled")
    stopped = _handed(stack, org, second)
    time.sleep(1)
    assert _handed(stack, org, second) == stopped < 200
    assert _act(stack, org, second, "resume").status_code == 409
    with stack.db.session(org.id) as session:  # one message per campaign and reader, no more
        per_customer = session.execute(
            select(Message.customer_id, func.count()).group_by(Message.customer_id)
        ).all()
    assert len(per_customer) == 200
    assert Counter(n for _, n in per_customer) == {2: stopped, 1: 200 - stopped}


def test_a_scheduled_campaign_waits_for_its_time_and_can_be_cancelled(
    stack: Stack, org: Org
) -> None:
    _settings(stack, org)
    _audience(stack, stack.db, org, 5)
    later = (datetime.now(UTC) + timedelta(days=2)).isoformat()
    campaign = _campaign(stack, org, send_at=later)
    assert _act(stack, org, campaign, "send").json()["status"] == "scheduled"
    assert _act(stack, org, campaign, "send").status_code == 409  # sent once only
    patched = stack.api.patch(
        f"/v1/campaigns/{campaign['id']}", json={"name": "x"}, headers=org.headers()
    )
    assert patched.status_code == 409  # no longer a draft
    assert _act(stack, org, campaign, "cancel").status_code == 202
    shown = wait_until(lambda: (c := _shown(stack, org, campaign))["status"] == "cancelled" and c)
    assert shown["progress"]["handed_over"] == 0 and shown["progress"]["recipients"] is None


def test_bad_campaigns_are_refused_with_the_field_and_change_nothing(
    stack: Stack, org: Org
) -> None:
    _settings(stack, org)
    _audience(stack, stack.db, org, 3)
    sms = {
        "key": "sms-note",
        "name": "SMS",
        "channel": "sms",
        "category": "marketing",
        "default_locale": "en",
        "variants": {"en": {"body": "Spring!"}},
    }
    assert stack.api.post("/v1/templates", json=sms, headers=org.headers()).status_code == 201
    base = {
        "key": "bad",
        "name": "Bad",
        "channel": "email",
        "audience": {"segment": "readers"},
        "variants": [{"name": "A", "template": "spring-a"}],
    }
    cases = [
        ({"variants": [{"name": "A", "template": "nope"}]}, "variants.0.template"),
        ({"variants": [{"name": "A", "template": "sms-note"}]}, "variants.0.template"),
        ({"audience": {"segment": "nobody"}}, "audience.segment"),
        ({"audience": {"customers": [str(uuid.uuid4())]}}, "audience.customers"),
        ({"ab": {"test_fraction": 0.2}}, ""),  # one variant cannot be tested
        ({"ab": {"test_fraction": 1.5}, "variants": base["variants"] * 2}, "ab.test_fraction"),
        ({"send_at": "2027-01-01T10:00:00"}, "send_at"),  # no time zone
    ]
    for change, field in cases:
        response = stack.api.post("/v1/campaigns", json={**base, **change}, headers=org.headers())
        assert response.status_code == 422, (change, response.text)
        assert response.headers["content-type"] == "application/problem+json"
        assert field in json.dumps(response.json()), (change, response.json())
    assert stack.api.get("/v1/campaigns", headers=org.headers()).json()["items"] == []
    assert stack.api.post("/v1/campaigns", json=base, headers=org.headers()).status_code == 201
    assert stack.api.post("/v1/campaigns", json=base, headers=org.headers()).status_code == 409
    for role in (Role.cashier, Role.sales):
        assert stack.api.get("/v1/campaigns", headers=org.headers(role)).status_code == 403


@pytest.mark.slow  # chaos: processes killed, or a database taken away
def test_a_worker_killed_five_times_mid_send_leaves_every_recipient_exactly_one_message(
    stack: Stack, org: Org
) -> None:
    _settings(stack, org)
    _audience(stack, stack.db, org, 20_000)
    campaign = _campaign(stack, org)  # two variants, an even split
    assert _act(stack, org, campaign, "send").status_code == 202
    for handed in (1_000, 4_000, 7_000, 10_000, 13_000):
        wait_until(
            lambda n=handed: _handed(stack, org, campaign) >= n, timeout_s=180, interval_s=0.2
        )
        stack.worker.kill()  # SIGKILL, batches in flight
        stack.worker.start()
    done = wait_until(
        lambda: (c := _shown(stack, org, campaign))["status"] == "completed" and c,
        timeout_s=300,
        interval_s=0.5,
    )
    assert done["progress"] == {
        "recipients": 20_000,
        "test_size": 0,
        "handed_over": 20_000,
        "by_status": {"sent": 20_000},
    }
    with stack.db.session(org.id) as session:
        per_customer = session.execute(
            select(Message.customer_id, func.count())
            .where(Message.idempotency_key.startswith(f"campaign:{campaign['id']}:"))
            .group_by(Message.customer_id)
        ).all()
    assert len(per_customer) == 20_000
    assert {n for _, n in per_customer} == {1}


@pytest.mark.slow  # chaos: a provider throttling and failing in bursts
def test_a_provider_throttling_and_failing_in_bursts_still_gets_each_recipient_once(
    stack: Stack, org: Org, fake_providers: FakeProviders
) -> None:
    _sendgrid(stack, org, fake_providers, SendGridSigner())
    _audience(stack, stack.db, org, 3_000)
    # Before and between the batches SendGrid takes: 429s with Retry-After, runs of 5xx.
    throttled = (429, {"Retry-After": "1"})
    fake_providers.failures.extend(
        [throttled, (503, {}), (503, {}), (500, {}), None, throttled, (502, {}), None, throttled]
    )
    campaign = _campaign(stack, org)
    assert _act(stack, org, campaign, "send").status_code == 202
    done = wait_until(
        lambda: (c := _shown(stack, org, campaign))["status"] == "completed" and c,
        timeout_s=240,
        interval_s=0.5,
    )
    assert done["progress"]["by_status"] == {"sent": 3_000}
    received = Counter(email["to"] for email in fake_providers.emails())
    assert len(received) == 3_000 and set(received.values()) == {1}  # none lost, none twice
    refused = [r for r in fake_providers.requests if not r.accepted]
    assert len(refused) == 7  # every failure was met, and retried


@pytest.mark.slow  # chaos: the Temporal server itself stopped mid-send
def test_the_temporal_server_restarted_mid_send_leaves_every_recipient_exactly_one_message(
    database_url: str, db: Database, org: Org, tmp_path: Path
) -> None:
    """A server of its own, on a file (a restarted in-memory server would know nothing)."""
    server = TemporalServer(port=free_port(), db_file=tmp_path / "temporal.db")
    server.start()
    env = herald_env(database_url, server.address, f"herald-restart-{uuid.uuid4().hex[:6]}")
    worker = worker_process(env, tmp_path)
    api, base_url = api_process(env, tmp_path)
    worker.start()
    api.start()
    try:
        wait_for_port(int(base_url.rsplit(":", 1)[1]))
        with httpx.Client(base_url=base_url, timeout=60) as client:
            stack = Stack(api=client, db=db, env=env, worker=worker, log_dir=tmp_path)
            _settings(stack, org)
            _audience(stack, db, org, 6_000)
            campaign = _campaign(stack, org)
            assert _act(stack, org, campaign, "send").status_code == 202
            wait_until(lambda: _handed(stack, org, campaign) >= 1_000, timeout_s=120)
            server.stop()  # batches in flight, the worker and the API cut off
            time.sleep(3)
            server.start()
            done = wait_until(
                lambda: (c := _shown(stack, org, campaign))["status"] == "completed" and c,
                timeout_s=300,
                interval_s=0.5,
            )
    finally:
        api.stop()
        worker.stop()
        server.stop()
    assert done["progress"]["by_status"] == {"sent": 6_000}
    with db.session(org.id) as session:
        per_customer = session.execute(
            select(Message.customer_id, func.count())
            .where(Message.idempotency_key.startswith(f"campaign:{campaign['id']}:"))
            .group_by(Message.customer_id)
        ).all()
    assert len(per_customer) == 6_000 and {n for _, n in per_customer} == {1}


async def test_quiet_hours_hold_recipients_until_they_end_then_send_them(
    stack: Stack, org: Org
) -> None:
    now = datetime.now(UTC)
    quiet = {
        "quiet_hours_start": (now - timedelta(hours=1)).strftime("%H:%M"),
        "quiet_hours_end": (now + timedelta(hours=2)).strftime("%H:%M"),
    }
    _settings(stack, org, **quiet)  # the recipients have no time zone: UTC
    _audience(stack, stack.db, org, 10)
    campaign = _campaign(stack, org, variants=[{"name": "A", "template": "spring-a"}])
    async with _campaign_worker(stack) as env:
        handle = await _start(env, org, campaign)
        await _progress_until(handle, lambda state: bool(state.held))
        progress = _shown(stack, org, campaign)["progress"]
        assert progress["by_status"] == {"held": 10}  # nothing sent in the quiet hours
        result = await handle.result()  # the clock moves past the end of the quiet hours
    assert (result.status, result.by_status) == ("completed", {"sent": 10})
    assert _shown(stack, org, campaign)["progress"]["by_status"] == {"sent": 10}


async def test_an_inconclusive_test_sends_the_declared_default_to_the_rest(
    stack: Stack, org: Org, fake_providers: FakeProviders
) -> None:
    _sendgrid(stack, org, fake_providers, SendGridSigner())
    _audience(stack, stack.db, org, 50)
    ab = {"test_fraction": 0.2, "metric": "open", "window": "PT2H", "default_variant": "B"}
    campaign = _campaign(stack, org, ab=ab)
    async with _campaign_worker(stack) as env:
        result = await (await _start(env, org, campaign)).result()  # nobody opened anything
    assert (result.status, result.winner) == ("completed", "B")
    emails = fake_providers.emails()
    assert Counter(e["subject"] for e in emails[:10]) == {"Spring is here": 5, "New in: spring": 5}
    assert {e["subject"] for e in emails[10:]} == {"New in: spring"} and len(emails) == 50
    decision = _shown_analytics(stack, org, campaign)["decision"]
    assert decision["significant"] is False and "inconclusive" in decision["reason"]


async def test_a_long_send_continues_as_new_runs_and_loses_no_one(stack: Stack, org: Org) -> None:
    _settings(stack, org)
    _audience(stack, stack.db, org, 60)
    paced = {"variants": [{"name": "A", "template": "spring-a"}], "rate_limit_per_s": 5}
    campaign = _campaign(stack, org, **paced)  # 12 batches of 5
    async with _campaign_worker(stack) as env:
        handle = await _start(env, org, campaign, batches_per_run=4)
        result = await handle.result()
        first = await env.client.get_workflow_handle(
            handle.id, run_id=handle.result_run_id
        ).describe()
    assert first.status is not None and first.status.name == "CONTINUED_AS_NEW"
    assert (result.status, result.by_status) == ("completed", {"sent": 60})
    with stack.db.session(org.id) as session:
        per_customer = session.execute(
            select(Message.customer_id, func.count()).group_by(Message.customer_id)
        ).all()
    assert len(per_customer) == 60 and {n for _, n in per_customer} == {1}


def _shown_analytics(stack: Stack, org: Org, campaign: dict[str, Any]) -> dict[str, Any]:
    response = stack.api.get(f"/v1/campaigns/{campaign['id']}/analytics", headers=org.headers())
    assert response.status_code == 200, response.text
    return response.json()  # type: ignore[no-any-return]


async def test_a_send_whose_segment_is_gone_fails_at_once_with_the_reason(
    stack: Stack, org: Org
) -> None:
    _audience(stack, stack.db, org, 5)
    campaign = _campaign(stack, org)
    deleted = stack.api.delete("/v1/segments/readers", headers=org.headers())
    assert deleted.status_code == 204, deleted.text
    async with _campaign_worker(stack) as env:
        handle = await _start(env, org, campaign)
        with pytest.raises(WorkflowFailureError) as failed:
            await handle.result()
        history = await handle.fetch_history()
    assert "no such segment" in str(failed.value.cause)
    # The domain error was not retried: the snapshot ran once and failed once.
    retried = [
        e
        for e in history.events
        if e.HasField("activity_task_started_event_attributes")
        and e.activity_task_started_event_attributes.attempt > 1
    ]
    assert retried == []
    shown = _shown(stack, org, campaign)
    assert (shown["status"], shown["failure"]) == ("failed", "no such segment")
    assert shown["finished_at"] is not None


async def test_an_operator_reads_what_a_send_is_and_where_it_stands_in_temporal(
    stack: Stack, org: Org
) -> None:
    _settings(stack, org)
    _audience(stack, stack.db, org, 5)
    campaign = _campaign(stack, org, rate_limit_per_s=50)
    sent = _act(stack, org, campaign, "send").json()
    wait_until(lambda: _shown(stack, org, campaign)["status"] == "completed")
    client = await connect(
        Settings(temporal_address=stack.env["HERALD_TEMPORAL_ADDRESS"], secret_key=TEST_SECRET)
    )
    handle = client.get_workflow_handle(sent["workflow_id"])
    described = await handle.describe()
    assert await described.static_summary() == "Campaign 'Spring collection' — email, 2 variants"
    details = await described.static_details() or ""
    assert "Audience: segment `readers`" in details and "50 messages/s" in details
    metadata = await handle.query("__temporal_workflow_metadata")
    assert metadata.current_details == "completed: 5 of 5 recipients handed over"
