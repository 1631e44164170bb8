"""Sales inquiries: the public contact form, the sales team's live feed and the transitions
that move an inquiry's follow-up run on."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Annotated

from fastapi import APIRouter, Depends, Header, Query
from fastapi.sse import EventSourceResponse, ServerSentEvent
from pydantic import BaseModel
from sqlalchemy.orm import Session

from api.deps import get_runtime, org_session, require
from api.ratelimit import inquiry_limit
from herald.access.permissions import Permission
from herald.access.service import Principal
from herald.inquiries import actions, service
from herald.inquiries.contracts import AssignIn, ConvertIn, LeadResponseIn, LoseIn, ReplyIn
from herald.inquiries.schemas import (
    Assignee,
    InquiryDetail,
    InquiryIn,
    InquiryPage,
    InquiryQuery,
    InquirySettingsIn,
    InquirySettingsOut,
)
from herald.runtime import Runtime

router = APIRouter(tags=["inquiries"])
read = require(Permission.inquiries_read)
work = require(Permission.inquiries_work)


class InquiryReceipt(BaseModel):
    id: uuid.UUID
    status: str = "received"


@router.post(
    "/v1/public/{slug}/inquiries",
    status_code=202,
    response_model=InquiryReceipt,
    dependencies=[Depends(inquiry_limit)],
    summary="Submit the contact form (public). The visitor gets a receipt and can read nothing",
)
async def submit_inquiry(
    slug: str, body: InquiryIn, runtime: Runtime = Depends(get_runtime)
) -> InquiryReceipt:
    return InquiryReceipt(id=await actions.submit(runtime, slug, body))


@router.get("/v1/inquiries", response_model=InquiryPage, summary="Newest first, filtered")
def list_inquiries(
    query: Annotated[InquiryQuery, Query()],
    _: Principal = Depends(read),
    session: Session = Depends(org_session),
) -> InquiryPage:
    return service.list_inquiries(session, query)


async def stream_slot(
    principal: Principal = Depends(read), runtime: Runtime = Depends(get_runtime)
) -> AsyncIterator[None]:
    """Held while the stream is open (a 429 if the key holds too many already)."""
    with runtime.streams.hold(principal.credential_id):
        yield


@router.get(
    "/v1/inquiries/stream",
    response_class=EventSourceResponse,
    summary="New inquiries as Server-Sent Events (`event: inquiry`), each within a second. "
    "Reconnecting with Last-Event-ID resumes after the last one seen",
)
async def stream_inquiries(
    principal: Principal = Depends(read),
    runtime: Runtime = Depends(get_runtime),
    _: None = Depends(stream_slot),
    last_event_id: Annotated[str | None, Header(max_length=100)] = None,
) -> AsyncIterator[ServerSentEvent]:
    async for inquiry in actions.feed(runtime, principal, last_event_id):
        yield ServerSentEvent(data=inquiry, event="inquiry", id=str(inquiry.id))


@router.get(
    "/v1/inquiries/assignees",
    response_model=list[Assignee],
    summary="The users an inquiry can be given to (owner, manager and sales accounts)",
)
def list_assignees(
    _: Principal = Depends(read), session: Session = Depends(org_session)
) -> list[Assignee]:
    return service.assignees(session)


@router.get("/v1/inquiries/settings", response_model=InquirySettingsOut)
def get_settings(
    _: Principal = Depends(read), session: Session = Depends(org_session)
) -> InquirySettingsOut:
    return service.get_settings(session)


@router.put(
    "/v1/inquiries/settings",
    response_model=InquirySettingsOut,
    summary="The follow-up's timers and extra addresses told of new inquiries. New inquiries "
    "use them; runs under way keep the timers they started with",
)
def put_settings(
    body: InquirySettingsIn,
    _: Principal = Depends(require(Permission.inquiries_configure)),
    session: Session = Depends(org_session),
) -> InquirySettingsOut:
    return service.put_settings(session, body)


@router.get("/v1/inquiries/{inquiry_id}", response_model=InquiryDetail)
def get_inquiry(
    inquiry_id: uuid.UUID, _: Principal = Depends(read), session: Session = Depends(org_session)
) -> InquiryDetail:
    return service.inquiry_detail(session, inquiry_id)


# Retrying a request with the same Idempotency-Key repeats nothing (one reply email, say).
IdempotencyKey = Annotated[str | None, Header(max_length=200)]


@dataclass(frozen=True)
class InquiryMove:
    """The caller's transition request, ready for ``actions.move``."""

    runtime: Runtime
    principal: Principal
    idempotency_key: str | None

    async def __call__(self, inquiry_id: uuid.UUID, **change: BaseModel) -> InquiryDetail:
        return await actions.move(
            self.runtime, self.principal, inquiry_id, self.idempotency_key, **change
        )


def inquiry_move(
    principal: Principal = Depends(work),
    runtime: Runtime = Depends(get_runtime),
    idempotency_key: IdempotencyKey = None,
) -> InquiryMove:
    return InquiryMove(runtime, principal, idempotency_key)


@router.post("/v1/inquiries/{inquiry_id}/assign", response_model=InquiryDetail)
async def assign(
    inquiry_id: uuid.UUID, body: AssignIn, move: InquiryMove = Depends(inquiry_move)
) -> InquiryDetail:
    return await move(inquiry_id, assign=body)


@router.post(
    "/v1/inquiries/{inquiry_id}/reply",
    response_model=InquiryDetail,
    summary="Email the lead through the delivery path; the timeline keeps the message",
)
async def reply(
    inquiry_id: uuid.UUID, body: ReplyIn, move: InquiryMove = Depends(inquiry_move)
) -> InquiryDetail:
    return await move(inquiry_id, reply=body)


@router.post(
    "/v1/inquiries/{inquiry_id}/lead-response",
    response_model=InquiryDetail,
    summary="The lead answered (phone, direct mail): sales owes them the next answer",
)
async def lead_response(
    inquiry_id: uuid.UUID, body: LeadResponseIn, move: InquiryMove = Depends(inquiry_move)
) -> InquiryDetail:
    return await move(inquiry_id, lead_response=body)


@router.post(
    "/v1/inquiries/{inquiry_id}/convert",
    response_model=InquiryDetail,
    summary="Won: link a customer profile, or create one from the inquiry's contact",
)
async def convert(
    inquiry_id: uuid.UUID, body: ConvertIn, move: InquiryMove = Depends(inquiry_move)
) -> InquiryDetail:
    return await move(inquiry_id, convert=body)


@router.post("/v1/inquiries/{inquiry_id}/lose", response_model=InquiryDetail)
async def lose(
    inquiry_id: uuid.UUID, body: LoseIn, move: InquiryMove = Depends(inquiry_move)
) -> InquiryDetail:
    return await move(inquiry_id, lose=body)
