"""The loyalty page in a real Chromium: an owner sets the earning rate, changes the tier ladder,
adds and withdraws a reward, finds a member and corrects their points with a reason; a marketer
reads the same page without the controls that change it."""

from __future__ import annotations

import uuid
from typing import Any

from playwright.sync_api import Page, expect

from herald.access.models import Role
from tests.console.conftest import Console, accessible
from tests.console.support import add_staff
from tests.console.test_browser import sign_in
from tests.support import Org, Stack, create_customer, order_paid, wait_until


def _balance(stack: Stack, org: Org, customer_id: str) -> int:
    points = stack.api.get(f"/v1/customers/{customer_id}/points", headers=org.headers())
    return int(points.json()["balance"])


def _save(within: Any, page: Page, button: str, toast: str) -> None:
    """Press a save button; the page comes back with the toast that says it was saved."""
    with page.expect_navigation():
        within.get_by_role("button", name=button).click()
    expect(page.locator("#toasts")).to_contain_text(toast)


def test_an_owner_tunes_the_program_and_corrects_a_members_points(
    stack: Stack, org: Org, console: Console
) -> None:
    console.refusals_expected = True  # a ladder out of order is refused on purpose
    headers = org.headers()
    marker = uuid.uuid4().hex[:6]
    grace = create_customer(stack, org, name=f"Grace {marker}", emails=[f"grace-{marker}@ex.com"])
    stack.api.post(
        "/v1/events", json=order_paid(grace["id"], f"G-{marker}", "120.00", "USD"), headers=headers
    )
    wait_until(lambda: _balance(stack, org, grace["id"]) == 120)

    page = console.page()
    sign_in(page, add_staff(stack.db, org, Role.owner))
    page.get_by_role("link", name="Loyalty").click()
    expect(page.locator("h1")).to_have_text("Loyalty")
    expect(page.locator(".figure").first).to_contain_text("1")  # one member
    expect(page.locator(".figures")).to_contain_text("120")  # the points they hold
    accessible(page)

    page.get_by_role("link", name="Earning rules").click()
    page.get_by_label("Points per unit of money spent").fill("2")
    _save(page, page, "Save earning rules", "Settings saved")
    settings = stack.api.get("/v1/loyalty/settings", headers=headers).json()
    assert settings["points_per_unit"] == "2"
    page.get_by_label("Points for the member who referred them").fill("250")
    _save(page, page, "Save referral", "Settings saved")
    settings = stack.api.get("/v1/loyalty/settings", headers=headers).json()
    assert settings["referral_points_referrer"] == 250 and settings["points_per_unit"] == "2"
    accessible(page)

    page.get_by_role("link", name="Tiers").click()
    page.get_by_label("Tier 1 name").fill("Silver")
    page.get_by_label("Tier 1 threshold").fill("100")
    page.get_by_label("Tier 1 multiplier").fill("1.5")
    page.get_by_label("Tier 2 name").fill("Gold")
    page.get_by_label("Tier 2 threshold").fill("50")  # below Silver: refused
    page.get_by_role("button", name="Save tiers").click()
    expect(page.locator("#toasts")).to_contain_text("threshold must be above")
    assert stack.api.get("/v1/loyalty/tiers", headers=headers).json()["tiers"] == []
    page.get_by_label("Tier 2 threshold").fill("1000")
    _save(page, page, "Save tiers", "Tiers saved")
    ladder = stack.api.get("/v1/loyalty/tiers", headers=headers).json()
    assert [(t["name"], t["threshold"], t["multiplier"]) for t in ladder["tiers"]] == [
        ("Silver", "100", "1.5"),
        ("Gold", "1000", "1"),
    ]
    page.get_by_label("Remove Gold").check()
    _save(page, page, "Save tiers", "Tiers saved")
    assert [
        t["name"] for t in stack.api.get("/v1/loyalty/tiers", headers=headers).json()["tiers"]
    ] == ["Silver"]
    accessible(page)

    page.get_by_role("link", name="Rewards").click()
    expect(page.locator("#h-rewards + .empty")).to_contain_text("No reward yet")
    page.get_by_label("Name", exact=True).fill("5 off")
    page.get_by_label("Discount (amount or %)").fill("5")
    page.get_by_label("Points", exact=True).fill("500")
    _save(page, page, "Add reward", "5 off added")
    reward = page.get_by_role("form", name="5 off")
    reward.get_by_label("Offered").uncheck()
    _save(reward, page, "Save", "5 off saved")
    (listed,) = stack.api.get("/v1/loyalty/rewards", headers=headers).json()
    assert listed["cost_points"] == 500 and listed["active"] is False
    accessible(page)

    # The next order, at the new rate, moves Grace up the new ladder.
    stack.api.post(
        "/v1/events", json=order_paid(grace["id"], f"H-{marker}", "10.00", "USD"), headers=headers
    )
    wait_until(lambda: _balance(stack, org, grace["id"]) == 140)
    page.get_by_role("link", name="Members").click()
    page.get_by_label("Name, email or phone").fill(f"grace-{marker}")
    rows = page.locator("#members tbody tr")
    expect(rows).to_have_count(1)
    expect(rows.first).to_contain_text("Silver")  # 140 points earned reach Silver
    rows.first.get_by_text("Adjust").click()
    rows.first.get_by_label("Points (negative to remove)").fill("-20")
    rows.first.get_by_label("Reason").fill("Returned a parcel")
    _save(rows.first, page, "Record", "-20 points recorded")
    expect(page.locator("#members [data-balance]")).to_have_text(["120"])
    assert _balance(stack, org, grace["id"]) == 120
    page.get_by_label("Tier").select_option("(none)")
    expect(page.locator("#members")).to_contain_text("No member here")
    accessible(page)


def test_a_marketer_reads_the_program_but_changes_nothing(
    stack: Stack, org: Org, console: Console
) -> None:
    page = console.page()
    sign_in(page, add_staff(stack.db, org, Role.marketing))
    page.goto("/marketing/loyalty?tab=tiers")
    expect(page.locator("h2#h-tiers")).to_be_visible()
    assert page.get_by_role("button", name="Save tiers").count() == 0
    expect(page.get_by_label("Tier 1 name")).to_be_disabled()
    page.goto("/marketing/loyalty?tab=members")
    assert page.get_by_text("Adjust").count() == 0
    console.refusals_expected = True
    forged = page.request.post(
        "/marketing/loyalty/tiers",
        form={"basis": "points_earned", "rows": "1", "name_0": "Mine", "threshold_0": "1"},
        headers={
            "X-CSRF-Token": page.locator("meta[name=csrf-token]").get_attribute("content") or ""
        },
    )
    assert forged.status == 403
    assert stack.api.get("/v1/loyalty/tiers", headers=org.headers()).json()["tiers"] == []
