"""Staff sign-in end to end through the API process: invitations by email with a one-time link,
passwords, the failed-attempt lock, CSRF on every write, sessions that end when a user is
removed, roles changed at once, the second factor, and one email for several organizations."""

from __future__ import annotations

import html
import re
import uuid
from collections.abc import Iterator
from urllib.parse import parse_qs, urlparse

import pyotp
import pytest
import segno

from herald.access.models import Role
from tests.console.support import PASSWORD, Browser, add_staff
from tests.support import Org, Stack, create_customer, wait_until

# Sign-in state (the failed-attempt guard above all) on both databases.
pytestmark = pytest.mark.dialects


@pytest.fixture
def browser(stack: Stack) -> Iterator[Browser]:
    client = Browser(stack)
    yield client
    client.close()


def _link_token(stack: Stack, org: Org, email: str) -> str:
    """The one-time token in the newest email to ``email`` in the outbox."""
    found: dict[str, str] = {}

    def arrived() -> bool:
        items = stack.api.get("/v1/outbox", headers=org.headers()).json()["items"]
        for message in items:
            if message["recipient"] == email:
                link = re.search(
                    r"https?://\S+/set-password\?token=[\w-]+", message["content"]["text"]
                )
                if link:
                    found["token"] = parse_qs(urlparse(link.group(0)).query)["token"][0]
                    return True
        return False

    wait_until(arrived, timeout_s=10)
    return found["token"]


def test_an_invited_user_sets_a_password_once_and_signs_in_with_the_role_given(
    stack: Stack, org: Org, browser: Browser
) -> None:
    email = f"new-{uuid.uuid4().hex[:6]}@shop.example"
    invited = stack.api.post(
        "/v1/users/invitations", json={"email": email, "role": "marketing"}, headers=org.headers()
    )
    assert invited.status_code == 201, invited.text
    assert invited.json()["user"]["status"] == "invited"
    assert invited.json()["message_status"] == "sent"
    # Only those who manage staff invite.
    refused = stack.api.post(
        "/v1/users/invitations",
        json={"email": "x@shop.example", "role": "owner"},
        headers=org.headers(Role.manager),
    )
    assert refused.status_code == 403

    token = _link_token(stack, org, email)
    page = browser.get(f"/set-password?token={token}")
    assert page.status_code == 200 and email in page.text
    # Too short: refused, and the link still works.
    short = browser.post("/set-password", {"token": token, "password": "short", "confirm": "short"})
    assert short.status_code == 422 and "at least 10 characters" in short.text
    done = browser.post(
        "/set-password", {"token": token, "password": PASSWORD, "confirm": PASSWORD}
    )
    assert done.status_code == 303 and done.headers["location"].startswith("/sign-in")
    again = browser.post(
        "/set-password", {"token": token, "password": PASSWORD, "confirm": PASSWORD}
    )
    assert again.status_code == 404 and "expired or was used" in again.text

    signed_in = browser.sign_in(email)
    assert signed_in.status_code == 303
    home = browser.get("/")
    assert home.status_code == 200 and email in home.text
    # Marketing sees customers but not the staff list.
    assert browser.get("/customers").status_code == 200
    assert browser.get("/settings/users").status_code == 403
    users = stack.api.get("/v1/users", headers=org.headers()).json()
    assert {u["email"]: u["status"] for u in users}[email] == "active"


def test_five_wrong_passwords_lock_the_address_even_against_the_right_one(
    stack: Stack, org: Org, browser: Browser
) -> None:
    email = add_staff(stack.db, org, Role.cashier)
    bystander = add_staff(stack.db, org, Role.cashier)
    for _ in range(5):
        wrong = browser.sign_in(email, "not the password")
        assert wrong.status_code == 401 and "wrong email or password" in wrong.text
    locked = browser.sign_in(email)
    assert locked.status_code == 429 and "try again in" in locked.text
    assert "herald_session" not in browser.cookies
    assert browser.sign_in(email).status_code == 429  # still locked
    # The lock is the address's, not the machine's.
    assert browser.sign_in(bystander).status_code == 303


