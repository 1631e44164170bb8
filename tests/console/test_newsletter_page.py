"""The newsletter page in a real Chromium: a marketer adds an address, finds it, sets its
topics, unsubscribes it and deletes it; the figures count what the list holds."""

from __future__ import annotations

import uuid

from playwright.sync_api import expect

from herald.access.models import Role
from tests.console.conftest import Console, accessible
from tests.console.support import add_staff
from tests.console.test_browser import sign_in
from tests.support import Org, Stack


def _subscriber(stack: Stack, org: Org, email: str) -> dict:
    listed = stack.api.get(
        "/v1/newsletter/subscribers", params={"q": email}, headers=org.headers()
    ).json()["items"]
    return listed[0] if listed else {}


def test_a_marketer_adds_finds_retopics_unsubscribes_and_deletes_an_address(
    stack: Stack, org: Org, console: Console
) -> None:
    marker = uuid.uuid4().hex[:6]
    for i in range(3):
        stack.api.post(
            "/v1/newsletter/subscribers",
            json={"email": f"reader{i}-{marker}@example.com", "topics": ["news"]},
            headers=org.headers(),
        )
    page = console.page()
    sign_in(page, add_staff(stack.db, org, Role.marketing))
    page.get_by_role("link", name="Newsletter").click()
    expect(page.locator("h1")).to_have_text("Newsletter")
    expect(page.locator(".figure").first).to_contain_text("3")
    accessible(page)

    email = f"lin-{marker}@example.com"
    page.get_by_label("Email").fill(email)
    page.get_by_label("Topics (optional)").fill("offers, news")
    page.get_by_role("button", name="Add", exact=True).click()
    expect(page.locator("#toasts")).to_contain_text(f"{email} subscribed")
    expect(page.locator(".figure").first).to_contain_text("4")
    assert _subscriber(stack, org, email)["topics"] == ["news", "offers"]

    page.get_by_label("Address contains").fill(f"lin-{marker}")
    rows = page.locator("#subscribers tbody tr")
    expect(rows).to_have_count(1)
    page.get_by_label(f"Topics of {email}").fill("recipes")
    rows.get_by_role("button", name="Save").click()
    expect(page.locator("#toasts")).to_contain_text(f"Topics of {email} saved")
    assert _subscriber(stack, org, email)["topics"] == ["recipes"]

    page.get_by_role("button", name=f"Unsubscribe {email}").click()
    page.locator("dialog#confirm").get_by_role("button", name="Confirm").click()
    expect(rows.first).to_contain_text("unsubscribed")
    assert _subscriber(stack, org, email)["status"] == "unsubscribed"

    # A topic no address holds finds nobody.
    page.get_by_label("Address contains").fill("")
    page.get_by_label("Topic", exact=True).fill("nothing-here")
    page.get_by_label("Topic", exact=True).press("Tab")
    expect(page.locator("#subscribers")).to_contain_text("No subscriber here")

    page.goto("/marketing/newsletter")
    page.get_by_role("button", name=f"Delete {email}").click()
    page.locator("dialog#confirm").get_by_role("button", name="Confirm").click()
    expect(page.locator("#toasts")).to_contain_text("Subscriber deleted")
    assert _subscriber(stack, org, email) == {}
    expect(page.locator("#subscribers")).not_to_contain_text(email)
