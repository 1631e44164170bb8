"""Nothing personal in Temporal: a person's runs of every kind hold ids, never their name,
email or phone, in workflow ids, search attributes, memos or (decoded) payloads."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

import pytest
from google.protobuf.message import Message as Proto
from temporalio.api.common.v1 import Payload
from temporalio.client import Client

from herald.loyalty.contracts import BIRTHDAY_SWEEP_WORKFLOW, BirthdaySweepInput
from herald.settings import Settings
from herald.temporal import connect
from tests.support import TEST_SECRET, Org, Stack, wait_until

# SQL here differs between SQLite and PostgreSQL: run on both.
pytestmark = pytest.mark.dialects

NAME = "Xuan Quill-Pham"
EMAIL = "xuan.quill@example.com"
PHONE = "+84987654321"
HELLO = {
    "key": "hello",
    "name": "Hello",
    "channel": "email",
    "category": "marketing",
    "default_locale": "en",
    "variants": {
        "en": {
            "subject": "Hi {{ customer.first_name | default('there') }}",
            "html": "<p>{{ event.note | default('') }}</p>",
        }
    },
}
BROWSED = {
    "name": "Browsed",
    "trigger": {"event": "browsed"},
    "exit_on": [{"event": "bought", "where": {"page": "/shoes"}}],
    "steps": [
        {"id": "hello", "type": "send", "channel": "email", "template": "hello", "next": "pause"},
        {"id": "pause", "type": "wait", "duration": "P7D", "next": None},
    ],
}


def _payloads(message: Proto) -> list[Payload]:
    """Every payload a history event holds, wherever it sits."""
    if isinstance(message, Payload):
        return [message]
    found: list[Payload] = []
    for descriptor, value in message.ListFields():
        if descriptor.message_type is None:
            continue
        if isinstance(value, Proto):
            found += _payloads(value)
            continue
        items = value.values() if hasattr(value, "values") else value  # a map, or a list
        for item in items:
            if isinstance(item, Proto):
                found += _payloads(item)
    return found


async def _everything_temporal_holds(client: Client, org: Org) -> str:
    """The histories of the organization's runs as text: the history JSON (ids, summaries,
    search attributes) and every payload decoded."""
    texts = []
    async for run in client.list_workflows(f"HeraldOrganizationId = '{org.id}'"):
        history = await client.get_workflow_handle(run.id, run_id=run.run_id).fetch_history()
        texts.append(run.id)
        codec = client.data_converter.payload_codec
        assert codec is not None
        for event in history.events:
            encoded = _payloads(event)
            for payload in await codec.decode(encoded):
                texts.append(payload.data.decode(errors="replace"))
            # The rest of the history as text, without the payloads' ciphertext: read decoded
            # above, and random base64 that would, now and then, spell a short name.
            for payload in encoded:
                payload.data = b""
        texts.append(history.to_json())
    return "\n".join(texts)


async def test_a_persons_runs_hold_no_name_email_or_phone(stack: Stack, org: Org) -> None:
    h = org.headers()
    settings = {"postal_address": "1 Main St"}
    assert stack.api.put("/v1/messaging/settings", json=settings, headers=h).status_code == 200
    loyalty = {"points_per_unit": "1", "birthday_enabled": True, "birthday_points": 50}
    assert stack.api.put("/v1/loyalty/settings", json=loyalty, headers=h).status_code == 200
    today = datetime.now(UTC).date()
    birthday = today.replace(year=1990) if (today.month, today.day) != (2, 29) else today

    # An import brings the person in.
    csv = f"email,name,phone,birthday,email_consent\n{EMAIL},{NAME},{PHONE},{birthday},yes\n"
    uploaded = stack.api.post(
        "/v1/imports",
        params={"kind": "customers"},
        content=csv.encode(),
        headers={**h, "Content-Type": "text/csv"},
    ).json()
    stack.api.post(f"/v1/imports/{uploaded['id']}/start", headers=h)
    wait_until(
        lambda: (
            stack.api.get(f"/v1/imports/{uploaded['id']}", headers=h).json()["status"] == "imported"
        )
    )
    [person] = stack.api.get("/v1/customers", params={"q": EMAIL}, headers=h).json()["items"]
    customer = {"id": person["id"]}

    # A journey whose trigger carries their name in a property, as shops' events do.
    template = stack.api.post("/v1/templates", json=HELLO, headers=h).json()
    journey = stack.api.post(
        "/v1/journeys", json={"key": "browsed", "definition": BROWSED}, headers=h
    )
    assert journey.status_code == 201, journey.text
    assert stack.api.post("/v1/journeys/browsed/publish", headers=h).status_code == 200
    event = {"type": "browsed", "customer": customer, "properties": {"note": f"for {NAME}"}}
    assert stack.api.post("/v1/events", json=event, headers=h).status_code == 202

    # A campaign to them, a test send to their address, a birthday, an inquiry from them.
    campaign = {
        "key": "spring",
        "name": "Spring",
        "channel": "email",
        "audience": {"customers": [person["id"]]},
        "variants": [{"name": "A", "template": "hello"}],
    }
    created = stack.api.post("/v1/campaigns", json=campaign, headers=h)
    assert created.status_code == 201, created.text
    sent = stack.api.post(f"/v1/campaigns/{created.json()['id']}/send", headers=h)
    assert sent.status_code == 202, sent.text
    test_send = stack.api.post(
        f"/v1/templates/{template['id']}/test-send", json={"to": EMAIL}, headers=h
    )
    assert test_send.status_code == 200, test_send.text
    form = {"name": NAME, "email": EMAIL, "phone": PHONE, "message": f"I am {NAME}"}
    inquiry = stack.api.post(f"/v1/public/{org.slug}/inquiries", json=form)
    assert inquiry.status_code in (200, 201, 202), inquiry.text
    client = await connect(
        Settings(temporal_address=stack.env["HERALD_TEMPORAL_ADDRESS"], secret_key=TEST_SECRET)
    )
    sweep = await client.start_workflow(
        BIRTHDAY_SWEEP_WORKFLOW,
        BirthdaySweepInput(organization_id=org.id),
        id=f"{BIRTHDAY_SWEEP_WORKFLOW}/{stack.env['HERALD_TASK_QUEUE']}/{uuid.uuid4()}",
        task_queue=stack.env["HERALD_TASK_QUEUE"],
    )
    await sweep.result()

    def messages() -> list[dict[str, Any]]:
        found = stack.api.get("/v1/messages", params={"limit": 200}, headers=h).json()
        return found["items"]  # type: ignore[no-any-return]

    # The journey's email, the campaign's, the test send, the birthday email.
    wait_until(lambda: len([m for m in messages() if m["recipient"] == EMAIL]) >= 4, timeout_s=60)

    erased = stack.api.post(f"/v1/customers/{person['id']}/erase", headers=h)
    assert erased.status_code == 200, erased.text

    held = await _everything_temporal_holds(client, org)
    assert held.count(str(person["id"])) > 0  # the histories were read: ids are there
    for personal in (NAME, "Xuan", "Quill", EMAIL, "xuan.quill", PHONE, "987654321"):
        assert personal.lower() not in held.lower(), personal
