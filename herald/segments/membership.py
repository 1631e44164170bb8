"""Segment entries and exits as events: a sweep compares who matches a tracked segment now
with who matched at its last sweep, and records ``segment.entered`` / ``segment.exited`` for
the difference. Event dispatch then starts the journeys those events trigger and wakes the
runs that wait on them, as for any other event."""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from datetime import datetime

from sqlalchemy import delete, exists, insert, select
from sqlalchemy.orm import Session

from herald.customers.models import Customer
from herald.db import utcnow
from herald.errors import InvalidInput
from herald.events.models import Event
from herald.segments.contracts import SweepOutcome, TrackedSegment
from herald.segments.models import Segment, SegmentMembership
from herald.segments.service import matching, rule_of

SEGMENT_ENTERED = "segment.entered"
SEGMENT_EXITED = "segment.exited"
# Rows written per statement while recording a large change.
_CHUNK = 5_000


def tracked_segments(session: Session) -> list[TrackedSegment]:
    """Every organization's segments with entries tracked (an unscoped, system session)."""
    rows = session.execute(
        select(Segment.organization_id, Segment.id).where(Segment.track_entries.is_(True))
    )
    return [TrackedSegment(organization_id=o, segment_id=s) for o, s in rows]


def _chunks(ids: list[uuid.UUID]) -> Iterable[list[uuid.UUID]]:
    for start in range(0, len(ids), _CHUNK):
        yield ids[start : start + _CHUNK]


def _record(
    session: Session, segment: Segment, kind: str, ids: list[uuid.UUID], at: datetime
) -> None:
    """One event per customer; its key makes a retried sweep record nothing twice."""
    for chunk in _chunks(ids):
        session.execute(
            insert(Event),
            [
                {
                    "id": uuid.uuid4(),
                    "organization_id": segment.organization_id,
                    "type": kind,
                    "customer_id": customer_id,
                    "occurred_at": at,
                    # Written now; event dispatch hands it to Temporal within seconds.
                    "received_at": utcnow(),
                    "properties": {"segment": segment.key},
                    "idempotency_key": f"{kind}:{segment.id}:{customer_id}:{at.isoformat()}",
                    "dispatch_attempts": 0,
                }
                for customer_id in chunk
            ],
        )


def sweep_segment(session: Session, segment_id: uuid.UUID, at: datetime) -> SweepOutcome:
    """Bring the segment's membership up to date at ``at``, recording entries and exits as
    events in the same transaction. The first sweep only takes the baseline."""
    segment = session.get(Segment, segment_id)
    if segment is None or not segment.track_entries:
        return SweepOutcome(entered=0, exited=0, baseline=False)
    if segment.swept_at is not None and segment.swept_at >= at:  # this instant is done
        return SweepOutcome(entered=0, exited=0, baseline=False)
    # Both directions are judged by one reading of the rule at one instant.
    rule, now = rule_of(segment), utcnow()
    members = matching(session, rule, now=now)
    known = exists().where(
        SegmentMembership.segment_id == segment.id,
        SegmentMembership.customer_id == Customer.id,
    )
    entered = list(session.scalars(select(Customer.id).where(members, ~known)))
    # Anti-joins both ways (NOT EXISTS, never NOT IN: a large NOT IN set that does not fit
    # PostgreSQL's work memory is re-read for every row).
    member_now = matching(session, rule, semi_join=False, now=now)
    still_in = exists().where(Customer.id == SegmentMembership.customer_id, member_now)
    exited = list(
        session.scalars(
            select(SegmentMembership.customer_id).where(
                SegmentMembership.segment_id == segment.id, ~still_in
            )
        )
    )
    for chunk in _chunks(exited):
        session.execute(
            delete(SegmentMembership).where(
                SegmentMembership.segment_id == segment.id,
                SegmentMembership.customer_id.in_(chunk),
            )
        )
    for chunk in _chunks(entered):
        session.execute(
            insert(SegmentMembership),
            [
                {
                    "organization_id": segment.organization_id,
                    "segment_id": segment.id,
                    "customer_id": customer_id,
                    "entered_at": at,
                }
                for customer_id in chunk
            ],
        )
    baseline = segment.swept_at is None
    if not baseline:
        _record(session, segment, SEGMENT_ENTERED, entered, at)
        _record(session, segment, SEGMENT_EXITED, exited, at)
    segment.swept_at = at
    session.commit()
    return SweepOutcome(
        entered=0 if baseline else len(entered),
        exited=0 if baseline else len(exited),
        baseline=baseline,
    )


def track_referenced(session: Session, keys: Iterable[str]) -> None:
    """Track entries of the segments a journey starts or waits on; each must exist."""
    for key in sorted(set(keys)):
        segment = session.scalar(select(Segment).where(Segment.key == key))
        if segment is None:
            raise InvalidInput(f"no segment {key!r} to track entries of", field="definition")
        segment.track_entries = True
