from __future__ import annotations

import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Body, Depends, Query
from pydantic import Discriminator, Tag
from sqlalchemy.orm import Session

from api.deps import get_runtime, org_session, require
from herald.access.permissions import Permission
from herald.access.service import Principal
from herald.events import actions
from herald.events.models import EventStatus
from herald.events.schemas import EventBatch, EventIn, EventOut, EventsAccepted
from herald.events.service import get_event, list_events
from herald.pagination import Page
from herald.runtime import Runtime

router = APIRouter(prefix="/v1/events", tags=["events"])


def _single_or_batch(value: Any) -> str:
    return "batch" if isinstance(value, dict) and "events" in value else "single"


EventsBody = Annotated[
    Annotated[EventBatch, Tag("batch")] | Annotated[EventIn, Tag("single")],
    Discriminator(_single_or_batch),
]


@router.post(
    "",
    status_code=202,
    response_model=EventsAccepted,
    summary='Post one event, or a batch of up to 1,000 as {"events": [...]}',
)
async def post_events(
    body: Annotated[EventsBody, Body()],
    principal: Principal = Depends(require(Permission.events_write)),
    runtime: Runtime = Depends(get_runtime),
) -> EventsAccepted:
    events = body.events if isinstance(body, EventBatch) else [body]
    return await actions.record(runtime, principal.organization_id, events)


@router.get("/{event_id}", response_model=EventOut)
def read_event(
    event_id: uuid.UUID,
    _: Principal = Depends(require(Permission.customers_read)),
    session: Session = Depends(org_session),
) -> EventOut:
    return get_event(session, event_id)


@router.get(
    "",
    response_model=Page[EventOut],
    summary="List events, newest first (status=failed: those a dispatch failed on)",
)
def list_organization_events(
    status: EventStatus | None = None,
    type: Annotated[str | None, Query(max_length=100)] = None,
    customer_id: uuid.UUID | None = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    cursor: Annotated[str | None, Query(max_length=500)] = None,
    _: Principal = Depends(require(Permission.customers_read)),
    session: Session = Depends(org_session),
) -> Page[EventOut]:
    return list_events(
        session, status=status, kind=type, customer_id=customer_id, limit=limit, cursor=cursor
    )


@router.post(
    "/{event_id}/retry",
    response_model=EventOut,
    summary="Dispatch a failed (or parked) event again now",
)
async def retry_failed_event(
    event_id: uuid.UUID,
    principal: Principal = Depends(require(Permission.events_write)),
    runtime: Runtime = Depends(get_runtime),
) -> EventOut:
    return await actions.retry(runtime, principal.organization_id, event_id)
