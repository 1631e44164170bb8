"""Event intake for adapters: store, answer, then hand to Temporal."""

from __future__ import annotations

import uuid

from herald.events.schemas import EventIn, EventsAccepted
from herald.events.service import record_events
from herald.runtime import Runtime


async def record(
    runtime: Runtime, organization_id: uuid.UUID, events: list[EventIn]
) -> EventsAccepted:
    """Store the events durably (a repeated one is recognised, not stored twice); the runs
    they start or signal are dispatched once the caller has its answer."""
    accepted = await runtime.in_org(organization_id, lambda s: record_events(s, events))
    runtime.dispatch_soon(a.id for a in accepted if not a.duplicate)
    return EventsAccepted(accepted=len(accepted), events=accepted)
