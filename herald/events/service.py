from __future__ import annotations

import uuid
from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from herald.customers.models import Customer
from herald.customers.schemas import CustomerCreate, EmailIn
from herald.customers.service import create_customer, find_customer
from herald.db import utcnow
from herald.errors import InvalidInput, NotFound
from herald.events.models import Event
from herald.events.schemas import AcceptedEvent, CustomerRef, EventIn, EventOut

SIGNUP = "signup"


def _resolve_customer(session: Session, ref: CustomerRef, event_type: str, index: int) -> Customer:
    customer = find_customer(
        session, customer_id=ref.id, external_id=ref.external_id, email=ref.email
    )
    if customer is None and ref.id is None and ref.external_id is not None and ref.email:
        customer = find_customer(session, email=ref.email)
    if customer is not None:
        return customer
    if event_type == SIGNUP and ref.id is None:
        # Create without committing: the profile and its event land in one transaction.
        return create_customer(
            session,
            CustomerCreate(
                name=ref.name or "",
                external_id=ref.external_id,
                emails=[EmailIn(address=ref.email, primary=True)] if ref.email else [],
            ),
            commit=False,
        )
    raise InvalidInput("no such customer", field=f"events.{index}.customer")


def record_events(session: Session, events: Sequence[EventIn]) -> list[AcceptedEvent]:
    """Store a batch of events in one transaction: all of them, or none when one is invalid."""
    try:
        return _record(session, events)
    except IntegrityError:
        # A concurrent request stored the same idempotency key (or created the same signup)
        # between our check and our commit: run once more, now seeing its rows.
        session.rollback()
        return _record(session, events)


def _record(session: Session, events: Sequence[EventIn]) -> list[AcceptedEvent]:
    accepted: list[AcceptedEvent] = []
    seen_keys: dict[str, AcceptedEvent] = {}
    now = utcnow()
    for index, data in enumerate(events):
        key = data.idempotency_key
        if key is not None:
            if key in seen_keys:
                accepted.append(seen_keys[key].model_copy(update={"duplicate": True}))
                continue
            prior = session.scalar(select(Event).where(Event.idempotency_key == key))
            if prior is not None:
                accepted.append(
                    AcceptedEvent(
                        id=prior.id, type=prior.type, customer_id=prior.customer_id, duplicate=True
                    )
                )
                continue
        customer = _resolve_customer(session, data.customer, data.type, index)
        event = Event(
            id=uuid.uuid4(),
            type=data.type,
            customer_id=customer.id,
            occurred_at=data.occurred_at or now,
            received_at=now,
            properties=data.properties.model_dump(mode="json", exclude_none=True)
            if not isinstance(data.properties, dict)
            else data.properties,
            idempotency_key=key,
        )
        session.add(event)
        result = AcceptedEvent(
            id=event.id, type=event.type, customer_id=customer.id, duplicate=False
        )
        if key is not None:
            seen_keys[key] = result
        accepted.append(result)
    session.commit()
    return accepted


def get_event(session: Session, event_id: uuid.UUID) -> EventOut:
    event = session.get(Event, event_id)
    if event is None:
        raise NotFound("no such event")
    return EventOut.model_validate(event, from_attributes=True)
