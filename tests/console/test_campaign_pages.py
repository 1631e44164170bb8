"""The campaign pages in a real Chromium: a marketer starts a campaign from the template
library, builds the email from blocks (dragged and typed), previews it at both widths and for a
customer, sends a test, adds a language and a second variant, A/B-sends it to a segment, follows
its progress to the winner, then duplicates and archives it."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

from playwright.sync_api import Page, expect

from herald.access.models import Role
from tests.campaigns.test_campaigns import _settings
from tests.console.conftest import PHONE, Console, accessible
from tests.console.support import add_staff
from tests.console.test_browser import sign_in
from tests.seed import seed_email_audience
from tests.support import Org, Stack, create_customer, wait_until


def _readers(stack: Stack, org: Org, count: int) -> None:
    seed_email_audience(stack.db, org.id, count)
    segment = {"key": "readers", "name": "Readers", "rule": {"consent": "email"}}
    assert stack.api.post("/v1/segments", json=segment, headers=org.headers()).status_code == 201


def _template(stack: Stack, org: Org, key: str) -> dict[str, Any]:
    listed = stack.api.get("/v1/templates", headers=org.headers(), params={"limit": 200}).json()
    return next(t for t in listed["items"] if t["key"] == key)


def _campaign(stack: Stack, org: Org, key: str) -> dict[str, Any]:
    return stack.api.get(f"/v1/campaigns/{key}", headers=org.headers()).json()  # type: ignore[no-any-return]


def _sent_to(stack: Stack, org: Org, address: str) -> list[dict[str, Any]]:
    outbox = stack.api.get("/v1/outbox", headers=org.headers(), params={"limit": 200}).json()
    return [m for m in outbox["items"] if m["recipient"] == address]


def _toast(page: Page, text: str) -> None:
    expect(page.locator("#toasts")).to_contain_text(text)


def _confirm(page: Page) -> None:
    page.locator("dialog#confirm").get_by_role("button", name="Confirm").click()


def _drag(page: Page, source: Any, target: Any) -> None:
    """Drag with the mouse, in steps, as a hand does (the editor's drag and drop follows the
    pointer, not the browser's native drag events)."""
    target.scroll_into_view_if_needed()
    start, end = source.bounding_box(), target.bounding_box()
    page.mouse.move(start["x"] + start["width"] / 2, start["y"] + start["height"] / 2)
    page.mouse.down()
    for step in range(1, 11):
        page.mouse.move(
            start["x"] + (end["x"] + 20 - start["x"]) * step / 10,
            start["y"] + (end["y"] + 5 - start["y"]) * step / 10,
        )
    page.mouse.up()


def test_a_marketer_builds_previews_tests_and_ab_sends_an_email_campaign(
    stack: Stack, org: Org, console: Console
) -> None:
    console.refusals_expected = True  # a bad block is refused on purpose
    _settings(stack, org)  # a postal address, and the local outbox
    _readers(stack, org, 12)
    ada = create_customer(stack, org, name="Ada Lovelace", emails=["ada@example.com"])
    page = console.page()
    sign_in(page, add_staff(stack.db, org, Role.marketing))
    page.get_by_role("link", name="Campaigns").click()
    expect(page.locator("h1")).to_have_text("Campaigns")
    expect(page.locator("#campaigns")).to_contain_text("No campaign here")
    page.get_by_role("link", name="New campaign").click()

    # Name, recipients with their count, and a starter from the library.
    page.get_by_label("Name").fill("Spring sale")
    page.get_by_label("Segment", exact=True).select_option("readers")
    expect(page.locator("#audience-size")).to_contain_text("12 customers now")
    page.get_by_label("Chosen customers").check()
    page.get_by_label("Customers (one email or id per line)").fill("ada@example.com")
    page.get_by_label("Customers (one email or id per line)").dispatch_event("change")
    expect(page.locator("#audience-size")).to_contain_text("1 customer now")
    page.get_by_label("A segment").check()
    expect(page.locator("#audience-size")).to_contain_text("12 customers")
    page.get_by_label("Promotion").check()
    accessible(page)
    page.get_by_role("button", name="Create draft").click()
    expect(page.locator("h1")).to_have_text("Spring sale")
    _toast(page, "Draft saved")

    # The email from blocks: one dragged in from the palette, one added with a click, a token.
    canvas = page.locator("[data-canvas]")
    blocks = canvas.locator(":scope > .block")
    before = blocks.count()
    _drag(page, page.locator(".palette-item[data-type=text]"), blocks.first)
    expect(blocks).to_have_count(before + 1)
    dropped = canvas.locator(":scope > .block[data-type=text]").first
    dropped.get_by_label("Text", exact=True).fill("Dear ")
    page.get_by_label("Insert a personalization token").select_option(label="First name")
    expect(dropped.get_by_label("Text", exact=True)).to_have_value(
        "Dear {{ customer.first_name or 'there' }}"
    )
    page.get_by_role("button", name="+ Divider").click()
    expect(blocks).to_have_count(before + 2)
    page.get_by_role("button", name="Move Divider up").last.click()
    page.get_by_label("Subject", exact=True).fill(
        "Spring is here, {{ customer.first_name or 'friend' }}"
    )
    accessible(page)
    page.get_by_role("button", name="Save en").click()
    _toast(page, "Content saved")
    design = _template(stack, org, "spring-sale-a")["variants"]["en"]["design"]
    kinds = [b["type"] for b in design["blocks"]]
    assert kinds[0] == "text" and kinds[-2:] == ["divider", "text"], kinds
    assert design["blocks"][0]["text"] == "Dear {{ customer.first_name or 'there' }}"

    # A bad block is named and marked, and nothing is saved.
    page.get_by_role("button", name="+ Image").click()
    page.get_by_label("Picture address").fill("not a link")
    page.get_by_role("button", name="Save en").click()
    _toast(page, f"Block {len(kinds) + 1}: give a web address")
    expect(canvas.locator(".block-invalid")).to_have_count(1)
    assert len(_template(stack, org, "spring-sale-a")["variants"]["en"]["design"]["blocks"]) == len(
        kinds
    )
    page.get_by_role("button", name="Remove Image").click()

    # Each recipient's own recommended products, as a block.
    page.get_by_role("button", name="+ Recommended products").click()
    page.get_by_label("How many").fill("2")
    page.get_by_role("button", name="Save en").click()
    _toast(page, "Content saved")
    saved = _template(stack, org, "spring-sale-a")["variants"]["en"]
    assert saved["design"]["blocks"][-1] == {"type": "recommended", "count": 2}
    assert saved["html"].count("{{ recommendations(2) }}") == 1

    # Preview at both widths, with sample data and for a customer.
    frame = page.locator("iframe.preview-frame")
    expect(frame).to_have_attribute("style", "width: 680px")
    expect(page.frame_locator("iframe.preview-frame").locator("body")).to_contain_text("Dear Alex")
    # A test with the sample data: the email as the preview shows it, its links included.
    page.get_by_label("Send a test of variant A to").fill("me@shop.example")
    page.get_by_role("button", name="Send test").click()
    expect(page.locator("#test-result")).to_contain_text("Test sent")
    (sample,) = _sent_to(stack, org, "me@shop.example")
    assert sample["content"]["subject"] == "Spring is here, Alex"
    assert "/unsubscribe/" in sample["content"]["html"]
    page.get_by_label("phone (390 px)").check()
    expect(frame).to_have_attribute("style", "width: 390px")
    page.get_by_label("As this customer").fill("ada@example.com")
    page.get_by_role("button", name="Show").click()
    expect(page.frame_locator("iframe.preview-frame").locator("body")).to_contain_text("Dear Ada")
    expect(page.locator("[data-preview-subject]")).to_have_text("Spring is here, Ada")

    # A test for the customer the preview shows goes through the delivery path too.
    page.get_by_role("button", name="Send test").click()
    sent = wait_until(lambda: len(tests := _sent_to(stack, org, "me@shop.example")) == 2 and tests)
    assert {m["content"]["subject"] for m in sent} == {
        "Spring is here, Alex",
        "Spring is here, Ada",
    }

    # A second language and a second variant.
    page.get_by_label("Add a language").fill("de")
    page.get_by_role("button", name="Add", exact=True).click()
    expect(page.locator(".notice")).to_contain_text("A new language")
    page.get_by_label("Subject", exact=True).fill("Der Frühling ist da")
    page.get_by_role("button", name="Save de").click()
    _toast(page, "Language added")
    assert set(_template(stack, org, "spring-sale-a")["variants"]) == {"en", "de"}
    page.get_by_role("button", name="+ Add a variant").click()
    _toast(page, "Variant B added")
    expect(page.get_by_role("link", name="Variant B")).to_have_attribute("aria-current", "page")
    page.get_by_label("Subject", exact=True).fill("Last days of spring")
    page.get_by_role("button", name="Save en").click()
    _toast(page, "Content saved")

    # The A/B test: a fifth of the readers first, a minute to see opens, then the rest.
    page.get_by_label("Test first").check()
    page.get_by_label("Test group (% of recipients)").fill("50")
    page.get_by_label("Winner by").select_option("open")
    page.get_by_label("Wait for results (minutes)").fill("1")
    page.get_by_role("button", name="Save the test").click()
    _toast(page, "A/B test saved")
    ab = _campaign(stack, org, "spring-sale")["ab"]
    assert ab["test_fraction"] == 0.5 and ab["metric"] == "open" and ab["window"] == "PT1M"

    page.get_by_role("button", name="Send", exact=True).click()
    expect(page.locator("#confirm-text")).to_contain_text("to 12 customers")
    _confirm(page)
    _toast(page, "Sending")
    expect(page.locator("h1")).to_have_text("Spring sale")
    # The progress refreshes itself: the test group, then the window, then everyone.
    expect(page.locator("[data-status]")).to_have_text("testing", timeout=30_000)
    expect(page.locator("[data-handed]")).to_have_text("6")
    expect(page.locator("[data-status]")).to_have_text("completed", timeout=120_000)
    expect(page.locator("[data-handed]")).to_have_text("12")
    results = page.locator("table.results tbody tr")
    expect(results).to_have_count(2)
    expect(page.locator(".decision")).to_contain_text("won")
    accessible(page)
    with page.expect_download() as download:
        page.get_by_role("link", name="Export report (CSV)").click()
    assert download.value.suggested_filename == "campaign-spring-sale.csv"

    # Duplicate: a draft with its own templates; archive: out of the list, results kept.
    page.get_by_role("button", name="Duplicate").click()
    _toast(page, "Copied as Spring sale (copy)")
    expect(page.locator("h1")).to_have_text("Spring sale (copy)")
    page.goto("/marketing/campaigns/spring-sale")
    page.get_by_role("button", name="Archive").click()
    _confirm(page)
    _toast(page, "Archived")
    expect(page.locator("#campaigns tbody tr")).to_have_count(1)
    expect(page.locator("#campaigns tbody tr")).to_contain_text("Spring sale (copy)")
    page.get_by_label("Status").select_option("archived")
    expect(page.locator("#campaigns tbody tr")).to_have_count(1)
    expect(page.locator("#campaigns tbody tr")).not_to_contain_text("(copy)")
    assert _campaign(stack, org, "spring-sale")["status"] == "archived"
    assert ada["id"]


def test_text_push_and_in_app_composers_preview_what_goes_out(
    stack: Stack, org: Org, console: Console
) -> None:
    _readers(stack, org, 3)
    page = console.page(PHONE)
    sign_in(page, add_staff(stack.db, org, Role.marketing))
    page.goto("/marketing/campaigns/new?channel=sms")
    name = f"Flash {uuid.uuid4().hex[:4]}"
    page.get_by_label("Name").fill(name)
    page.get_by_label("Segment", exact=True).select_option("readers")
    expect(page.locator("#audience-size")).to_contain_text("3 customers")
    page.get_by_role("button", name="Create draft").click()
    expect(page.locator("h1")).to_have_text(name)
    page.get_by_label("Message").fill("Flash sale ☀️ today only " + "x" * 40)
    page.get_by_role("button", name="Save en").click()
    _toast(page, "Content saved")
    expect(page.locator("#preview")).to_contain_text("UCS-2: sent as 1 part")
    accessible(page)

    page.goto("/marketing/campaigns/new?channel=push")
    page.get_by_label("Name").fill("App news")
    page.get_by_label("Segment", exact=True).select_option("readers")
    page.get_by_role("button", name="Create draft").click()
    expect(page.locator("h1")).to_have_text("App news")
    page.get_by_label("Title").fill("New in the app")
    page.get_by_label("Opens (link or app screen, optional)").fill("myapp://news")
    page.get_by_role("button", name="Save en").click()
    _toast(page, "Content saved")
    expect(page.locator("#preview .notification")).to_contain_text("New in the app")
    expect(page.locator("#preview")).to_contain_text("Opens myapp://news")


def test_the_calendar_shows_campaigns_on_their_day(
    stack: Stack, org: Org, console: Console
) -> None:
    _readers(stack, org, 1)
    template = {
        "key": "note",
        "name": "Note",
        "channel": "email",
        "default_locale": "en",
        "variants": {"en": {"subject": "Hi", "html": "<p>Hi</p>"}},
    }
    stack.api.post("/v1/templates", json=template, headers=org.headers())
    for key, day in (("early", "2031-03-02"), ("late", "2031-03-27")):
        body = {
            "key": key,
            "name": key.title(),
            "channel": "email",
            "audience": {"segment": "readers"},
            "variants": [{"name": "A", "template": "note"}],
            "send_at": f"{day}T09:00:00+00:00",
        }
        assert stack.api.post("/v1/campaigns", json=body, headers=org.headers()).status_code == 201
    page = console.page()
    sign_in(page, add_staff(stack.db, org, Role.manager))
    page.goto("/marketing/campaigns?view=calendar&month=2031-03")
    expect(page.locator("h2#h-month")).to_have_text("March 2031")
    cell = page.locator("td", has=page.locator(".daynum", has_text="27")).filter(
        has_not=page.locator(".other-month")
    )
    expect(cell.locator(".cal-item")).to_have_text(["Late"])
    accessible(page)
    page.get_by_role("link", name="Next month").click()
    expect(page.locator("h2#h-month")).to_have_text("April 2031")
    expect(page.locator(".cal-item")).to_have_count(0)

    # A draft with no time yet is on the day it was made: this month opens by default.
    body = {**body, "key": "undated", "name": "Undated", "send_at": None}
    assert stack.api.post("/v1/campaigns", json=body, headers=org.headers()).status_code == 201
    page.get_by_role("link", name="Calendar").click()
    today = datetime.now(UTC)
    expect(page.locator("h2#h-month")).to_have_text(today.strftime("%B %Y"))
    expect(page.locator(".cal-item")).to_have_text(["Undated"])
    expect(page.locator(".agenda li")).to_contain_text(["Undated"])


def test_a_campaign_scheduled_for_later_waits_and_can_be_cancelled(
    stack: Stack, org: Org, console: Console
) -> None:
    _settings(stack, org)
    _readers(stack, org, 2)
    page = console.page()
    sign_in(page, add_staff(stack.db, org, Role.marketing))
    page.goto("/marketing/campaigns/new?channel=in_app")
    page.get_by_label("Name").fill("Next week")
    page.get_by_label("Segment", exact=True).select_option("readers")
    page.get_by_role("button", name="Create draft").click()
    expect(page.locator("h1")).to_have_text("Next week")
    page.get_by_label("At a time").check()
    page.get_by_label("Day and time (your time zone)").fill("2031-05-04T09:30")
    page.get_by_role("button", name="Send", exact=True).click()
    _confirm(page)
    _toast(page, "Scheduled")
    expect(page.locator("[data-status]")).to_have_text("scheduled")
    shown = _campaign(stack, org, "next-week")
    assert shown["status"] == "scheduled" and shown["send_at"].startswith("2031-05-04")
    page.get_by_role("button", name="Cancel send").click()
    _confirm(page)
    _toast(page, "Cancelling")
    expect(page.locator("[data-status]")).to_have_text("cancelled", timeout=30_000)
    assert _campaign(stack, org, "next-week")["progress"]["handed_over"] == 0
