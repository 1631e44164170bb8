"""What staff see of one customer beyond the record: the timeline of everything that happened
to them, newest first, and the saved segments they are in now. Reads other domains' tables;
writes nothing."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, or_, select
from sqlalchemy.orm import InstrumentedAttribute, Session

from herald.customers.models import CustomerActivity, CustomerNote
from herald.customers.schemas import CustomerFilter, CustomerPage, CustomerQuery
from herald.customers.service import filter_conditions, get_customer, list_customers
from herald.db import utcnow
from herald.events.models import Event
from herald.inquiries.models import Inquiry
from herald.loyalty.models import LedgerEntry
from herald.messaging.models import Message
from herald.pagination import Page, decode_cursor, encode_cursor
from herald.profiles.schemas import CustomerSegment, TimelineItem, TimelineKind
from herald.segments.models import Segment
from herald.segments.rules import customer_matches
from herald.segments.service import get_segment, matching, rule_of

MAX_SEGMENTS_CHECKED = 500


@dataclass(frozen=True)
class _Source:
    """One table the timeline reads: its rows of a customer, when each happened, and how it
    reads as a line."""

    kind: TimelineKind
    model: Any
    at: InstrumentedAttribute[datetime]
    describe: Callable[[Any], tuple[str, dict[str, Any]]]


def _message(m: Message) -> tuple[str, dict[str, Any]]:
    subject = m.content.get("subject") if isinstance(m.content, dict) else None
    text = f"{m.channel.value} {m.status.value}" + (f": {subject}" if subject else "")
    return text, {
        "channel": m.channel.value,
        "category": m.category.value,
        "status": m.status.value,
        "sent_at": m.sent_at.isoformat() if m.sent_at else None,
        "opened_at": m.opened_at.isoformat() if m.opened_at else None,
    }


def _event(e: Event) -> tuple[str, dict[str, Any]]:
    return e.type, {"properties": e.properties}


def _note(n: CustomerNote) -> tuple[str, dict[str, Any]]:
    return "note", {"body": n.body, "pinned": n.pinned, "author": n.author}


def _inquiry(i: Inquiry) -> tuple[str, dict[str, Any]]:
    return f"inquiry {i.status.value}", {"status": i.status.value, "message": i.message}


def _ledger(entry: LedgerEntry) -> tuple[str, dict[str, Any]]:
    return f"{entry.points:+d} points ({entry.kind.value})", {
        "points": entry.points,
        "source": entry.source,
        "source_id": entry.source_id,
    }


def _activity(a: CustomerActivity) -> tuple[str, dict[str, Any]]:
    return a.action.replace("_", " "), {"actor": a.actor, "changes": a.changes}


_SOURCES = (
    _Source("message", Message, Message.created_at, _message),
    _Source("event", Event, Event.occurred_at, _event),
    _Source("note", CustomerNote, CustomerNote.created_at, _note),
    _Source("inquiry", Inquiry, Inquiry.created_at, _inquiry),
    _Source("loyalty", LedgerEntry, LedgerEntry.created_at, _ledger),
    _Source("activity", CustomerActivity, CustomerActivity.at, _activity),
)


def timeline(
    session: Session, customer_id: uuid.UUID, *, limit: int = 50, cursor: str | None = None
) -> Page[TimelineItem]:
    """Messages (with their status), events, notes, inquiries, loyalty entries and staff
    changes as one stream, newest first. Each table gives its own newest ``limit + 1`` after
    the cursor (by its customer index); the merge keeps the newest ``limit``."""
    get_customer(session, customer_id, include_deleted=True)
    after = decode_cursor(cursor) if cursor else None
    candidates: list[tuple[datetime, uuid.UUID, TimelineItem]] = []
    for source in _SOURCES:
        stmt = select(source.model).where(source.model.customer_id == customer_id)
        if after is not None:
            stmt = stmt.where(_before(source.at, source.model.id, *after))
        rows = session.scalars(
            stmt.order_by(source.at.desc(), source.model.id.desc()).limit(limit + 1)
        )
        for row in rows:
            at = getattr(row, source.at.key)
            summary, details = source.describe(row)
            item = TimelineItem(
                at=at, kind=source.kind, id=row.id, summary=summary, details=details
            )
            candidates.append((at, row.id, item))
    candidates.sort(key=lambda c: (c[0], c[1]), reverse=True)
    page = candidates[:limit]
    more = len(candidates) > limit
    next_cursor = encode_cursor(page[-1][0], page[-1][1]) if more and page else None
    return Page(items=[item for _, _, item in page], next_cursor=next_cursor)


def _before(
    at: InstrumentedAttribute[datetime], row_id: Any, when: datetime, last: uuid.UUID
) -> ColumnElement[bool]:
    return or_(at < when, (at == when) & (row_id < last))


def customer_list(session: Session, query: CustomerQuery) -> CustomerPage:
    """``GET /v1/customers``: the customers service's list, with ``segment`` resolved to its
    members."""
    members_of = None
    if query.segment:
        members_of = matching(session, rule_of(get_segment(session, query.segment)))
    return list_customers(session, query, members_of=members_of)


def selected(session: Session, selection: CustomerFilter) -> list[ColumnElement[bool]]:
    """The conditions of the customers a filter selects, a saved segment's rule included."""
    conditions = filter_conditions(selection)
    if selection.segment:
        conditions.append(matching(session, rule_of(get_segment(session, selection.segment))))
    return conditions


def segments_of(session: Session, customer_id: uuid.UUID) -> list[CustomerSegment]:
    """The saved segments the customer is in now, checked one by one against their rules."""
    get_customer(session, customer_id)
    now = utcnow()
    saved = session.scalars(select(Segment).order_by(Segment.name).limit(MAX_SEGMENTS_CHECKED))
    return [
        CustomerSegment(id=s.id, key=s.key, name=s.name)
        for s in saved
        if customer_matches(session, customer_id, rule_of(s), now)
    ]
