from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from herald.customers.acquisition import acquisition_of, note_first_seen
from herald.customers.models import Customer
from herald.customers.schemas import CustomerCreate, EmailIn
from herald.customers.service import create_customer, index_customers
from herald.db import session_organization, utcnow
from herald.errors import Conflict, InvalidInput, NotFound
from herald.events.models import CUSTOMER_FIRST_ORDER, CUSTOMER_REFUNDED, Event, EventStatus
from herald.events.schemas import (
    AcceptedEvent,
    CustomerRef,
    EventIn,
    EventOut,
    OrderPaidEvent,
    OrderRefundedEvent,
)
from herald.orders import figures
from herald.orders import service as orders
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
        source="signup",
    )


def record_events(session: Session, events: Sequence[EventIn]) -> list[AcceptedEvent]:
    """Store a batch of events in one transaction: all of them, or none when one is invalid."""
    try:
        accepted = add_events(session, events)
        session.commit()
    except IntegrityError:
        # A concurrent request stored the same idempotency key (or created the same signup)
        # between our check and our commit: run once more, now seeing its rows.
        session.rollback()
        accepted = add_events(session, events)
        session.commit()
    return accepted


def add_events(
    session: Session, events: Sequence[EventIn], *, as_history: bool = False
) -> list[AcceptedEvent]:
    """The batch's events, orders and refunds in the caller's transaction. ``as_history``:
    every order and refund is history whenever it was paid (an import of past orders)."""
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
    intake = _OrderIntake(session, events, as_history=as_history)
    accepted: list[AcceptedEvent] = []
    acquired: dict[uuid.UUID, dict[str, str]] = {}
    now = utcnow()
    for index, data in enumerate(events):
        key = data.idempotency_key
        if key is not None and key in earlier:
            accepted.append(earlier[key].model_copy(update={"duplicate": True}))
            continue
        if (repeated := intake.recorded(data)) is not None:
            accepted.append(repeated)
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
        if customer_id not in acquired and (source := acquisition_of(event.properties)):
            acquired[customer_id] = source
        history = intake.record(data, event, now)
        if history:
            event.keep_for_the_record(now)
        result = AcceptedEvent(
            id=event.id,
            type=event.type,
            customer_id=customer_id,
            duplicate=False,
            history=history,
        )
        if key is not None:
            earlier[key] = result
        accepted.append(result)
    figures.refresh_customers(session, intake.buyers)
    note_first_seen(session, acquired)
    return accepted


class _OrderIntake:
    """The orders and refunds a batch of events carries: which are recorded already (one
    query each), and recording the new ones beside their events."""

    def __init__(self, session: Session, events: Sequence[EventIn], *, as_history: bool) -> None:
        self.session = session
        paid = [e.properties.order_id for e in events if isinstance(e, OrderPaidEvent)]
        refunds = {k for e in events if (k := self._refund_key(e)) is not None}
        self.orders = orders.recorded_orders(session, paid)
        # Customers whose order figures the batch changes.
        self.buyers: set[uuid.UUID] = set()
        self.refunds = orders.recorded_refunds(session, refunds)
        # Orders paid longer ago than this when they arrive are history; an import of past
        # orders makes every one history.
        self._history_after: timedelta | None = None
        if paid or refunds:
            self._history_after = (
                timedelta(0)
                if as_history
                else orders.history_window(session, session_organization(session))
            )

    @staticmethod
    def _refund_key(data: EventIn) -> orders.RefundKey | None:
        if not isinstance(data, OrderRefundedEvent) or data.refund_id is None:
            return None
        return (data.properties.order_id, data.refund_id)

    def recorded(self, data: EventIn) -> AcceptedEvent | None:
        """A repeat of an order or refund already recorded: the event that recorded it."""
        if isinstance(data, OrderPaidEvent):
            order = self.orders.get(data.properties.order_id)
            earlier = order.event_id if order is not None else None
        else:
            key = self._refund_key(data)
            earlier = self.refunds.get(key) if key is not None else None
        if earlier is None:
            return None
        customer_id = self.session.scalar(select(Event.customer_id).where(Event.id == earlier))
        return AcceptedEvent(id=earlier, type=data.type, customer_id=customer_id, duplicate=True)

    def record(self, data: EventIn, event: Event, now: datetime) -> bool:
        """Record the order or refund the event carries; True when it is history."""
        if isinstance(data, OrderPaidEvent):
            assert self._history_after is not None and event.customer_id is not None
            order = orders.record_paid(
                self.session,
                data.properties,
                organization_id=session_organization(self.session),
                customer_id=event.customer_id,
                event_id=event.id,
                paid_at=data.properties.paid_at or event.occurred_at,
                now=now,
                history_after=self._history_after,
            )
            self.orders[order.order_id] = order
            self.buyers.add(event.customer_id)
            if orders.order_count(self.session, event.customer_id) == 1:
                first: dict[str, str | None] = {
                    "order_id": order.order_id,
                    "amount": str(order.amount),
                    "currency": order.currency,
                }
                self.session.add(
                    Event.emitted(
                        CUSTOMER_FIRST_ORDER, event.customer_id, first, react=not order.history
                    )
                )
            return order.history
        if isinstance(data, OrderRefundedEvent):
            refund_id = data.refund_id
            assert refund_id is not None  # the event's validation requires one
            orders.record_refund(
                self.session,
                data.properties,
                organization_id=session_organization(self.session),
                refund_id=refund_id,
                event_id=event.id,
                refunded_at=event.occurred_at,
            )
            self.refunds[(data.properties.order_id, refund_id)] = event.id
            refunded = self.orders.get(data.properties.order_id) or orders.find_order(
                self.session, data.properties.order_id
            )
            history = refunded is not None and refunded.history  # no points to take back
            customer_id = refunded.customer_id if refunded is not None else event.customer_id
            if customer_id is not None:
                self.buyers.add(customer_id)
            amount = data.properties.amount
            refund: dict[str, str | None] = {
                "order_id": data.properties.order_id,
                "refund_id": refund_id,
                "amount": str(amount) if amount is not None else None,
                "order_status": orders.order_status(self.session, data.properties.order_id),
            }
            self.session.add(
                Event.emitted(CUSTOMER_REFUNDED, customer_id, refund, react=not history)
            )
            return history
        return False


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
