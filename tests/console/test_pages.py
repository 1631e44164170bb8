"""Every console page at desktop and phone width: no JavaScript error, no serious or critical
axe-core violation. With HERALD_SCREENSHOTS=DIR (``make screenshots``) each is saved there as
NAME-WIDTH.png, the pictures docs/console/ holds."""

from __future__ import annotations

import os
import uuid
from datetime import UTC, datetime
from pathlib import Path

from playwright.sync_api import Page, expect

from herald.access.models import Role
from herald.segments.service import get_segment, record_size
from tests.console.conftest import DESKTOP, PHONE, Console, accessible
from tests.console.support import add_staff
from tests.console.test_browser import sign_in
from tests.console.test_sign_in import _link_token
from tests.support import Org, Stack, create_customer, order_paid, wait_until

SHOTS = os.environ.get("HERALD_SCREENSHOTS")

PEOPLE = [
    ("Grace Hopper", "US", ["vip"], ["129.00", "64.50", "310.00"]),
    ("Ada Lovelace", "GB", ["vip", "newsletter"], ["89.90"]),
    ("Hedy Lamarr", "AT", [], ["45.00", "45.00"]),
    ("Alan Turing", "GB", ["wholesale"], []),
    ("Katherine Johnson", "US", [], ["12.00"]),
]


def _shop(stack: Stack, org: Org) -> tuple[str, str]:
    """A small shop to look at: customers with orders and points, a note, a template, saved
    segments with a size, an inquiry (its customer id and its id)."""
    headers = org.headers()
    stack.api.patch("/v1/organization", json={"name": "Northwind Tea"}, headers=headers)
    _program(stack, org)  # before the orders, so their points place members on the ladder
    first = ""
    for name, country, tags, amounts in PEOPLE:
        handle = name.lower().replace(" ", ".")
        customer = create_customer(
            stack,
            org,
            name=name,
            emails=[f"{handle}@example.com"],
            phones=["+14155550123"] if country == "US" else [],
            tags=tags,
            addresses=[{"line1": "1 High Street", "city": "Springfield", "country": country}],
        )
        first = first or customer["id"]
        for amount in amounts:
            event = order_paid(customer["id"], f"NW-{uuid.uuid4().hex[:6]}", amount, "USD")
            stack.api.post("/v1/events", json=event, headers=headers)
    stack.api.post(
        f"/v1/customers/{first}/notes",
        json={"body": "Orders for the office every quarter; prefers email.", "pinned": True},
        headers=headers,
    )
    stack.api.post(
        "/v1/templates",
        json={
            "key": "order-follow-up",
            "name": "Order follow-up",
            "channel": "email",
            "category": "transactional",
            "default_locale": "en",
            "variants": {
                "en": {"subject": "Your order", "text": "Thanks", "html": "<p>Thanks</p>"}
            },
        },
        headers=headers,
    )
    for key, name, rule in [
        ("vip", "VIP", {"tag": "vip"}),
        ("buyers", "Buyers", {"orders": "count", "op": "gte", "value": 1}),
    ]:
        stack.api.post(
            "/v1/segments", json={"key": key, "name": name, "rule": rule}, headers=headers
        )
    wait_until(
        lambda: stack.api.get(f"/v1/customers/{first}/points", headers=headers).json()["balance"]
    )
    today = datetime.now(UTC).date()
    with stack.db.session(org.id) as session:
        for segment in ("vip", "buyers"):
            record_size(session, get_segment(session, segment).id, today)
    inquiry = {
        "name": "Margaret Hamilton",
        "email": "margaret@apollo.example",
        "company": "Apollo Software",
        "company_size": "51-200",
        "message": "We would like points for our 30 cafés. Can we talk next week?",
    }
    inquiry_id = stack.api.post(f"/v1/public/{org.slug}/inquiries", json=inquiry).json()["id"]
    for reader, topics in [("ada.lovelace", ["news", "recipes"]), ("grace.hopper", ["news"])]:
        stack.api.post(
            "/v1/newsletter/subscribers",
            json={"email": f"{reader}@example.com", "topics": topics},
            headers=headers,
        )
    _campaigns(stack, org)
    return first, inquiry_id


