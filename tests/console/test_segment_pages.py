"""Segments in a real Chromium: a marketer builds one from conditions with a live count, saves
it, sees its members, its size over time and its export, compares it with another and deletes
it; a cashier is shown none of it."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

from playwright.sync_api import Page, expect

from herald.access.models import Role
from herald.segments.service import get_segment, record_size
from tests.console.conftest import Console, accessible
from tests.console.support import add_staff
from tests.console.test_browser import sign_in
from tests.support import Org, Stack, create_customer, order_paid, wait_until


def _preview(page: Page) -> str:
    return page.locator("#preview").inner_text()


def test_a_marketer_builds_saves_watches_compares_and_deletes_a_segment(
    stack: Stack, org: Org, console: Console
) -> None:
    tag = f"tea-{uuid.uuid4().hex[:6]}"
    big = create_customer(stack, org, name="Big Spender", tags=[tag])
    small = create_customer(stack, org, name="Small Spender", tags=[tag])
    create_customer(stack, org, name="Untagged")
    headers = org.headers()
    for customer, amount in ((big, "250.00"), (small, "20.00")):
        event = order_paid(customer["id"], f"O-{uuid.uuid4().hex[:6]}", amount, "USD")
        assert stack.api.post("/v1/events", json=event, headers=headers).status_code == 202
    wait_until(
        lambda: (
            stack.api.get(f"/v1/customers/{big['id']}", headers=headers).json()["metrics"]["orders"]
            == 1
        )
    )

    page = console.page()
    sign_in(page, add_staff(stack.db, org, Role.marketing))
    page.get_by_role("link", name="Segments").click()
    expect(page.locator("h1")).to_have_text("Segments")
    accessible(page)
    page.get_by_role("link", name="New segment").click()

    # The first condition is a tag: typing it counts who matches.
    page.get_by_label("Name").fill("Tea buyers")
    page.get_by_label("Key (letters, digits, dashes)").fill("tea-buyers")
    expect(page.locator("#preview")).to_contain_text("Not a rule yet")
    page.get_by_label("Tag").fill(tag)
    page.get_by_label("Tag").press("Tab")
    expect(page.locator("#preview")).to_contain_text("2 customers match now")

    # A second condition: total spent at least 100 leaves one.
    page.get_by_label("Add", exact=True).select_option("orders")
    page.get_by_role("button", name="Add", exact=True).click()
    expect(page.get_by_label("Figure")).to_have_value("total_spent")
    expect(page.get_by_label("Tag")).to_have_value(tag)  # what was typed stays
    page.get_by_label("Value", exact=True).fill("100")
    page.get_by_label("Value", exact=True).press("Tab")
    expect(page.locator("#preview")).to_contain_text("1 customer match now")
    expect(page.locator("#preview")).to_contain_text("Big Spender")
    accessible(page)

    # "Any of" instead of "all of": both again.
    page.get_by_label("Customers who match").select_option("any")
    expect(page.locator("#preview")).to_contain_text("2 customers match now")
    page.get_by_label("Customers who match").select_option("all")
    expect(page.locator("#preview")).to_contain_text("1 customer match now")

    page.get_by_role("button", name="Save segment").click()
    expect(page).to_have_url(f"{console.base}/customers/segments/tea-buyers")
    expect(page.locator("h1")).to_have_text("Tea buyers")
    expect(page.locator("#toasts")).to_contain_text("Segment saved")
    members = page.locator("section[aria-labelledby=h-members] li")
    expect(members).to_have_count(1)
    expect(members).to_contain_text("Big Spender")
    expect(page.locator("#h-size + p")).to_contain_text("first count appears tomorrow")

    # Removing the spending condition and saving widens it; a size recorded each day draws.
    page.get_by_role("button", name="Remove condition 2").click()
    expect(page.get_by_label("Figure")).to_have_count(0)
    page.get_by_role("button", name="Save", exact=True).click()
    expect(page.locator("#toasts")).to_contain_text("Segment saved")
    expect(members).to_have_count(2)
    today = datetime.now(UTC).date()
    with stack.db.session(org.id) as session:
        segment = get_segment(session, "tea-buyers")
        record_size(session, segment.id, today - timedelta(days=2))
    create_customer(stack, org, name="New Tea Buyer", tags=[tag])
    with stack.db.session(org.id) as session:
        record_size(session, segment.id, today - timedelta(days=1))
    page.reload()
    expect(page.locator("svg.chart circle")).to_have_count(2)
    page.get_by_text("As a table").click()
    sizes = page.locator("section[aria-labelledby=h-size] tbody tr")
    expect(sizes).to_have_text([f"{today - timedelta(days=1)}3", f"{today - timedelta(days=2)}2"])
    accessible(page)

    with page.expect_download() as download:
        page.get_by_role("link", name="Export members (CSV)").click()
    exported = open(download.value.path(), encoding="utf-8").read()  # noqa: SIM115
    assert "Big Spender" in exported and "New Tea Buyer" in exported
    assert "Untagged" not in exported

    # An incomplete rule is not saved: the page says why and the segment keeps its rule.
    console.refusals_expected = True
    page.get_by_label("Tag").fill("")
    page.get_by_role("button", name="Save", exact=True).click()
    expect(page.locator("#toasts")).to_contain_text("the rule is not complete")
    rule = stack.api.get("/v1/segments/tea-buyers", headers=headers).json()["rule"]
    assert rule == {"all": [{"tag": tag}]}

    # Compared with a segment of buyers over 200: one in both.
    stack.api.post(
        "/v1/segments",
        json={
            "key": "big",
            "name": "Big buyers",
            "rule": {"orders": "total_spent", "op": "gt", "value": 200},
        },
        headers=headers,
    )
    page.goto("/customers/segments")
    page.get_by_label("First").select_option("tea-buyers")
    page.get_by_label("Second").select_option("big")
    page.get_by_role("button", name="Compare").click()
    expect(page.locator("h1")).to_have_text("Tea buyers and Big buyers")
    both = page.locator("tr", has_text="In both")
    expect(both).to_contain_text("1")
    expect(page.locator("tr", has_text="Only in Tea buyers")).to_contain_text("2")
    accessible(page)

    page.goto("/customers/segments/tea-buyers")
    page.get_by_role("button", name="Delete").click()
    page.locator("dialog#confirm").get_by_role("button", name="Confirm").click()
    expect(page).to_have_url(f"{console.base}/customers/segments")
    expect(page.locator("table")).not_to_contain_text("Tea buyers")
    assert stack.api.get("/v1/segments/tea-buyers", headers=headers).status_code == 404


def test_a_template_starts_a_segment_and_the_list_shows_the_last_count(
    stack: Stack, org: Org, console: Console
) -> None:
    page = console.page()
    sign_in(page, add_staff(stack.db, org, Role.owner))
    page.goto("/customers/segments")
    page.get_by_role("link", name="VIP").click()
    expect(page.get_by_label("Name")).to_have_value("VIP")
    expect(page.get_by_label("Figure")).to_have_value("total_spent")
    expect(page.get_by_label("Channel")).to_have_value("email")
    expect(page.locator("#preview")).to_contain_text("0 customers match now")
    page.get_by_role("button", name="Save segment").click()
    expect(page.locator("h1")).to_have_text("VIP")
    with stack.db.session(org.id) as session:
        record_size(session, get_segment(session, "vip").id, datetime.now(UTC).date())
    page.goto("/customers/segments")
    row = page.locator("tbody tr", has_text="VIP")
    expect(row).to_contain_text("vip")
    expect(row.locator("td.num")).to_have_text("0")


def test_the_at_risk_template_builds_on_churn_risk(
    stack: Stack, org: Org, console: Console
) -> None:
    page = console.page()
    sign_in(page, add_staff(stack.db, org, Role.owner))
    page.goto("/customers/segments")
    page.get_by_role("link", name="At risk").click()
    expect(page.get_by_label("Name")).to_have_value("At risk")
    expect(page.get_by_label("Score").first).to_have_value("churn_risk")
    expect(page.get_by_label("Value").first).to_have_value("0.7")
    expect(page.locator("#preview")).to_contain_text("0 customers match now")
    page.get_by_role("button", name="Save segment").click()
    expect(page.locator("h1")).to_have_text("At risk")
    saved = stack.api.get("/v1/segments/at-risk", headers=org.headers()).json()
    assert saved["rule"]["any"][0] == {"predicted": "churn_risk", "op": "gte", "value": 0.7}
