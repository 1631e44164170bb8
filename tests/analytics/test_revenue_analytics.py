"""Revenue analytics end to end: orders posted through the API, messages as the delivery path
records them, the rollups brought up to date, and the reports against hand-computed answers."""

from __future__ import annotations

import csv
import io
import uuid
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import select

from herald.access.models import Role
from herald.analytics.contracts import (
    ANALYTICS_SWEEP_WORKFLOW,
    AnalyticsSweepInput,
    rollup_workflow_id,
)
from herald.analytics.models import AnalyticsCohort, AnalyticsPeriod, OrderAttribution
from herald.analytics.rollup import organizations_due, refresh
from herald.inquiries.contracts import InquiryStatus
from herald.inquiries.models import Inquiry, InquiryEntry
from herald.messaging.contracts import MessageStatus
from herald.messaging.models import Category, Channel, Message
from herald.settings import Settings
from herald.temporal import connect
from tests.support import TEST_SECRET, Org, Stack, create_customer, order_paid

# The rollups' SQL differs between SQLite and PostgreSQL: run on both.
pytestmark = pytest.mark.dialects

NOW = datetime.now(UTC).replace(microsecond=0)


def euro_shop(stack: Stack, org: Org) -> None:
    response = stack.api.patch(
        "/v1/organization", json={"reporting_currency": "EUR"}, headers=org.headers()
    )
    assert response.status_code == 200, response.text


def pay(stack: Stack, org: Org, customer_id: str, order_id: str, amount: str, at: datetime) -> None:
    event = order_paid(customer_id, order_id, amount=amount, currency="EUR")
    event["properties"]["paid_at"] = at.isoformat()
    response = stack.api.post("/v1/events", json=event, headers=org.headers())
    assert response.status_code == 202, response.text


def message(
    stack: Stack,
    org: Org,
    customer_id: str,
    intent: str,
    *,
    channel: Channel = Channel.email,
    sent: datetime,
    opened: datetime | None = None,
    clicked: datetime | None = None,
) -> uuid.UUID:
    """A message as the delivery path leaves it once the provider took it."""
    with stack.db.session(org.id) as session:
        row = Message(
            idempotency_key=intent,
            channel=channel,
            category=Category.marketing,
            customer_id=uuid.UUID(customer_id),
            recipient="someone@example.com",
            provider="outbox",
            status=MessageStatus.opened if opened else MessageStatus.delivered,
            created_at=sent,
            sent_at=sent,
            opened_at=opened,
            clicked_at=clicked,
        )
        session.add(row)
        session.commit()
        return row.id


def rollup(stack: Stack, org: Org, *, full: bool = False) -> None:
    with stack.db.session(org.id) as session:
        refresh(session, full=full)


def get(stack: Stack, org: Org, path: str, **params: Any) -> dict[str, Any]:
    response = stack.api.get(f"/v1/analytics/{path}", params=params, headers=org.headers())
    assert response.status_code == 200, response.text
    return response.json()  # type: ignore[no-any-return]