def _program(stack: Stack, org: Org) -> None:
    """A tier ladder and two rewards."""
    headers = org.headers()
    ladder = {
        "basis": "points_earned",
        "tiers": [
            {"name": "Silver", "threshold": "100", "multiplier": "1.25"},
            {"name": "Gold", "threshold": "500", "multiplier": "1.5"},
        ],
    }
    stack.api.put("/v1/loyalty/tiers", json=ladder, headers=headers)
    for reward in (
        {"name": "5 off", "kind": "discount_fixed", "value": "5", "cost_points": 500},
        {"name": "Free tea sampler", "kind": "free_item", "sku": "SAMPLER", "cost_points": 900},
    ):
        stack.api.post("/v1/loyalty/rewards", json=reward, headers=headers)


def _campaigns(stack: Stack, org: Org) -> None:
    """A sent campaign to read and a draft A/B email, both made from the template library."""
    headers = org.headers()
    stack.api.put(
        "/v1/messaging/settings", json={"postal_address": "1 High Street"}, headers=headers
    )
    for key, subject in (("spring-a", "Spring is here"), ("spring-b", "New teas for spring")):
        design = {
            "preheader": "Twenty new teas",
            "blocks": [
                {"type": "heading", "text": "Hello {{ customer.first_name or 'there' }}"},
                {
                    "type": "text",
                    "text": "Our spring teas are in: [see them all](https://northwind.example/spring).",
                },
                {
                    "type": "button",
                    "label": "Shop spring",
                    "href": "https://northwind.example/spring",
                },
                {
                    "type": "columns",
                    "columns": [
                        [{"type": "heading", "level": 2, "text": "Sencha"}],
                        [{"type": "heading", "level": 2, "text": "Darjeeling"}],
                    ],
                },
            ],
        }
        template = {
            "key": key,
            "name": subject,
            "channel": "email",
            "default_locale": "en",
            "variants": {"en": {"subject": subject, "design": design}},
        }
        stack.api.post("/v1/templates", json=template, headers=headers)
    for key, name, variants, ab in [
        ("welcome-back", "Welcome back", ["spring-a"], None),
        ("spring", "Spring teas", ["spring-a", "spring-b"], {"metric": "open"}),
    ]:
        body = {
            "key": key,
            "name": name,
            "channel": "email",
            "audience": {"segment": "buyers"},
            "variants": [{"name": "AB"[i], "template": t} for i, t in enumerate(variants)],
            "ab": ab,
        }
        stack.api.post("/v1/campaigns", json=body, headers=headers)
    stack.api.post("/v1/campaigns/welcome-back/send", headers=headers)
    wait_until(
        lambda: (
            stack.api.get("/v1/campaigns/welcome-back", headers=headers).json()["status"]
            == "completed"
        )
    )


# The elements that reach past the window's right edge, outermost first (what to fix when a
# page overflows; inside a wide table's own scrolling frame, what is absolutely placed too).
WIDER_THAN_THE_SCREEN = """() => [...document.querySelectorAll("body *")]
  .filter(e => e.getBoundingClientRect().right > window.innerWidth)
  .slice(0, 5)
  .map(e => e.tagName + (e.id ? "#" + e.id : "") + (e.className ? "." + e.className : ""))"""


def _look(page: Page, name: str, width: int) -> None:
    page.wait_for_load_state("networkidle")
    expect(page.locator("[aria-busy=true]")).to_have_count(0)
    for frame in range(page.locator("iframe.preview-frame").count()):  # an email's preview
        body = page.frame_locator("iframe.preview-frame").nth(frame).locator("body")
        expect(body).not_to_have_text("")
        # A frame is drawn into a whole-page picture only once it has been on screen.
        page.locator("iframe.preview-frame").nth(frame).scroll_into_view_if_needed()
    accessible(page)
    # Nothing wider than the screen: a wide table scrolls inside its own frame.
    overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
    assert overflow <= 0, (
        f"{name} at {width}px is {overflow}px wider than the screen",
        page.evaluate(WIDER_THAN_THE_SCREEN),
    )
    if SHOTS:
        Path(SHOTS).mkdir(parents=True, exist_ok=True)
        page.screenshot(path=f"{SHOTS}/{name}-{width}.png", full_page=True)


