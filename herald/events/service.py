from __future__ import annotations

import uuid
from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from herald.customers.models import Customer
from herald.customers.schemas import CustomerCreate, EmailIn
from herald.customers.service import create_customer, index_customers
from herald.db import utcnow
from herald.errors import Conflict, InvalidInput, NotFound
from herald.events.models import Event, EventStatus
from herald.events.schemas import AcceptedEvent, CustomerRef, EventIn, EventOut
from herald.pagination import Page, page_of

SIGNUP = "signup"


def _signup_customer(session: Session, ref: CustomerRef) -> Customer:
    # Created without a commit: the profile and its event land in one transaction.
    return create_customer(
        session,
        CustomerCreate(
            name=ref.name or "",
            external_id=ref.external_id,
            emails=[EmailIn(address=ref.email, primary=True)] if ref.email else [],
        ),
        commit=False,
    )


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
    refs = [e.customer for e in events]
    customers = index_customers(
        session,
        ids={r.id for r in refs if r.id},
        external_ids={r.external_id for r in refs if r.id is None and r.external_id},
        emails={r.email for r in refs if r.id is None and r.email},
    )
    keys = {e.idempotency_key for e in events if e.idempotency_key}
    earlier: dict[str, AcceptedEvent] = {}
    if keys:
        for prior in session.scalars(select(Event).where(Event.idempotency_key.in_(keys))):
            assert prior.idempotency_key is not None
            earlier[prior.idempotency_key] = AcceptedEvent(
                id=prior.id, type=prior.type, customer_id=prior.customer_id, duplicate=True
            )
    accepted: list[AcceptedEvent] = []
    now = utcnow()
    for index, data in enumerate(events):
        key = data.idempotency_key
        if key is not None and key in earlier:
            accepted.append(earlier[key].model_copy(update={"duplicate": True}))
            continue
        ref = data.customer
        customer_id = customers.find(ref.id, ref.external_id, ref.email)
        if customer_id is None:
            if data.type != SIGNUP or ref.id is not None:
                raise InvalidInput("no such customer", field=f"events.{index}.customer")
            created = _signup_customer(session, ref)
            customers.remember(created)
            customer_id = created.id
        event = Event(
            id=uuid.uuid4(),
            type=data.type,
            customer_id=customer_id,
            occurred_at=data.occurred_at or now,
            received_at=now,
            properties=data.properties
            if isinstance(data.properties, dict)
            else data.properties.model_dump(mode="json", exclude_none=True),
            idempotency_key=key,
        )
        session.add(event)
        result = AcceptedEvent(
            id=event.id, type=event.type, customer_id=customer_id, duplicate=False
        )
        if key is not None:
            earlier[key] = result
        accepted.append(result)
    session.commit()
    return accepted


def _event_out(event: Event) -> EventOut:
    return EventOut.model_validate(event, from_attributes=True)


def get_event(session: Session, event_id: uuid.UUID) -> EventOut:
    event = session.get(Event, event_id)
    if event is None:
        raise NotFound("no such event")
    return _event_out(event)


def list_events(
    session: Session,
    *,
    status: EventStatus | None = None,
    kind: str | None = None,
    customer_id: uuid.UUID | None = None,
    limit: int = 50,
    cursor: str | None = None,
) -> Page[EventOut]:
    """The organization's events, newest first; ``status=failed`` lists those waiting on a
    retry or parked, each with its error."""
    stmt = select(Event)
    if status == EventStatus.dispatched:
        stmt = stmt.where(Event.dispatched_at.is_not(None))
    elif status == EventStatus.pending:
        stmt = stmt.where(Event.dispatched_at.is_(None), Event.dispatch_attempts == 0)
    elif status == EventStatus.failed:
        stmt = stmt.where(Event.dispatched_at.is_(None), Event.dispatch_attempts > 0)
    if kind is not None:
        stmt = stmt.where(Event.type == kind)
    if customer_id is not None:
        stmt = stmt.where(Event.customer_id == customer_id)
    return page_of(
        session, stmt, Event.received_at, Event.id, _event_out, limit=limit, cursor=cursor
    )


def retry_event(session: Session, event_id: uuid.UUID) -> EventOut:
    """Make a failed event due now (a parked one too); the caller dispatches it."""
    event = session.get(Event, event_id)
    if event is None:
        raise NotFound("no such event")
    if event.status != EventStatus.failed:
        raise Conflict(f"the event is {event.status.value}; only a failed event is retried")
    event.retry_at = utcnow()
    session.commit()
    return _event_out(event)
