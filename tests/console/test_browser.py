"""The console in a real Chromium: each role sees only its pages; an invited user sets a password
and signs in; customers are searched, filtered and bulk-tagged; a profile gets a note, a
message and a points adjustment; a forged write is refused; a locked sign-in stays locked."""

from __future__ import annotations

import re
import uuid

from playwright.sync_api import Page, expect

from herald.access.models import Role
from tests.console.conftest import Console, accessible
from tests.console.support import PASSWORD, add_staff
from tests.console.test_sign_in import _link_token
from tests.support import Org, Stack, create_customer, order_paid, wait_until


def sign_in(page: Page, email: str, password: str = PASSWORD) -> None:
    page.goto("/sign-in")
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Sign in").click()


def nav_links(page: Page) -> list[str]:
    return page.locator("aside nav a").all_inner_texts()


def test_each_role_sees_only_what_it_may(stack: Stack, org: Org, console: Console) -> None:
    console.refusals_expected = True  # the forbidden pages are asked for on purpose
    expected = {
        Role.owner: (
            [
                "Home",
                "Customers",
                "Segments",
                "Campaigns",
                "Loyalty",
                "Analytics",
                "Newsletter",
                "Inquiries",
                "Settings",
            ],
            ["Organization", "Messaging", "Users and roles", "API keys"],
        ),
        Role.manager: (
            [
                "Home",
                "Customers",
                "Segments",
                "Campaigns",
                "Loyalty",
                "Analytics",
                "Newsletter",
                "Inquiries",
                "Settings",
            ],
            ["Organization", "Messaging"],
        ),
        Role.cashier: (["Home", "Customers", "Loyalty", "Settings"], []),
        Role.marketing: (
            [
                "Home",
                "Customers",
                "Segments",
                "Campaigns",
                "Loyalty",
                "Analytics",
                "Newsletter",
                "Settings",
            ],
            [],
        ),
        Role.sales: (["Home", "Inquiries", "Settings"], []),
    }
    for role, (links, sections) in expected.items():
        page = console.page()
        sign_in(page, add_staff(stack.db, org, role))
        expect(page.locator("header .who")).to_contain_text(role.value)
        assert nav_links(page) == links, role
        figures = page.locator(".figures dt").all_inner_texts()
        if role is Role.sales:
            assert figures == ["Open inquiries"]
        elif role is Role.cashier:
            assert "Customers" in figures and "Campaigns sending" not in figures
        page.goto("/settings")
        tabs = page.locator("nav.tabs a").all_inner_texts()
        assert tabs == [*sections, "Your security"], role
        if role in (Role.cashier, Role.marketing, Role.sales):
            assert page.goto("/settings/users").status == 403  # type: ignore[union-attr]
            expect(page.locator("h1")).to_have_text("Forbidden")
        if role is Role.sales:
            assert page.goto("/customers").status == 403  # type: ignore[union-attr]
        if role in (Role.cashier, Role.sales):
            assert page.goto("/customers/segments").status == 403  # type: ignore[union-attr]
        if role in (Role.cashier, Role.marketing):
            assert page.goto("/inquiries").status == 403  # type: ignore[union-attr]
        if role in (Role.cashier, Role.sales):
            assert page.goto("/marketing/newsletter").status == 403  # type: ignore[union-attr]
            assert page.goto("/marketing/campaigns").status == 403  # type: ignore[union-attr]
        if role is Role.sales:
            assert page.goto("/marketing/loyalty").status == 403  # type: ignore[union-attr]
        if role is Role.cashier:
            customer = create_customer(stack, org)
            page.goto(f"/customers/{customer['id']}")
            # Cashiers see points but neither adjust them nor delete nor message.
            expect(page.locator("#h-points")).to_be_visible()
            assert page.get_by_role("button", name="Delete").count() == 0
            assert page.locator("#send").count() == 0
            assert page.locator("#points form").count() == 0


