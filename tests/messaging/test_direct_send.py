"""One message to one customer now: through the delivery path, once per intent, with the
consent rules of the template's category."""

from __future__ import annotations

from typing import Any

from herald.access.models import Role
from tests.support import Org, Stack, create_customer


def _template(stack: Stack, org: Org, category: str) -> dict[str, Any]:
    body = {
        "key": f"note-{category}",
        "name": f"A {category} note",
        "channel": "email",
        "category": category,
        "default_locale": "en",
        "variants": {
            "en": {"subject": "Hello {{ customer.name }}", "text": "Hello", "html": "<p>Hello</p>"}
        },
    }
    created = stack.api.post("/v1/templates", json=body, headers=org.headers())
    assert created.status_code == 201, created.text
    return created.json()  # type: ignore[no-any-return]


def test_marketing_needs_consent_transactional_goes_and_a_repeat_sends_nothing_more(
    stack: Stack, org: Org
) -> None:
    stack.api.put(
        "/v1/messaging/settings", json={"postal_address": "1 Main St"}, headers=org.headers()
    )
    customer = create_customer(stack, org)
    path = f"/v1/customers/{customer['id']}/messages"
    marketing = _template(stack, org, "marketing")
    held = stack.api.post(path, json={"template_id": marketing["id"]}, headers=org.headers())
    assert held.status_code == 201, held.text
    assert (held.json()["status"], held.json()["status_reason"]) == ("skipped", "no email consent")

    stack.api.put(
        f"/v1/customers/{customer['id']}/consent", json={"email": "granted"}, headers=org.headers()
    )
    sent = stack.api.post(
        path, json={"template_id": marketing["id"], "idempotency_key": "k1"}, headers=org.headers()
    )
    assert sent.json()["status"] == "sent"
    assert sent.json()["recipient"] == customer["emails"][0]["address"]
    repeated = stack.api.post(
        path, json={"template_id": marketing["id"], "idempotency_key": "k1"}, headers=org.headers()
    )
    assert repeated.json()["id"] == sent.json()["id"]

    other = create_customer(stack, org)
    transactional = _template(stack, org, "transactional")
    receipt = stack.api.post(
        f"/v1/customers/{other['id']}/messages",
        json={"template_id": transactional["id"]},
        headers=org.headers(),
    )
    assert receipt.json()["status"] == "sent"  # no marketing consent needed
    messages = stack.api.get(
        f"/v1/messages?customer_id={customer['id']}", headers=org.headers()
    ).json()["items"]
    assert len(messages) == 2  # the skipped one and the sent one; the repeat added none


def test_only_roles_that_send_messages_may_and_another_tenant_s_customer_is_a_404(
    stack: Stack, org: Org, other_org: Org
) -> None:
    customer = create_customer(stack, org)
    template = _template(stack, org, "transactional")
    path = f"/v1/customers/{customer['id']}/messages"
    body = {"template_id": template["id"]}
    assert stack.api.post(path, json=body, headers=org.headers(Role.cashier)).status_code == 403
    assert stack.api.post(path, json=body, headers=org.headers(Role.marketing)).status_code == 201
    assert stack.api.post(path, json=body, headers=other_org.headers()).status_code == 404
