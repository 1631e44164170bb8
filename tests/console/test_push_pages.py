"""Push in the console, in a real Chromium: the owner pastes the Firebase key file, the page
then names the account and project (never the key), and a paste that is no key is refused with
the reason; a customer's profile lists their devices, the one FCM called dead marked so."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest
from playwright.sync_api import expect

from herald.access.models import Role
from herald.fake_fcm import FakeFcm
from tests.console.conftest import Console, accessible
from tests.console.support import add_staff
from tests.console.test_browser import sign_in
from tests.messaging.test_push import PUSH, app_token, configure_fcm, send_to, template
from tests.support import Org, Stack, create_customer


@pytest.fixture
def fcm() -> Iterator[FakeFcm]:
    fake = FakeFcm().start()
    yield fake
    fake.stop()


def test_the_owner_sets_up_push_with_the_firebase_key_file(
    stack: Stack, org: Org, console: Console, fcm: FakeFcm
) -> None:
    console.refusals_expected = True  # the first paste is refused (422)
    page = console.page()
    sign_in(page, add_staff(stack.db, org, Role.owner))
    page.goto("/settings/messaging")
    key = page.get_by_label("Firebase service-account key")
    key.fill("{not a key file")
    page.get_by_role("button", name="Save messaging settings").click()
    expect(page.get_by_role("alert")).to_contain_text("not a key file")
    assert (
        stack.api.get("/v1/messaging/settings", headers=org.headers()).json()["push_provider"]
        == "outbox"
    )

    key.fill(json.dumps(fcm.service_account(), indent=2))
    page.get_by_label("FCM address").fill(fcm.url)
    page.get_by_role("button", name="Save messaging settings").click()
    expect(page.get_by_text("Messaging settings saved")).to_be_visible()
    page.reload()
    expect(page.get_by_text(f"set: {fcm.client_email}, project {fcm.project_id}")).to_be_visible()
    expect(page.get_by_text("Push: fcm")).to_be_visible()
    assert "PRIVATE KEY" not in page.content()
    accessible(page)


def test_a_profile_shows_the_customer_s_devices_and_which_fcm_called_dead(
    stack: Stack, org: Org, console: Console, fcm: FakeFcm
) -> None:
    configure_fcm(stack, org, fcm)
    customer = create_customer(stack, org, name="Mai Tran")["id"]
    app = app_token(stack, org, customer)
    for token, platform in (("phone-token-0001", "android"), ("unregistered-tab-0002", "ios")):
        stack.api.post("/v1/app/devices", json={"token": token, "platform": platform}, headers=app)
    assert (
        send_to(stack, org, template(stack, org, "basket", "push", PUSH), customer)["status"]
        == "sent"
    )

    page = console.page()
    sign_in(page, add_staff(stack.db, org, Role.marketing))
    page.goto(f"/customers/{customer}")
    devices = page.get_by_role("region", name="Push devices").get_by_role("listitem")
    expect(devices).to_have_count(2)
    expect(devices.filter(has_text="android")).to_contain_text("active")
    dead = devices.filter(has_text="ios")
    expect(dead).to_contain_text("deactivated")
    expect(dead).to_contain_text("UNREGISTERED")
    assert "phone-token-0001" not in page.content()  # tokens stay out of the page
    accessible(page)