def test_an_invited_user_sets_a_password_and_signs_in(
    stack: Stack, org: Org, console: Console
) -> None:
    owner = console.page()
    sign_in(owner, add_staff(stack.db, org, Role.owner))
    owner.get_by_role("link", name="Settings").first.click()
    owner.get_by_role("link", name="Users and roles").click()
    email = f"invitee-{uuid.uuid4().hex[:6]}@shop.example"
    owner.get_by_label("Invite by email").fill(email)
    owner.get_by_label("Role", exact=True).select_option("cashier")
    owner.get_by_role("button", name="Send invitation").click()
    row = owner.locator("#users tr", has_text=email)
    expect(row).to_contain_text("invited")
    expect(owner.locator(".toast")).to_contain_text(f"Invitation sent to {email}")
    accessible(owner)

    token = _link_token(stack, org, email)
    invitee = console.page()
    invitee.goto(f"/set-password?token={token}")
    expect(invitee.locator("h1")).to_contain_text("Welcome to")
    invitee.get_by_label("New password").fill(PASSWORD)
    invitee.get_by_label("Again").fill(PASSWORD)
    invitee.get_by_role("button", name="Set password").click()
    expect(invitee.locator(".toast")).to_contain_text("Password set")
    sign_in(invitee, email)
    expect(invitee.locator("header .who")).to_contain_text(f"{email} · cashier")
    owner.reload()
    expect(owner.locator("#users tr", has_text=email)).to_contain_text("active")


def test_search_filter_and_bulk_tag_customers(stack: Stack, org: Org, console: Console) -> None:
    marker = uuid.uuid4().hex[:6]
    berlin = [
        create_customer(
            stack,
            org,
            name=f"Berlin {marker} {i}",
            addresses=[{"line1": "Unter den Linden 1", "city": "Berlin", "country": "DE"}],
        )
        for i in range(2)
    ]
    create_customer(stack, org, name=f"Paris {marker}")
    page = console.page()
    sign_in(page, add_staff(stack.db, org, Role.owner))
    page.goto("/customers")
    expect(page.locator("#stats dt").first).to_have_text("Customers")
    page.get_by_label("Search by name, email or phone").fill(marker)
    rows = page.locator("#customer-table tbody tr")
    expect(rows).to_have_count(3)
    page.get_by_text("More filters").click()
    page.get_by_label("Country").fill("DE")
    page.get_by_label("Country").press("Tab")  # leaving the field applies it
    expect(rows).to_have_count(2)
    assert "country=DE" in page.url
    accessible(page)

    for customer in berlin:
        page.get_by_label(f"Select {customer['name']}").check()
    page.get_by_text("Bulk action on customers").click()
    page.get_by_label("Action").select_option("tag")
    page.locator("input[name=bulk_tag]").fill("gold")
    page.get_by_role("button", name="Apply").click()
    dialog = page.locator("dialog#confirm")
    expect(dialog).to_be_visible()
    dialog.get_by_role("button", name="Confirm").click()
    expect(page.locator("#bulk-progress")).to_contain_text("done", timeout=30_000)
    expect(page.locator("#bulk-progress")).to_contain_text("2 changed")
    for customer in berlin:
        tags = stack.api.get(f"/v1/customers/{customer['id']}", headers=org.headers()).json()[
            "tags"
        ]
        assert tags == ["gold"]

    # Sorting by orders: the header says which way.
    page.goto(f"/customers?q={marker}")
    page.get_by_role("link", name="Orders").click()
    expect(page.locator("th[aria-sort='descending']")).to_contain_text("Orders")


