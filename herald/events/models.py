from __future__ import annotations

import enum
import uuid
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import ForeignKey, Index, String, Text, UniqueConstraint, text
from sqlalchemy.orm import Mapped, mapped_column

from herald.db import Base, TenantScoped, utcnow

# System event types Herald itself acts on (loyalty, segments, campaign conversions).
ORDER_PAID = "order.paid"
ORDER_REFUNDED = "order.refunded"

# Events Herald records itself, for journeys to start and exit on (docs/EVENTS.md lists them
# with their properties). No key may post them.
CUSTOMER_CREATED = "customer.created"
CUSTOMER_FIRST_ORDER = "customer.first_order"
CUSTOMER_REFUNDED = "customer.refunded"
NEWSLETTER_SUBSCRIBED = "newsletter.subscribed"
NEWSLETTER_UNSUBSCRIBED = "newsletter.unsubscribed"


class EventStatus(enum.StrEnum):
    pending = "pending"  # stored; its runs not started yet
    dispatched = "dispatched"
    # A dispatch failed: tried again at ``retry_at``, or parked (no ``retry_at``) until staff
    # retry it.
    failed = "failed"


# The fast path owns fresh events; the sweeper only takes those it left behind.
SWEEP_GRACE = timedelta(seconds=3)


def _first_sweep() -> datetime:
    return utcnow() + SWEEP_GRACE


class Event(TenantScoped, Base):
    """Something that happened to a customer, stored before anything reacts to it.

    ``dispatched_at`` stays empty until every workflow the event triggers has been started;
    the dispatcher sweeps such rows once ``retry_at`` has come, so an event accepted while
    Temporal is down is never lost. An event whose own data makes a reaction fail is retried
    with backoff and then parked (``retry_at`` empty) until staff retry it; it holds up nothing
    else.
    """

    __tablename__ = "events"
    __table_args__ = (
        UniqueConstraint("organization_id", "idempotency_key"),
        Index("ix_events_customer", "organization_id", "customer_id", "occurred_at"),
        # Carries the customer, so a segment counting a type's events in a window reads the
        # index alone (PostgreSQL: an index-only scan) instead of every page of the table.
        Index(
            "ix_events_type_customer",
            "organization_id",
            "type",
            "occurred_at",
            postgresql_include=["customer_id"],
        ),
        Index(
            "ix_events_due",
            "retry_at",
            postgresql_where=text("dispatched_at IS NULL"),
            sqlite_where=text("dispatched_at IS NULL"),
        ),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    type: Mapped[str] = mapped_column(String(100))
    customer_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("customers.id", ondelete="SET NULL")
    )
    occurred_at: Mapped[datetime]
    received_at: Mapped[datetime] = mapped_column(default=utcnow)
    properties: Mapped[dict[str, Any]] = mapped_column(default=dict)
    idempotency_key: Mapped[str | None] = mapped_column(String(200))
    dispatched_at: Mapped[datetime | None]
    dispatch_attempts: Mapped[int] = mapped_column(default=0)
    last_dispatch_error: Mapped[str | None] = mapped_column(Text)
    # When the sweeper may try (again); empty once dispatched or parked.
    retry_at: Mapped[datetime | None] = mapped_column(default=_first_sweep)

    @classmethod
    def emitted(
        cls,
        kind: str,
        customer_id: uuid.UUID | None,
        properties: dict[str, Any],
        *,
        react: bool = True,
    ) -> Event:
        """An event Herald records about something it did, for the caller's transaction; the
        sweeper hands it to Temporal once committed. ``react=False``: kept for the record
        (history), nothing reacts to it."""
        now = utcnow()
        event = cls(
            id=uuid.uuid4(),
            type=kind,
            customer_id=customer_id,
            occurred_at=now,
            received_at=now,
            properties=properties,
            retry_at=_first_sweep(),
        )
        if not react:
            event.keep_for_the_record(now)
        return event

    def keep_for_the_record(self, now: datetime) -> None:
        """Stored as dispatched already: counted and shown, but nothing reacts to it."""
        self.dispatched_at, self.retry_at = now, None

    @property
    def status(self) -> EventStatus:
        if self.dispatched_at is not None:
            return EventStatus.dispatched
        return EventStatus.failed if self.dispatch_attempts else EventStatus.pending

    @property
    def parked(self) -> bool:
        return self.status == EventStatus.failed and self.retry_at is None
