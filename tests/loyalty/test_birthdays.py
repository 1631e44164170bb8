"""Birthday rewards: each customer on their own date, 29 February in common years, once a year
however often the sweep runs; and the daily Temporal Schedule the worker keeps in place."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import select
from temporalio.testing import WorkflowEnvironment

from activities.loyalty import BirthdayActivities
from activities.messaging import MessagingActivities
from herald.customers.schemas import CustomerCreate
from herald.customers.service import create_customer
from herald.database import Database
from herald.loyalty.birthdays import BIRTHDAY_SOURCE
from herald.loyalty.contracts import (
    BirthdayRewardInput,
    BirthdaySweepInput,
    BirthdaySweepOutcome,
    RedemptionStatus,
    birthday_workflow_id,
)
from herald.loyalty.models import LedgerEntry, Redemption, RewardKind
from herald.loyalty.rewards import create_reward, get_reward
from herald.loyalty.schemas import LoyaltySettingsIn, RewardCreate
from herald.loyalty.service import put_settings
from herald.messaging.audience import set_consent
from herald.messaging.contracts import MessageStatus
from herald.messaging.models import ConsentStatus, Message
from herald.messaging.schemas import ConsentIn, MessagingSettingsIn
from herald.messaging.setup import put_messaging_settings
from herald.messaging.unsubscribe import Links
from herald.schedules import birthday_schedule_id
from herald.settings import Settings
from herald.temporal import connect
from simulator import time_skipping_worker
from tests.support import TEST_SECRET, TO_FAKES, Org, Stack, wait_until
from workflows.birthdays import BirthdayReward, BirthdayRewards
from workflows.messaging import SendMessage

# SQL here differs between SQLite and PostgreSQL: run on both.
pytestmark = pytest.mark.dialects

QUEUE = "birthdays"
POINTS = 50


@asynccontextmanager
async def _sweeps(db: Database) -> AsyncIterator[WorkflowEnvironment]:
    links = Links("http://127.0.0.1:8000", "test-secret")
    activities = [
        *BirthdayActivities(db).all_activities(),
        MessagingActivities(db, links, TO_FAKES).deliver_message,
    ]
    async with time_skipping_worker(
        QUEUE, [BirthdayRewards, BirthdayReward, SendMessage], activities
    ) as env:
        yield env


def _program(db: Database, org: Org) -> None:
    with db.session(org.id) as session:
        put_messaging_settings(session, MessagingSettingsIn(postal_address="1 Main St"), TO_FAKES)
        put_settings(
            session,
            LoyaltySettingsIn(points_per_unit=1, birthday_enabled=True, birthday_points=POINTS),
        )


def _customer(db: Database, org: Org, birthday: date, timezone: str | None) -> uuid.UUID:
    with db.session(org.id) as session:
        customer = create_customer(
            session,
            CustomerCreate(
                name="Noor Haddad",
                emails=[f"{uuid.uuid4().hex[:8]}@example.com"],
                birthday=birthday,
                timezone=timezone,
            ),
        )
        set_consent(session, customer.id, ConsentIn(email=ConsentStatus.granted))
        return customer.id


async def _sweep(
    env: WorkflowEnvironment, org: Org, at: datetime, *celebrating: uuid.UUID
) -> BirthdaySweepOutcome:
    """Sweep one organization at ``at``; wait for the rewards of those expected to celebrate
    (the sweep starts them and leaves them running)."""
    handle = await env.client.start_workflow(
        BirthdayRewards.run,
        BirthdaySweepInput(at=at, organization_id=org.id),
        id=f"sweep-{uuid.uuid4()}",
        task_queue=QUEUE,
    )
    outcome = BirthdaySweepOutcome.model_validate(await handle.result())
    for customer_id in celebrating:
        reward = BirthdayRewardInput(organization_id=org.id, customer_id=customer_id, year=at.year)
        await env.client.get_workflow_handle(birthday_workflow_id(reward)).result()
    return outcome


def _rewards(db: Database, org: Org) -> dict[uuid.UUID, list[str]]:
    """Each customer's birthday ledger entries (their keys' years) and birthday emails."""
    with db.session(org.id) as session:
        found: dict[uuid.UUID, list[str]] = {}
        for entry in session.scalars(
            select(LedgerEntry).where(LedgerEntry.source == BIRTHDAY_SOURCE)
        ):
            assert entry.points == POINTS
            found.setdefault(entry.customer_id, []).append(entry.source_id.split("/")[1])
        messages = session.scalars(
            select(Message).where(Message.idempotency_key.startswith("birthday/"))
        ).all()
        assert sorted(m.idempotency_key for m in messages) == sorted(
            f"birthday/{c}/{year}" for c, years in found.items() for year in years
        )
        assert all(m.status is MessageStatus.sent for m in messages)
        return {c: sorted(years) for c, years in found.items()}


async def test_a_29_february_birthday_is_celebrated_on_28_february_in_common_years(
    db: Database, org: Org
) -> None:
    _program(db, org)
    leap = _customer(db, org, date(2000, 2, 29), "Europe/London")
    feb28 = _customer(db, org, date(1990, 2, 28), None)
    march1 = _customer(db, org, date(1985, 3, 1), "Europe/London")
    async with _sweeps(db) as env:
        first = await _sweep(env, org, datetime(2027, 2, 28, 12, tzinfo=UTC), leap, feb28)
        assert (first.found, first.started) == (2, 2)
        assert _rewards(db, org) == {leap: ["2027"], feb28: ["2027"]}
        # 2028 has a 29 February: that is the day, not the 28th.
        await _sweep(env, org, datetime(2028, 2, 28, 12, tzinfo=UTC), feb28)
        assert _rewards(db, org) == {leap: ["2027"], feb28: ["2027", "2028"]}
        await _sweep(env, org, datetime(2028, 2, 29, 12, tzinfo=UTC), leap)
        await _sweep(env, org, datetime(2028, 3, 1, 12, tzinfo=UTC), march1)
    assert _rewards(db, org) == {
        leap: ["2027", "2028"],
        feb28: ["2027", "2028"],
        march1: ["2028"],
    }


async def test_each_customer_is_rewarded_on_their_own_date_and_once_a_year(
    db: Database, org: Org
) -> None:
    _program(db, org)
    tokyo = _customer(db, org, date(1992, 3, 5), "Asia/Tokyo")
    london = _customer(db, org, date(1992, 3, 5), "Europe/London")
    los_angeles = _customer(db, org, date(1992, 3, 4), "America/Los_Angeles")
    async with _sweeps(db) as env:
        # 20:00 in London on 4 March is 05:00 on 5 March in Tokyo, noon in Los Angeles.
        await _sweep(env, org, datetime(2027, 3, 4, 20, tzinfo=UTC), tokyo, los_angeles)
        assert _rewards(db, org) == {tokyo: ["2027"], los_angeles: ["2027"]}
        # Next day's sweep: London's turn; Tokyo's 5 March is still on, but it had its gift.
        again = await _sweep(env, org, datetime(2027, 3, 5, 12, tzinfo=UTC), london)
        assert (again.found, again.started) == (2, 1)
    assert _rewards(db, org) == {tokyo: ["2027"], london: ["2027"], los_angeles: ["2027"]}


def _put_program(stack: Stack, org: Org) -> None:
    body: dict[str, Any] = {
        "points_per_unit": "1",
        "birthday_enabled": True,
        "birthday_points": POINTS,
    }
    response = stack.api.put("/v1/loyalty/settings", json=body, headers=org.headers())
    assert response.status_code == 200, response.text
    assert response.json()["birthday_enabled"] is True
    response = stack.api.put(
        "/v1/messaging/settings", json={"postal_address": "1 Main St"}, headers=org.headers()
    )
    assert response.status_code == 200, response.text


def _api_customer(stack: Stack, org: Org, birthday: date) -> str:
    body = {
        "name": "Birthday Person",
        "emails": [f"{uuid.uuid4().hex[:10]}@example.com"],
        "birthday": birthday.isoformat(),
        "timezone": "UTC",
    }
    customer = stack.api.post("/v1/customers", json=body, headers=org.headers()).json()
    consent = stack.api.put(
        f"/v1/customers/{customer['id']}/consent", json={"email": "granted"}, headers=org.headers()
    )
    assert consent.status_code == 200, consent.text
    return customer["id"]  # type: ignore[no-any-return]


async def test_the_daily_schedule_triggered_twice_on_one_day_rewards_once(
    stack: Stack, org: Org
) -> None:
    _put_program(stack, org)
    today = datetime.now(UTC).date()
    # Born on this day (1 March in place of 29 February would be another day: skip that).
    birthday = today.replace(year=1990) if (today.month, today.day) != (2, 29) else today
    celebrating = _api_customer(stack, org, birthday)
    not_yet = _api_customer(stack, org, birthday + timedelta(days=2))
    client = await connect(
        Settings(temporal_address=stack.env["HERALD_TEMPORAL_ADDRESS"], secret_key=TEST_SECRET)
    )
    # The worker put the schedule in place when it started.
    schedule = client.get_schedule_handle(birthday_schedule_id(stack.env["HERALD_TASK_QUEUE"]))
    description = await schedule.describe()
    assert description.schedule.spec.calendars[0].hour[0].start == 12
    await schedule.trigger()
    await schedule.trigger()

    def points(customer_id: str) -> dict[str, Any]:
        url = f"/v1/customers/{customer_id}/points"
        return stack.api.get(url, headers=org.headers()).json()  # type: ignore[no-any-return]

    async def swept_twice() -> list[Any]:
        actions = (await schedule.describe()).info.recent_actions
        results = []
        for action in actions[-2:]:
            started = action.action
            # Two triggers in one second share a workflow id: tell the runs apart.
            handle = client.get_workflow_handle(
                started.workflow_id, run_id=started.first_execution_run_id
            )
            if (await handle.describe()).status.name != "COMPLETED":  # type: ignore[union-attr]
                return []
            results.append(await handle.result())
        return results if len(results) == 2 else []

    # Up to two minutes: the sweeps read every organization's birthdays of today, and late in the
    # suite the shared database holds hundreds of organizations.
    for _ in range(1200):
        if sweeps := await swept_twice():
            break
        await asyncio.sleep(0.1)
    else:
        raise AssertionError("the two sweeps did not finish")
    # The first sweep started the reward; the second found it started.
    assert sweeps[0]["found"] >= 1 and sweeps[0]["started"] >= 1
    assert sweeps[1]["found"] == sweeps[0]["found"] and sweeps[1]["started"] == 0
    wait_until(lambda: points(celebrating)["balance"] == POINTS)
    wait_until(
        lambda: any(
            m["idempotency_key"].startswith(f"birthday/{celebrating}/")
            for m in stack.api.get("/v1/outbox?limit=200", headers=org.headers()).json()["items"]
        )
    )
    outbox = stack.api.get("/v1/outbox?limit=200", headers=org.headers()).json()["items"]
    gifts = [m for m in outbox if m["idempotency_key"].startswith("birthday/")]
    assert [m["customer_id"] for m in gifts] == [celebrating]
    entries = points(celebrating)["entries"]
    assert [(e["source"], e["points"]) for e in entries] == [(BIRTHDAY_SOURCE, POINTS)]
    assert points(not_yet)["balance"] == 0


async def test_a_birthday_gift_is_one_reward_code_a_year_in_the_message(
    db: Database, org: Org
) -> None:
    _program(db, org)
    with db.session(org.id) as session:
        cake = create_reward(
            session,
            RewardCreate(name="Birthday cake", kind=RewardKind.custom, cost_points=500, stock=10),
        )
        put_settings(
            session,
            LoyaltySettingsIn(points_per_unit=1, birthday_reward_id=cake.id),
        )
    guest = _customer(db, org, date(1990, 6, 1), None)
    async with _sweeps(db) as env:
        for _ in range(2):  # a second sweep of the day gives nothing more
            await _sweep(env, org, datetime(2027, 6, 1, 12, tzinfo=UTC), guest)
    with db.session(org.id) as session:
        [gift] = session.scalars(select(Redemption).where(Redemption.customer_id == guest)).all()
        assert (gift.points, gift.status) == (0, RedemptionStatus.reserved)
        assert get_reward(session, cake.id).stock_left == 9
        [message] = session.scalars(
            select(Message).where(Message.idempotency_key == f"birthday/{guest}/2027")
        ).all()
        assert gift.code in message.content["text"] and "Birthday cake" in message.content["html"]
    # The points came too: the gift is on top of them.
    assert _rewards(db, org) == {guest: ["2027"]}