def test_a_profile_takes_a_note_a_message_and_a_points_adjustment(
    stack: Stack, org: Org, console: Console
) -> None:
    customer = create_customer(stack, org, name="Grace Hopper", tags=["vip"])
    stack.api.post(
        "/v1/events",
        json=order_paid(customer["id"], f"G-{uuid.uuid4().hex[:6]}", "42.00"),
        headers=org.headers(),
    )
    template = stack.api.post(
        "/v1/templates",
        json={
            "key": "receipt-note",
            "name": "Receipt note",
            "channel": "email",
            "category": "transactional",
            "default_locale": "en",
            "variants": {"en": {"subject": "Hi", "text": "Hi", "html": "<p>Hi</p>"}},
        },
        headers=org.headers(),
    )
    assert template.status_code == 201
    wait_until(
        lambda: stack.api.get(
            f"/v1/customers/{customer['id']}/points", headers=org.headers()
        ).json()["balance"]
    )
    page = console.page()
    sign_in(page, add_staff(stack.db, org, Role.owner))
    page.goto(f"/customers/{customer['id']}")
    expect(page.locator("h1")).to_have_text("Grace Hopper")
    expect(page.get_by_role("region", name="Orders", exact=True)).to_contain_text("42.00")
    expect(page.locator("#timeline")).to_contain_text("order.paid")
    accessible(page)

    page.get_by_label("New note").fill("Prefers calls after 5pm")
    page.get_by_label("Pin it to the top").check()
    page.get_by_role("button", name="Add note").click()
    expect(page.locator("#notes-list")).to_contain_text("Prefers calls after 5pm")
    expect(page.locator("#notes-list .note.pinned")).to_have_count(1)
    page.locator("#notes-list").get_by_role("button", name="Unpin").click()
    expect(page.locator("#notes-list .note.pinned")).to_have_count(0)

    page.get_by_label("Template").select_option(label="Receipt note (email, transactional)")
    page.get_by_role("button", name="Send now").click()
    expect(page.locator("#send-result")).to_contain_text("Message sent", timeout=30_000)

    balance = int(page.locator("#points-balance").inner_text().replace(",", ""))
    page.get_by_label("Points to add").fill("50")
    page.get_by_label("Reason").fill("Apology for a late parcel")
    page.get_by_role("button", name="Adjust").click()
    expect(page.locator("#points-balance")).to_have_text(f"{balance + 50:,}")
    expect(page.locator("#points-body")).to_contain_text("Apology for a late parcel")

    # A refused change says why and changes nothing.
    console.refusals_expected = True
    page.get_by_label("Points to add").fill(str(-(balance + 1000)))
    page.get_by_label("Reason").fill("Too much")
    page.get_by_role("button", name="Adjust").click()
    expect(page.locator(".toast.error")).to_contain_text("cannot go below zero")
    expect(page.locator("#points-balance")).to_have_text(f"{balance + 50:,}")


def test_a_write_without_the_csrf_token_is_refused_in_the_browser(
    stack: Stack, org: Org, console: Console
) -> None:
    console.refusals_expected = True
    customer = create_customer(stack, org)
    page = console.page()
    sign_in(page, add_staff(stack.db, org, Role.owner))
    page.goto(f"/customers/{customer['id']}")
    status = page.evaluate(
        """async (path) => (await fetch(path, {method: 'POST', body: new URLSearchParams({body: 'forged'})})).status""",
        f"/customers/{customer['id']}/notes",
    )
    assert status == 403
    notes = stack.api.get(f"/v1/customers/{customer['id']}/notes", headers=org.headers()).json()
    assert notes == []


def test_a_locked_out_sign_in_stays_locked(stack: Stack, org: Org, console: Console) -> None:
    console.refusals_expected = True
    email = add_staff(stack.db, org, Role.manager)
    page = console.page()
    for _ in range(5):
        sign_in(page, email, "wrong password here")
        expect(page.get_by_role("alert")).to_have_text("wrong email or password")
    sign_in(page, email)
    expect(page.get_by_role("alert")).to_contain_text("too many failed sign-ins")
    assert re.search(r"/sign-in$", page.url)
    page.goto("/")
    assert "/sign-in" in page.url