def test_an_order_is_shared_among_the_messages_that_touched_it(stack: Stack, org: Org) -> None:
    euro_shop(stack, org)
    ada = create_customer(stack, org)["id"]
    campaign = uuid.uuid4()
    paid = NOW - timedelta(hours=1)
    clicked = message(
        stack,
        org,
        ada,
        f"campaign:{campaign}:{ada}",
        sent=paid - timedelta(hours=50),
        opened=paid - timedelta(hours=49),
        clicked=paid - timedelta(hours=48),
    )
    texted = message(
        stack,
        org,
        ada,
        f"journey/welcome/{uuid.uuid4()}/remind/1",
        channel=Channel.sms,
        sent=paid - timedelta(hours=2),
    )
    # Opened 30 hours before: outside the open window, it touched nothing.
    message(
        stack,
        org,
        ada,
        f"direct/{ada}/old",
        sent=paid - timedelta(hours=31),
        opened=paid - timedelta(hours=30),
    )
    pay(stack, org, ada, "A-1", "100.00", paid)
    # Bob was sent nothing: his order is nobody's.
    bob = create_customer(stack, org)["id"]
    pay(stack, org, bob, "B-1", "40.00", paid)
    rollup(stack, org)

    with stack.db.session(org.id) as session:
        rows = {r.message_id: r for r in session.scalars(select(OrderAttribution))}
    assert set(rows) == {clicked, texted}
    click, text = rows[clicked], rows[texted]
    assert (click.touch, text.touch) == ("click", "delivery")
    assert (click.campaign_id, text.journey_key, text.step_id) == (campaign, "welcome", "remind")
    assert (click.weight_last_touch, text.weight_last_touch) == (1.0, 0.0)  # a click beats a text
    assert (click.weight_first_touch, text.weight_first_touch) == (1.0, 0.0)
    assert (click.weight_linear, text.weight_linear) == (0.5, 0.5)
    decay = [2 ** (-48 / 168), 2 ** (-2 / 168)]
    assert click.weight_time_decay == pytest.approx(decay[0] / sum(decay))

    by_channel = get(stack, org, "attribution", by="channel", model="linear")
    assert {r["key"]: (r["orders"], r["revenue"]) for r in by_channel["rows"]} == {
        "email": (0.5, "50.00"),
        "sms": (0.5, "50.00"),
    }
    assert by_channel["currency"] == "EUR" and by_channel["as_of"] is not None
    last = get(stack, org, "attribution", by="journey")
    assert last["model"] == "last_touch"
    assert [(r["key"], r["revenue"], r["messages"]) for r in last["rows"]] == [
        ("welcome", "0.00", 1)
    ]

    # What the merchant says a text costs gives each channel its ROI.
    settings = stack.api.put(
        "/v1/analytics/settings",
        json={
            "attribution_model": "linear",
            "click_window_hours": 120,
            "open_window_hours": 24,
            "delivery_window_hours": 24,
            "half_life_hours": 168,
            "message_costs": {"sms": "0.05"},
        },
        headers=org.headers(),
    )
    assert settings.status_code == 200, settings.text
    sms = get(stack, org, "attribution", by="channel")["rows"]
    sms_row = next(r for r in sms if r["key"] == "sms")
    assert (sms_row["cost"], sms_row["roi"]) == ("0.05", pytest.approx((50 - 0.05) / 0.05))
    assert sms_row["revenue_per_recipient"] == "50.00"

    # A refund shows at once: reports join the order, not a copy of its amount.
    refund = {"order_id": "A-1", "refund_id": "r1", "amount": "20"}
    stack.api.post(
        "/v1/events",
        json={"type": "order.refunded", "customer": {"id": ada}, "properties": refund},
        headers=org.headers(),
    )
    after = get(stack, org, "attribution", by="channel")
    assert {r["key"]: r["revenue"] for r in after["rows"]} == {"email": "40.00", "sms": "40.00"}

    # The series' attributed revenue follows the organization's model once rolled up.
    rollup(stack, org)
    today = get(
        stack, org, "series", granularity="day", since=str(paid.date()), until=str(paid.date())
    )
    point = today["points"][0]
    assert (point["orders"], point["revenue"], point["attributed_revenue"]) == (
        2,
        "120.00",
        "80.00",
    )

    csv_text = stack.api.get(
        "/v1/analytics/attribution",
        params={"by": "channel", "format": "csv"},
        headers=org.headers(),
    )
    assert csv_text.headers["content-type"].startswith("text/csv")
    table = list(csv.DictReader(io.StringIO(csv_text.text)))
    assert {r["key"]: r["revenue"] for r in table} == {"email": "40.00", "sms": "40.00"}
    assert "x-herald-as-of" in csv_text.headers


