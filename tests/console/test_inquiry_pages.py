"""The sales inbox in a real Chromium: an inquiry from the contact form appears while the
inbox is open; sales assign it to themselves, reply by email once, and mark it won, which
creates the customer's profile."""

from __future__ import annotations

import uuid

from playwright.sync_api import expect

from herald.access.models import Role
from tests.console.conftest import Console, accessible
from tests.console.support import add_staff
from tests.console.test_browser import sign_in
from tests.support import Org, Stack, wait_until


def test_sales_answer_an_inquiry_that_arrived_live(
    stack: Stack, org: Org, console: Console
) -> None:
    email = add_staff(stack.db, org, Role.sales)
    page = console.page()
    sign_in(page, email)
    page.get_by_role("link", name="Inquiries").click()
    expect(page.locator("h1")).to_have_text("Inquiries")
    expect(page.locator("#inbox")).to_contain_text("No inquiry here yet")
    accessible(page)

    lead = f"ada-{uuid.uuid4().hex[:6]}@engines.example"
    form = {
        "name": "Ada Lovelace",
        "email": lead,
        "company": "Analytical Engines",
        "message": "Could your loyalty program run in our 12 shops?",
    }
    sent = stack.api.post(f"/v1/public/{org.slug}/inquiries", json=form)
    assert sent.status_code == 202, sent.text
    inquiry_id = sent.json()["id"]
    row = page.locator("#inbox tbody tr", has_text="Ada Lovelace")
    expect(row).to_contain_text("new", timeout=10_000)  # without reloading the page
    wait_until(  # its follow-up run has started (it notified the team)
        lambda: (
            "notified"
            in [
                e["kind"]
                for e in stack.api.get(
                    f"/v1/inquiries/{inquiry_id}", headers=org.headers(Role.sales)
                ).json()["timeline"]
            ]
        )
    )

    row.get_by_role("link", name="Ada Lovelace").click()
    expect(page.locator("h1")).to_have_text("Ada Lovelace")
    expect(page.locator("section[aria-labelledby=h-message]")).to_contain_text("12 shops")
    accessible(page)
    page.get_by_label("To", exact=True).select_option(label=f"{email} (sales)")
    page.get_by_role("button", name="Assign").click()
    expect(page.locator("#toasts")).to_contain_text("Assigned")
    expect(page.locator(".profile-head .tag")).to_have_text("assigned")

    page.get_by_role("textbox", name="Message").fill("Yes: ten euros per shop and month.")
    page.get_by_role("button", name="Send the reply").click()
    expect(page.locator("#toasts")).to_contain_text("Reply sent")
    expect(page.locator(".profile-head .tag")).to_have_text("replied")
    expect(page.locator(".timeline li").first).to_contain_text("replied · ")
    expect(page.locator(".timeline li").first).to_contain_text(f"{email}")
    expect(page.locator(".timeline li").first).to_contain_text("Re: your inquiry")
    outbox = stack.api.get("/v1/outbox?limit=200", headers=org.headers()).json()["items"]
    assert [m["content"]["subject"] for m in outbox if m["recipient"] == lead] == [
        "Re: your inquiry"
    ]

    page.get_by_role("button", name="Won").click()
    page.locator("dialog#confirm").get_by_role("button", name="Confirm").click()
    expect(page.locator("#toasts")).to_contain_text("Marked as won")
    expect(page.locator(".profile-head .tag")).to_have_text("converted")
    expect(page.get_by_text("it no longer changes")).to_be_visible()
    assert page.get_by_role("button", name="Lost").count() == 0
    customer_id = stack.api.get(
        f"/v1/inquiries/{inquiry_id}", headers=org.headers(Role.sales)
    ).json()["customer_id"]
    customer = stack.api.get(f"/v1/customers/{customer_id}", headers=org.headers()).json()
    assert lead in [e["address"] for e in customer["emails"]]
    # Sales do not see customer profiles: the page does not link to one.
    expect(page.locator("section[aria-labelledby=h-message]")).to_contain_text("a customer now")
    assert page.get_by_role("link", name="their profile").count() == 0