def test_every_page_at_both_widths(
    stack: Stack, org: Org, other_org: Org, console: Console
) -> None:
    console.refusals_expected = True  # the forbidden page is one of them
    customer_id, inquiry_id = _shop(stack, org)
    rolled = stack.api.post("/v1/analytics/refresh", headers=org.headers(), timeout=60)
    assert rolled.status_code == 200, rolled.text
    owner = f"owner-{uuid.uuid4().hex[:6]}@northwind.example"
    add_staff(stack.db, org, Role.owner, owner)
    add_staff(stack.db, other_org, Role.manager, owner)  # the organization picker
    stack.api.post(
        "/v1/users/invitations",
        json={"email": "new.hire@northwind.example", "role": "marketing"},
        headers=org.headers(),
    )
    token = _link_token(stack, org, "new.hire@northwind.example")
    cashier = add_staff(stack.db, org, Role.cashier)

    for viewport in (DESKTOP, PHONE):
        width = viewport["width"]
        page = console.page(viewport)
        for name, path in [
            ("sign-in", "/sign-in"),
            ("forgot-password", "/forgot-password"),
            ("set-password", f"/set-password?token={token}"),
            ("link-expired", "/set-password?token=used-or-made-up"),
        ]:
            page.goto(path)
            _look(page, name, width)
        sign_in(page, owner)
        expect(page.locator("h1")).to_have_text("Choose an organization")
        _look(page, "choose-organization", width)
        page.get_by_label("Northwind Tea").check()
        page.get_by_role("button", name="Continue").click()
        expect(page.locator("h1")).to_have_text("Northwind Tea")
        for name, path in [
            ("home", "/"),
            ("customers", "/customers"),
            ("customer-profile", f"/customers/{customer_id}"),
            ("segments", "/customers/segments"),
            ("segment-new", "/customers/segments/new?template=at-risk"),
            ("segment", "/customers/segments/buyers"),
            ("segments-compare", "/customers/segments/compare?a=vip&b=buyers"),
            ("campaigns", "/marketing/campaigns"),
            ("campaigns-calendar", "/marketing/campaigns?view=calendar"),
            ("campaign-new", "/marketing/campaigns/new"),
            ("campaign-builder", "/marketing/campaigns/spring/edit"),
            ("campaign", "/marketing/campaigns/welcome-back"),
            ("loyalty", "/marketing/loyalty"),
            ("loyalty-earning", "/marketing/loyalty?tab=earning"),
            ("loyalty-tiers", "/marketing/loyalty?tab=tiers"),
            ("loyalty-rewards", "/marketing/loyalty?tab=rewards"),
            ("loyalty-members", "/marketing/loyalty?tab=members"),
            ("analytics", "/marketing/analytics"),
            ("analytics-12-months", "/marketing/analytics?range=12m"),
            ("newsletter", "/marketing/newsletter"),
            ("inquiries", "/inquiries"),
            ("inquiry", f"/inquiries/{inquiry_id}"),
            ("settings-organization", "/settings/organization"),
            ("settings-messaging", "/settings/messaging"),
            ("settings-users", "/settings/users"),
            ("settings-keys", "/settings/keys"),
            ("settings-security", "/settings/security"),
        ]:
            page.goto(path)
            _look(page, name, width)
        page.get_by_role("button", name="Set up two-factor sign-in").click()
        expect(page.locator("#totp-secret")).to_be_visible()
        _look(page, "settings-two-factor", width)

        restricted = console.page(viewport)
        sign_in(restricted, cashier)
        restricted.goto("/settings/users")
        expect(restricted.locator("h1")).to_have_text("Forbidden")
        _look(restricted, "forbidden", width)
