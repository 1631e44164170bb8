"""Marketing email carries one-click unsubscribe (RFC 8058) and the sender's postal address."""

from __future__ import annotations

from typing import Any

from tests.fakes import FakeProviders
from tests.support import Org, Stack, create_customer

PROMO = {
    "key": "promo",
    "name": "Promo",
    "channel": "email",
    "category": "marketing",
    "default_locale": "en",
    "variants": {
        "en": {
            "subject": "Sale, {{ customer.first_name }}",
            "html": '<p>Sale!</p><a href="{{ unsubscribe_url }}">Unsubscribe</a>',
            "text": "Sale! Leave: {{ unsubscribe_url }}",
        }
    },
}


def _promo_to(stack: Stack, org: Org, customer: dict[str, Any]) -> dict[str, Any]:
    template = stack.api.post("/v1/templates", json=PROMO, headers=org.headers()).json()
    response = stack.api.post(
        f"/v1/templates/{template['id']}/test-send",
        json={"customer_id": customer["id"]},
        headers=org.headers(),
    )
    assert response.status_code == 200, response.text
    return response.json()  # type: ignore[no-any-return]


def test_the_outbox_shows_unsubscribe_headers_and_the_postal_address(
    stack: Stack, org: Org
) -> None:
    stack.api.put(
        "/v1/messaging/settings",
        json={"postal_address": "1 Main St, Springfield"},
        headers=org.headers(),
    )
    customer = create_customer(stack, org, name="Lou Reed")
    message = _promo_to(stack, org, customer)
    headers = message["content"]["headers"]
    url = headers["List-Unsubscribe"].strip("<>")
    assert url.startswith("http://127.0.0.1:8000/v1/public/") and "/unsubscribe/" in url
    assert headers["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert f'href="{url}"' in message["content"]["html"]
    assert "1 Main St, Springfield" in message["content"]["html"]
    assert message["content"]["text"].endswith("1 Main St, Springfield")
    outbox = stack.api.get("/v1/outbox", headers=org.headers()).json()["items"]
    assert outbox[0]["content"]["headers"] == headers


def test_one_click_unsubscribe_revokes_consent_and_get_changes_nothing(
    stack: Stack, org: Org, other_org: Org
) -> None:
    customer = create_customer(stack, org)
    consent = f"/v1/customers/{customer['id']}/consent"
    stack.api.put(consent, json={"email": "granted"}, headers=org.headers())
    url = _promo_to(stack, org, customer)["content"]["headers"]["List-Unsubscribe"].strip("<>")
    path = url.split("127.0.0.1:8000", 1)[1]

    page = stack.api.get(path)
    assert page.status_code == 200 and "<form method=post>" in page.text
    assert stack.api.get(consent, headers=org.headers()).json()["channels"]["email"] == "granted"

    # Another brand's slug, or an altered token, changes nothing.
    assert stack.api.post(path.replace(org.slug, other_org.slug)).status_code == 404
    assert stack.api.post(path[:-3] + "AAA").status_code == 404
    assert stack.api.get(consent, headers=org.headers()).json()["channels"]["email"] == "granted"

    done = stack.api.post(
        path,
        content=b"List-Unsubscribe=One-Click",
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    assert done.status_code == 200 and "unsubscribed" in done.text
    assert stack.api.get(consent, headers=org.headers()).json()["channels"]["email"] == "revoked"
    assert stack.api.post(path).status_code == 200  # a second click is harmless


def test_sendgrid_receives_the_unsubscribe_headers(
    stack: Stack, org: Org, fake_providers: FakeProviders
) -> None:
    stack.api.put(
        "/v1/messaging/settings",
        json={
            "email_from": "shop@example.com",
            "sendgrid_api_key": "SG.k",
            "sendgrid_host": fake_providers.url,
            "postal_address": "2 High St",
        },
        headers=org.headers(),
    )
    customer = create_customer(stack, org)
    message = _promo_to(stack, org, customer)
    [request] = fake_providers.accepted("/v3/mail/send")
    assert request.body["personalizations"][0]["headers"] == message["content"]["headers"]
    assert "2 High St" in request.body["content"][-1]["value"]


def test_herald_tracks_opens_and_clicks_where_the_provider_does_not(stack: Stack, org: Org) -> None:
    template = {
        **PROMO,
        "key": "tracked",
        "variants": {
            "en": {
                "subject": "Sale",
                "html": '<a href="https://shop.example/sale?a=1&b=2">Shop</a> '
                '<a href="{{ unsubscribe_url }}">Leave</a>',
            }
        },
    }
    customer = create_customer(stack, org)
    created = stack.api.post("/v1/templates", json=template, headers=org.headers()).json()
    message = stack.api.post(
        f"/v1/templates/{created['id']}/test-send",
        json={"customer_id": customer["id"]},
        headers=org.headers(),
    ).json()
    html = message["content"]["html"]
    unsubscribe = message["content"]["headers"]["List-Unsubscribe"].strip("<>")
    assert f'href="{unsubscribe}"' in html  # never rewritten
    click = html.split('href="', 1)[1].split('"', 1)[0]
    pixel = html.split('<img src="', 1)[1].split('"', 1)[0]
    assert "/v1/track/" in click and "shop.example" not in click

    def to_path(url: str) -> str:
        return url.split("127.0.0.1:8000", 1)[1]

    def status() -> str:
        response = stack.api.get(f"/v1/messages/{message['id']}", headers=org.headers())
        return response.json()["status"]  # type: ignore[no-any-return]

    opened = stack.api.get(to_path(pixel))
    assert opened.status_code == 200 and opened.headers["content-type"] == "image/gif"
    assert status() == "opened"
    redirected = stack.api.get(to_path(click), follow_redirects=False)
    assert redirected.status_code == 302
    assert redirected.headers["location"] == "https://shop.example/sale?a=1&b=2"
    assert status() == "clicked"
    stack.api.get(to_path(pixel))
    assert status() == "clicked"  # a later open does not undo the click
    assert stack.api.get(to_path(click)[:-2] + "xx", follow_redirects=False).status_code == 404