def month_start(months_ago: int) -> datetime:
    first = NOW.replace(day=1, hour=12, minute=0, second=0)
    index = first.year * 12 + first.month - 1 - months_ago
    return first.replace(year=index // 12, month=index % 12 + 1)


def test_cohorts_and_series_catch_up_after_an_outage(stack: Stack, org: Org) -> None:
    euro_shop(stack, org)
    x, y = (create_customer(stack, org)["id"] for _ in range(2))
    pay(stack, org, x, "X-1", "30", month_start(3) + timedelta(days=2))
    pay(stack, org, x, "X-2", "20", month_start(1) + timedelta(days=3))
    pay(stack, org, y, "Y-1", "50", month_start(1) + timedelta(days=5))
    rollup(stack, org)

    cohorts = get(stack, org, "cohorts", granularity="month", count=6)["cohorts"]
    table = {
        c["cohort"]: (
            c["customers"],
            [(p["period"], p["customers"], p["revenue"]) for p in c["periods"]],
        )
        for c in cohorts
    }
    m3, m2, m1 = (str(month_start(n).date().replace(day=1)) for n in (3, 2, 1))
    assert table == {
        m3: (1, [(0, 1, "30.00"), (2, 1, "20.00")]),
        m1: (1, [(0, 1, "50.00")]),
    }
    x_cohort = next(c for c in cohorts if c["cohort"] == m3)
    assert [p["retention"] for p in x_cohort["periods"]] == [1.0, 1.0]
    assert [p["lifetime_value"] for p in x_cohort["periods"]] == ["30.00", "50.00"]

    # The rollups stop (an outage) while history arrives: a new buyer two months back and a
    # repeat order of the first; the next run starts far enough back to count them.
    z = create_customer(stack, org)["id"]
    pay(stack, org, z, "Z-1", "70", month_start(2) + timedelta(days=1))
    pay(stack, org, y, "Y-2", "5", NOW - timedelta(hours=3))
    rollup(stack, org)
    caught_up = get(stack, org, "cohorts", granularity="month", count=6)["cohorts"]
    assert {c["cohort"]: c["customers"] for c in caught_up} == {m3: 1, m2: 1, m1: 1}
    months = get(
        stack,
        org,
        "series",
        granularity="month",
        since=str(month_start(3).date()),
        until=str(NOW.date()),
    )
    assert [p["revenue"] for p in months["points"]] == ["30.00", "70.00", "70.00", "5.00"]
    assert [p["active_customers"] for p in months["points"]] == [1, 1, 2, 1]
    assert months["totals"]["revenue"] == "175.00"
    assert len(months["previous"]) == 4

    # What the incremental runs left equals a rebuild from scratch.
    def snapshot() -> tuple[list[Any], list[Any]]:
        with stack.db.session(org.id) as session:
            periods = sorted(
                (p.granularity, p.start, Decimal(p.revenue), p.orders, p.active_customers)
                for p in session.scalars(select(AnalyticsPeriod))
            )
            cells = sorted(
                (c.granularity, c.cohort, c.period, c.customers, Decimal(c.revenue))
                for c in session.scalars(select(AnalyticsCohort))
            )
        return periods, cells

    incremental = snapshot()
    rollup(stack, org, full=True)
    assert snapshot() == incremental

    retention = get(stack, org, "retention", churn_after_days=30)
    assert (retention["buyers"], retention["repeat_buyers"], retention["churned"]) == (3, 2, 2)
    assert retention["repeat_purchase_rate"] == round(2 / 3, 4)


def test_funnel_counts_steps_in_order_within_the_window(stack: Stack, org: Org) -> None:
    start = NOW - timedelta(days=10)
    people = {
        name: create_customer(stack, org, country=country)["id"]
        for name, country in (("ann", "FR"), ("ben", "FR"), ("cat", "DE"), ("dan", "DE"))
    }

    def did(who: str, kind: str, hours: float, **properties: Any) -> None:
        event = {
            "type": kind,
            "customer": {"id": people[who]},
            "occurred_at": (start + timedelta(hours=hours)).isoformat(),
            "properties": properties,
        }
        response = stack.api.post("/v1/events", json=event, headers=org.headers())
        assert response.status_code == 202, response.text

    did("ann", "product.viewed", 0, category="shoes")
    did("ann", "cart.added", 1)
    did("ann", "checkout.completed", 3)
    did("ben", "product.viewed", 0, category="shoes")
    did("ben", "cart.added", 2)
    did("ben", "checkout.completed", 30)  # after the 24-hour window
    did("cat", "product.viewed", 0, category="shoes")
    did("cat", "checkout.completed", 1)  # never added to the cart: stops at step 1
    did("dan", "product.viewed", 0, category="hats")  # filtered out of step 1
    did("dan", "cart.added", 1)
    query = {
        "steps": [
            {"event": "product.viewed", "where": {"category": "shoes"}},
            {"event": "cart.added"},
            {"event": "checkout.completed"},
        ],
        "since": (start - timedelta(hours=1)).isoformat(),
        "until": (start + timedelta(days=5)).isoformat(),
        "within_hours": 24,
    }
    response = stack.api.post("/v1/analytics/funnels", json=query, headers=org.headers())
    assert response.status_code == 200, response.text
    steps = response.json()["groups"][0]["steps"]
    assert [s["customers"] for s in steps] == [3, 2, 1]
    assert [s["drop_off"] for s in steps] == [0, 1, 1]
    assert steps[2]["conversion"] == round(1 / 3, 4)
    assert steps[1]["median_seconds_to_convert"] == 1.5 * 3600  # ann 1 h, ben 2 h
    assert steps[2]["median_seconds_to_convert"] == 2 * 3600

    split = stack.api.post(
        "/v1/analytics/funnels", json={**query, "split_by": "country"}, headers=org.headers()
    ).json()
    assert {g["group"]: [s["customers"] for s in g["steps"]] for g in split["groups"]} == {
        "DE": [1, 0, 0],
        "FR": [2, 2, 1],
    }
    bad = stack.api.post(
        "/v1/analytics/funnels", json={**query, "split_by": "shoe_size"}, headers=org.headers()
    )
    assert bad.status_code == 422 and bad.headers["content-type"] == "application/problem+json"


def test_acquisition_and_cac_per_channel_and_month(stack: Stack, org: Org) -> None:
    euro_shop(stack, org)
    month = f"{NOW:%Y-%m}"
    google = [
        create_customer(stack, org, attributes={"utm_source": "Google"})["id"] for _ in range(2)
    ]
    insta = create_customer(stack, org)["id"]
    # Seen first on an event, then on another: the first one stays.
    for source in ("instagram", "newsletter"):
        response = stack.api.post(
            "/v1/events",
            json={
                "type": "page.viewed",
                "customer": {"id": insta},
                "properties": {"utm_source": source},
            },
            headers=org.headers(),
        )
        assert response.status_code == 202, response.text
    create_customer(stack, org)  # came on their own
    pay(stack, org, google[0], "G-1", "80", NOW - timedelta(hours=1))
    spend = stack.api.put(
        "/v1/analytics/spend",
        json={
            "spend": [
                {"month": month, "channel": "google", "amount": "100"},
                {"month": month, "channel": "instagram", "amount": "30"},
            ]
        },
        headers=org.headers(),
    )
    assert spend.status_code == 200, spend.text
    rollup(stack, org)
    rows = get(stack, org, "acquisition", since=f"{month}-01", until=str(NOW.date()))["rows"]
    assert {
        r["channel"]: (r["new_customers"], r["buyers"], r["spend"], r["cac"]) for r in rows
    } == {
        "google": (2, 1, "100.00", "50.00"),
        "instagram": (1, 0, "30.00", "30.00"),
        "direct": (1, 0, "0.00", None),
    }


def test_who_may_read_and_configure_analytics(stack: Stack, org: Org) -> None:
    for role, status in (
        (Role.marketing, 200),
        (Role.manager, 200),
        (Role.cashier, 403),
        (Role.sales, 403),
    ):
        response = stack.api.get("/v1/analytics/series", headers=org.headers(role))
        assert response.status_code == status, (role, response.text)
    denied = stack.api.put(
        "/v1/analytics/spend",
        json={"spend": [{"month": "2026-01", "channel": "google", "amount": "1"}]},
        headers=org.headers(Role.marketing),
    )
    assert denied.status_code == 403
    backwards = stack.api.get(
        "/v1/analytics/series",
        params={"since": "2026-02-01", "until": "2026-01-01"},
        headers=org.headers(),
    )
    assert backwards.status_code == 422, backwards.text
    negative = stack.api.put(
        "/v1/analytics/spend",
        json={"spend": [{"month": "2026-01", "channel": "google", "amount": "-5"}]},
        headers=org.headers(),
    )
    assert negative.status_code == 422
    assert (
        stack.api.get(
            "/v1/analytics/spend", params={"since": "2025-01-01"}, headers=org.headers()
        ).json()
        == []
    )


def test_a_rollup_run_on_demand_through_temporal(stack: Stack, org: Org, other_org: Org) -> None:
    euro_shop(stack, org)
    ada = create_customer(stack, org)["id"]
    pay(stack, org, ada, "T-1", "12.50", NOW - timedelta(minutes=5))
    other = create_customer(stack, other_org)["id"]
    pay(stack, other_org, other, "O-1", "999", NOW - timedelta(minutes=5))
    message(
        stack,
        org,
        ada,
        f"direct/{ada}/1",
        sent=NOW - timedelta(hours=2),
        opened=NOW - timedelta(hours=1),
    )
    response = stack.api.post("/v1/analytics/refresh", headers=org.headers(), timeout=60)
    assert response.status_code == 200, response.text
    assert response.json()["attributed_orders"] == 1
    series = get(
        stack, org, "series", granularity="day", since=str(NOW.date()), until=str(NOW.date())
    )
    # The other shop's order is in its own rollups, never in this one's.
    assert series["points"][-1]["revenue"] == "12.50"
    assert (
        stack.api.post("/v1/analytics/refresh", headers=org.headers(Role.marketing)).status_code
        == 403
    )


def test_inquiries_by_source_with_the_time_to_reply(stack: Stack, org: Org) -> None:
    received = NOW - timedelta(days=2)
    with stack.db.session(org.id) as session:
        for n, (page, status, reply_hours) in enumerate(
            [
                ("/pricing", InquiryStatus.converted, 2.0),
                ("/pricing", InquiryStatus.replied, 4.0),
                ("/pricing", InquiryStatus.new, None),
                ("/contact", InquiryStatus.converted, 1.0),
            ]
        ):
            inquiry = Inquiry(
                status=status,
                name=f"Lead {n}",
                email=f"lead{n}@example.com",
                message="Hello",
                source_page=page,
                created_at=received,
                updated_at=received,
            )
            session.add(inquiry)
            session.flush()
            if reply_hours is not None:
                at = received + timedelta(hours=reply_hours)
                session.add(
                    InquiryEntry(
                        inquiry_id=inquiry.id,
                        key="0001-replied",
                        at=at,
                        kind="replied",
                        actor="staff",
                    )
                )
        session.commit()
    report = get(stack, org, "inquiries", since=str(received.date()), until=str(NOW.date()))
    assert (report["inquiries"], report["replied"], report["converted"]) == (4, 3, 2)
    assert report["median_hours_to_reply"] == 2.0
    assert [(s["source"], s["inquiries"], s["converted"]) for s in report["by_source"]] == [
        ("/pricing", 3, 1),
        ("/contact", 1, 1),
    ]


async def test_the_sweep_rolls_up_each_organization_with_something_new(
    stack: Stack, org: Org, other_org: Org
) -> None:
    client = await connect(
        Settings(temporal_address=stack.env["HERALD_TEMPORAL_ADDRESS"], secret_key=TEST_SECRET)
    )
    buyer = create_customer(stack, org)["id"]
    pay(stack, org, buyer, "S-1", "10", NOW - timedelta(minutes=1))

    async def sweep() -> dict[str, Any]:
        return await client.execute_workflow(  # type: ignore[no-any-return]
            ANALYTICS_SWEEP_WORKFLOW,
            AnalyticsSweepInput(),
            id=f"analytics-sweep-test-{uuid.uuid4()}",
            task_queue=stack.env["HERALD_TASK_QUEUE"],
            result_type=dict,
        )

    def due() -> list[uuid.UUID]:
        with stack.db.system_session() as session:
            return organizations_due(session)

    # An organization with nothing in it has nothing to roll up.
    assert org.id in due() and other_org.id not in due()
    outcome = await sweep()
    assert outcome["started"] >= 1
    rolled = client.get_workflow_handle(rollup_workflow_id(org.id))
    result = await rolled.result()
    assert result["attributed_orders"] == 0  # no message touched the order
    series = get(stack, org, "series", since=str(NOW.date()), until=str(NOW.date()))
    assert series["as_of"] is not None and series["points"][-1]["orders"] == 1