def test_a_write_without_the_csrf_token_is_refused_and_changes_nothing(
    stack: Stack, org: Org, browser: Browser
) -> None:
    customer = create_customer(stack, org)
    browser.sign_in(add_staff(stack.db, org, Role.owner))
    path = f"/customers/{customer['id']}/notes"
    forged = browser.post(path, {"body": "from another site"}, token="")
    assert forged.status_code == 403 and "CSRF" in forged.text
    stale = browser.post(path, {"body": "from another site"}, token="0" * 64)
    assert stale.status_code == 403
    notes = stack.api.get(f"/v1/customers/{customer['id']}/notes", headers=org.headers()).json()
    assert notes == []
    token = browser.csrf(f"/customers/{customer['id']}")
    made = browser.request(
        "POST",
        path,
        data={"body": "called back"},
        headers={"X-CSRF-Token": token, "HX-Request": "true"},
    )
    assert made.status_code == 200 and "called back" in made.text
    notes = stack.api.get(f"/v1/customers/{customer['id']}/notes", headers=org.headers()).json()
    assert [n["body"] for n in notes] == ["called back"]


def test_removing_a_user_ends_their_sessions_at_once_and_a_role_change_applies_at_once(
    stack: Stack, org: Org, browser: Browser
) -> None:
    email = add_staff(stack.db, org, Role.marketing)
    browser.sign_in(email)
    assert browser.get("/customers").status_code == 200
    users = {u["email"]: u for u in stack.api.get("/v1/users", headers=org.headers()).json()}
    user_id = users[email]["id"]

    changed = stack.api.patch(f"/v1/users/{user_id}", json={"role": "sales"}, headers=org.headers())
    assert changed.status_code == 200 and changed.json()["role"] == "sales"
    assert browser.get("/customers").status_code == 403  # sales: inquiries only

    assert stack.api.delete(f"/v1/users/{user_id}", headers=org.headers()).status_code == 204
    gone = browser.get("/")
    assert gone.status_code == 303 and gone.headers["location"].startswith("/sign-in")
    assert browser.sign_in(email).status_code == 401


def test_the_last_owner_who_can_sign_in_cannot_be_demoted_or_removed(
    stack: Stack, org: Org
) -> None:
    email = add_staff(stack.db, org, Role.owner)
    owner_id = {
        u["email"]: u["id"] for u in stack.api.get("/v1/users", headers=org.headers()).json()
    }[email]
    demoted = stack.api.patch(
        f"/v1/users/{owner_id}", json={"role": "manager"}, headers=org.headers()
    )
    assert demoted.status_code == 409
    assert stack.api.delete(f"/v1/users/{owner_id}", headers=org.headers()).status_code == 409
    add_staff(stack.db, org, Role.owner)
    assert stack.api.delete(f"/v1/users/{owner_id}", headers=org.headers()).status_code == 204


