"""The analytics page in a real Chromium: an owner reads the period's revenue against the one
before, the trend chart, what a campaign's email earned, acquisition with its cost, and the
cohorts, and downloads a section as CSV; a cashier has no such page."""

from __future__ import annotations

import csv
import io
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

from playwright.sync_api import expect

from herald.access.models import Role
from herald.messaging.contracts import MessageStatus
from herald.messaging.models import Category, Channel, Message
from tests.console.conftest import Console, accessible
from tests.console.support import add_staff
from tests.console.test_browser import sign_in
from tests.support import Org, Stack, create_customer, order_paid


def test_an_owner_reads_revenue_attribution_acquisition_and_cohorts(
    stack: Stack, org: Org, console: Console
) -> None:
    console.refusals_expected = True  # the cashier's forbidden page
    headers = org.headers()
    now = datetime.now(UTC)
    buyer = create_customer(stack, org, attributes={"utm_source": "instagram"})["id"]
    with stack.db.session(org.id) as session:
        session.add(
            Message(
                idempotency_key=f"direct/{buyer}/{uuid.uuid4()}",
                channel=Channel.email,
                category=Category.marketing,
                customer_id=uuid.UUID(buyer),
                recipient="buyer@example.com",
                provider="outbox",
                status=MessageStatus.opened,
                created_at=now - timedelta(hours=3),
                sent_at=now - timedelta(hours=3),
                opened_at=now - timedelta(hours=2),
            )
        )
        session.commit()
    order = order_paid(buyer, f"A-{uuid.uuid4().hex[:6]}", "120.00", "USD")
    assert stack.api.post("/v1/events", json=order, headers=headers).status_code == 202
    spend = {"spend": [{"month": f"{now:%Y-%m}", "channel": "instagram", "amount": "60"}]}
    assert stack.api.put("/v1/analytics/spend", json=spend, headers=headers).status_code == 200
    assert stack.api.post("/v1/analytics/refresh", headers=headers, timeout=60).status_code == 200

    page = console.page()
    sign_in(page, add_staff(stack.db, org, Role.owner))
    page.get_by_role("link", name="Analytics").click()
    expect(page.locator("h1")).to_have_text("Analytics")
    figures = page.get_by_label("Key figures")
    expect(figures).to_contain_text("120.00 USD")  # revenue, and the revenue from messages
    expect(figures.locator(".figure", has_text="Acquisition cost")).to_contain_text("60.00 USD")
    expect(page.locator("[data-chart]")).to_have_attribute("data-drawn", "true")
    expect(page.locator("[data-chart] canvas")).to_have_count(1)
    channels = page.get_by_role("region", name="Channel attribution", exact=True)
    expect(channels.get_by_role("row", name="email")).to_contain_text("120.00 USD")
    acquisition = page.get_by_role("region", name="Acquisition", exact=True)
    expect(acquisition.get_by_role("row", name="instagram")).to_contain_text("60.00 USD")
    cohorts = page.get_by_role("region", name="Cohorts by first order")
    expect(cohorts).to_contain_text(now.strftime("%b %Y"))
    accessible(page)

    with page.expect_download() as download:
        channels.get_by_role("link", name="CSV").click()
    rows = list(csv.DictReader(io.StringIO(Path(download.value.path()).read_text())))
    assert [(r["key"], r["revenue"]) for r in rows] == [("email", "120.00")]

    page.get_by_role("link", name="12 months").click()
    expect(page.get_by_role("heading", name="Revenue by month")).to_be_visible()

    cashier = console.page()
    sign_in(cashier, add_staff(stack.db, org, Role.cashier))
    expect(cashier.get_by_role("link", name="Analytics")).to_have_count(0)
    cashier.goto("/marketing/analytics")
    expect(cashier.locator("h1")).to_have_text("Forbidden")
