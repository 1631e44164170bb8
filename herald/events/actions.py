"""Event intake for adapters: store, answer, then hand to Temporal."""

from __future__ import annotations

import uuid

from herald.events.schemas import EventIn, EventOut, EventsAccepted
from herald.events.service import record_events, retry_event
from herald.runtime import Runtime


async def record(
    runtime: Runtime, organization_id: uuid.UUID, events: list[EventIn]
) -> EventsAccepted:
    """Store the events durably (a repeated one is recognised, not stored twice); the runs
    they start or signal are dispatched once the caller has its answer."""
    accepted = await runtime.in_org(organization_id, lambda s: record_events(s, events))
    runtime.dispatch_soon(a.id for a in accepted if not a.duplicate)
    return EventsAccepted(accepted=len(accepted), events=accepted)


async def retry(runtime: Runtime, organization_id: uuid.UUID, event_id: uuid.UUID) -> EventOut:
    """Staff's retry of a failed event: due at once, dispatched straight away."""
    event = await runtime.in_org(organization_id, lambda s: retry_event(s, event_id))
    runtime.dispatch_soon([event.id])
    return event