def test_two_factor_sign_in_asks_for_the_code_and_counts_wrong_ones(
    stack: Stack, org: Org, browser: Browser
) -> None:
    email = add_staff(stack.db, org, Role.manager)
    browser.sign_in(email)
    token = browser.csrf("/settings/security")
    started = browser.request(
        "POST",
        "/settings/security/two-factor",
        headers={"X-CSRF-Token": token, "HX-Request": "true"},
    )
    secret = re.search(r'id="totp-secret">([A-Z2-7]+)<', started.text)
    assert secret, started.text
    totp = pyotp.TOTP(secret.group(1))
    # The QR code to scan holds the same key: the app's link, drawn module by module.
    link = re.search(r'href="(otpauth://[^"]+)"', started.text)
    assert link
    drawn = re.search(r'class="qrline"[^>]* d="([^"]+)"', started.text)
    expected = segno.make(html.unescape(link.group(1)), error="m").svg_inline(scale=4, border=2)
    assert drawn and f'd="{drawn.group(1)}"' in expected
    assert f"secret={secret.group(1)}" in html.unescape(link.group(1))
    wrong = browser.request(
        "POST",
        "/settings/security/two-factor/confirm",
        data={"code": "000000" if totp.now() != "000000" else "111111"},
        headers={"X-CSRF-Token": token, "HX-Request": "true"},
    )
    assert wrong.status_code == 422 and wrong.json()["errors"][0]["field"] == "code"
    confirmed = browser.request(
        "POST",
        "/settings/security/two-factor/confirm",
        data={"code": totp.now()},
        headers={"X-CSRF-Token": token, "HX-Request": "true"},
    )
    assert confirmed.status_code == 204 and confirmed.headers["HX-Redirect"].startswith(
        "/settings/security"
    )

    fresh = Browser(stack)
    try:
        asked = fresh.sign_in(email)
        assert asked.status_code == 303 and asked.headers["location"].startswith(
            "/sign-in/continue"
        )
        assert "herald_session" not in fresh.cookies
        page = fresh.get("/sign-in/continue")
        user_id = re.search(r'name="user_id" value="([^"]+)"', page.text)
        assert user_id
        bad = fresh.post(
            "/sign-in/continue",
            {"user_id": user_id.group(1), "code": "12"},
            token=fresh.csrf("/sign-in/continue"),
        )
        assert bad.status_code == 401 and "wrong code" in bad.text
        good = fresh.post(
            "/sign-in/continue",
            {"user_id": user_id.group(1), "code": totp.now()},
            token=fresh.csrf("/sign-in/continue"),
        )
        assert good.status_code == 303 and "herald_session" in fresh.cookies
        assert fresh.get("/").status_code == 200
    finally:
        fresh.close()


def test_one_email_at_two_organizations_picks_one_after_the_password(
    stack: Stack, org: Org, other_org: Org, browser: Browser
) -> None:
    email = f"both-{uuid.uuid4().hex[:6]}@shop.example"
    add_staff(stack.db, org, Role.owner, email)
    add_staff(stack.db, other_org, Role.cashier, email)
    asked = browser.sign_in(email)
    assert asked.headers["location"].startswith("/sign-in/continue")
    page = browser.get("/sign-in/continue")
    choices = re.findall(r'name="user_id" value="([^"]+)"', page.text)
    assert len(choices) == 2
    cashier = next(
        c
        for c in choices
        if re.search(rf'value="{c}"[^>]*>\s*[^<]*<span class="muted">\(cashier', page.text)
    )
    picked = browser.post(
        "/sign-in/continue", {"user_id": cashier}, token=browser.csrf("/sign-in/continue")
    )
    assert picked.status_code == 303
    # Signed in to the other organization as its cashier: its customers, none of the first's.
    create_customer(stack, org, name="First Org Customer")
    listed = browser.get("/customers")
    assert listed.status_code == 200 and "First Org Customer" not in listed.text
    assert browser.get("/settings/organization").status_code == 403


def test_forgotten_password_sends_a_reset_link_that_ends_old_sessions(
    stack: Stack, org: Org, browser: Browser
) -> None:
    email = add_staff(stack.db, org, Role.owner)
    browser.sign_in(email)
    assert browser.get("/").status_code == 200
    other = Browser(stack)
    try:
        asked = other.post("/forgot-password", {"email": email})
        assert asked.status_code == 200 and "is on its way" in asked.text
        unknown = other.post("/forgot-password", {"email": "nobody@shop.example"})
        assert unknown.status_code == 200 and "is on its way" in unknown.text  # tells nothing
        token = _link_token(stack, org, email)
        new_password = "a brand new passphrase"
        other.post(
            "/set-password", {"token": token, "password": new_password, "confirm": new_password}
        )
        assert other.sign_in(email, new_password).status_code == 303
    finally:
        other.close()
    # The session opened with the old password has ended.
    assert browser.get("/").status_code == 303
    assert browser.sign_in(email).status_code == 401
