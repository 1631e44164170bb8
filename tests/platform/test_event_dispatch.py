"""An event that fails stays with its own organization: parked with its error, listed for
staff, retried on request — and every other event, of every organization, goes ahead."""

from __future__ import annotations

import time
import uuid
from datetime import timedelta
from typing import Any

from herald.db import utcnow
from herald.events.dispatch import PARK_AFTER
from herald.events.models import Event
from tests.support import Org, Stack, create_customer, points, wait_for_entries, wait_until


def _store(stack: Stack, org: Org, customer_id: str, properties: dict[str, Any], **row: Any) -> str:
    """An order event written straight to the table, as an older release or a bug might have
    left it: the API refuses such properties today."""
    event = Event(
        id=uuid.uuid4(),
        organization_id=org.id,
        type="order.paid",
        customer_id=uuid.UUID(customer_id),
        occurred_at=utcnow(),
        received_at=utcnow() - timedelta(minutes=1),
        properties=properties,
        retry_at=utcnow(),
        **row,
    )
    with stack.db.session(org.id) as session:
        session.add(event)
        session.commit()
    return str(event.id)


def _event(stack: Stack, org: Org, event_id: str) -> dict[str, Any]:
    response = stack.api.get(f"/v1/events/{event_id}", headers=org.headers())
    assert response.status_code == 200, response.text
    return response.json()  # type: ignore[no-any-return]


def test_an_event_a_reaction_rejects_is_parked_and_holds_up_no_other_organization(
    stack: Stack, org: Org, other_org: Org
) -> None:
    victim = create_customer(stack, other_org)
    culprit = create_customer(stack, org)
    # Stored first, so a sweep taking the oldest first meets the bad one before the good one.
    bad = _store(stack, org, culprit["id"], {"order_id": "BAD-1"}, dispatch_attempts=PARK_AFTER - 1)
    good = _store(
        stack, other_org, victim["id"], {"order_id": "OK-1", "amount": "20", "currency": "EUR"}
    )

    assert wait_for_entries(stack, other_org, victim["id"], 1)["balance"] == 20
    assert _event(stack, other_org, good)["status"] == "dispatched"

    parked = wait_until(lambda: (e := _event(stack, org, bad))["parked"] and e)
    assert parked["status"] == "failed" and parked["retry_at"] is None
    assert "amount" in parked["last_dispatch_error"]

    listed = stack.api.get("/v1/events?status=failed", headers=org.headers()).json()
    assert [e["id"] for e in listed["items"]] == [bad]
    other = stack.api.get("/v1/events?status=failed", headers=other_org.headers()).json()
    assert other["items"] == []

    # Staff mend the data and retry: the event goes out, the points are awarded once.
    with stack.db.session(org.id) as session:
        row = session.get(Event, uuid.UUID(bad))
        assert row is not None
        row.properties = {"order_id": "BAD-1", "amount": "7", "currency": "EUR"}
        session.commit()
    retried = stack.api.post(f"/v1/events/{bad}/retry", headers=org.headers())
    assert retried.status_code == 200, retried.text
    assert wait_for_entries(stack, org, culprit["id"], 1)["balance"] == 7
    assert wait_until(lambda: _event(stack, org, bad)["status"] == "dispatched")
    again = stack.api.post(f"/v1/events/{bad}/retry", headers=org.headers())
    assert again.status_code == 409, again.text
    assert points(stack, org, culprit["id"])["balance"] == 7


def test_a_failing_event_backs_off_instead_of_being_tried_every_sweep(
    stack: Stack, org: Org
) -> None:
    customer = create_customer(stack, org)
    bad = _store(stack, org, customer["id"], {"order_id": "BAD-2", "amount": "oops"})
    first = wait_until(lambda: (e := _event(stack, org, bad))["dispatch_attempts"] and e)
    assert first["status"] == "failed" and not first["parked"]
    assert first["retry_at"] > first["received_at"]
    # Sweeps run every 0.3 s here; the next try waits for its backoff (5 s) instead.
    time.sleep(2)
    assert _event(stack, org, bad)["dispatch_attempts"] == 1
