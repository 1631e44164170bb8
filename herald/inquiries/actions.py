"""Inquiry use cases that reach past the database: the public form (whose event starts the
follow-up run), the live feed, and the transitions the follow-up run decides on. The API and
the console call these."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator

from pydantic import BaseModel
from sqlalchemy.orm import Session

from herald.access.service import Principal, in_force
from herald.errors import Conflict, NotFound
from herald.inquiries import service
from herald.inquiries.contracts import CLOSED, Transition
from herald.inquiries.schemas import (
    Assignee,
    InquiryDetail,
    InquiryIn,
    InquiryOut,
    InquiryPage,
    InquiryQuery,
)
from herald.organizations.models import Organization
from herald.organizations.public import in_public_org
from herald.runs.service import update_run
from herald.runtime import Runtime

# How often the live feed looks for new inquiries: well inside the promised second.
FEED_POLL_S = 0.25
# How often it asks whether the key that opened it is still in force (a revoked key's feed
# ends within this).
FEED_KEY_CHECK_S = 1.0


async def submit(runtime: Runtime, slug: str, form: InquiryIn) -> uuid.UUID:
    """The public contact form: store the inquiry; its event starts the follow-up run (the
    sweeper retries if this first try fails). The visitor learns only a receipt id; a bot that
    filled in the honeypot gets one too, just like a person, and nothing is stored."""

    def capture(session: Session, org: Organization) -> tuple[uuid.UUID, uuid.UUID] | None:
        captured = service.capture(session, form)
        return (captured[0].id, captured[1]) if captured is not None else None

    captured = await in_public_org(runtime, slug, capture)
    if captured is None:
        return uuid.uuid4()
    inquiry_id, event_id = captured
    runtime.dispatch_soon([event_id])
    return inquiry_id


async def feed(
    runtime: Runtime, principal: Principal, last_event_id: str | None
) -> AsyncIterator[InquiryOut]:
    """New inquiries as they come, each once, resuming after ``last_event_id``; runs until the
    consumer stops, or until the key that opened it is revoked. Short sessions per poll: a feed
    may stay open for hours."""
    inquiries = await asyncio.to_thread(
        service.InquiryFeed, runtime.db, principal.organization_id, last_event_id
    )
    polls_per_check = max(1, round(FEED_KEY_CHECK_S / FEED_POLL_S))
    polls = 0
    while True:
        if polls % polls_per_check == 0 and not await runtime.in_system(
            lambda s: in_force(s, principal)
        ):
            return
        polls += 1
        for inquiry in await asyncio.to_thread(inquiries.poll):
            yield inquiry
        await asyncio.sleep(FEED_POLL_S)


async def inquiry_page(
    runtime: Runtime, organization_id: uuid.UUID, query: InquiryQuery
) -> InquiryPage:
    return await runtime.in_org(organization_id, lambda s: service.list_inquiries(s, query))


async def inquiry(
    runtime: Runtime, organization_id: uuid.UUID, inquiry_id: uuid.UUID
) -> InquiryDetail:
    return await runtime.in_org(organization_id, lambda s: service.inquiry_detail(s, inquiry_id))


async def assignees(runtime: Runtime, organization_id: uuid.UUID) -> list[Assignee]:
    return await runtime.in_org(organization_id, service.assignees)


async def move(
    runtime: Runtime,
    principal: Principal,
    inquiry_id: uuid.UUID,
    idempotency_key: str | None = None,
    **change: BaseModel,
) -> InquiryDetail:
    """Ask the inquiry's run for a transition (assign, reply, lead_response, convert, lose); the
    run checks it against the current status. A retried request with the same idempotency key
    repeats nothing (one reply email, say)."""
    transition = Transition(actor=principal.actor, **change)
    name = transition.name()
    org_id = principal.organization_id

    def check(session: Session) -> None:
        inquiry = service.get_inquiry(session, inquiry_id)
        if inquiry.status in CLOSED:
            raise Conflict(f"the inquiry is {inquiry.status.value}; it can no longer change")
        if transition.assign is not None:
            service.check_assignee(session, transition.assign.assignee_id)
        if transition.convert is not None and transition.convert.customer_id is not None:
            service.check_customer(session, transition.convert.customer_id)

    await runtime.in_org(org_id, check)
    try:
        await update_run(
            await runtime.client(),
            org_id,
            service.follow_up_workflow_id(org_id, inquiry_id),
            name,
            transition,
            update_id=f"{name}/{idempotency_key}" if idempotency_key else None,
        )
    except NotFound as exc:  # the form's event has not started the run yet
        raise Conflict("the inquiry's follow-up is starting; try again in a moment") from exc
    return await runtime.in_org(org_id, lambda s: service.inquiry_detail(s, inquiry_id))
