"""Inquiries: the sales inbox (new inquiries appear as they arrive) and an inquiry's page with
its timeline and the moves sales make on it (assign, reply, the lead answered, won, lost).

Each move is asked of the inquiry's follow-up run, which decides whether the status allows it;
a retried form (the same hidden key) repeats nothing, one reply email included."""

from __future__ import annotations

import uuid
from typing import Any

from fastapi import APIRouter, Depends, Request, Response
from pydantic import BaseModel

from console.web import (
    PageRoute,
    Staff,
    allowed,
    check_csrf,
    redirect,
    render,
    runtime_of,
    validated,
)
from herald.access.permissions import Permission
from herald.inquiries import actions
from herald.inquiries.contracts import (
    AssignIn,
    ConvertIn,
    InquiryStatus,
    LeadResponseIn,
    LoseIn,
    ReplyIn,
)
from herald.inquiries.schemas import InquiryQuery

router = APIRouter(route_class=PageRoute, include_in_schema=False)
read = allowed(Permission.inquiries_read)
work = allowed(Permission.inquiries_work)
writes = [Depends(check_csrf)]

# The inbox's tabs: open work first.
TABS = {
    "": "All",
    InquiryStatus.new.value: "New",
    InquiryStatus.assigned.value: "Assigned",
    InquiryStatus.replied.value: "Replied",
    InquiryStatus.converted.value: "Won",
    InquiryStatus.lost.value: "Lost",
}
INBOX_SIZE = 100
# How often an open inbox asks for what arrived (a fragment of the table).
INBOX_REFRESH_S = 3
# Each move: the form's model, and the toast once the run has taken it.
MOVES: dict[str, tuple[type[BaseModel], str]] = {
    "assign": (AssignIn, "Assigned"),
    "reply": (ReplyIn, "Reply sent"),
    "lead_response": (LeadResponseIn, "Noted: the lead answered"),
    "convert": (ConvertIn, "Marked as won"),
    "lose": (LoseIn, "Marked as lost"),
}


@router.get("/inquiries")
async def inbox(request: Request, status: str = "", member: Staff = Depends(read)) -> Response:
    runtime = runtime_of(request)
    query: InquiryQuery = validated(InquiryQuery, {"status": status or None, "limit": INBOX_SIZE})
    page = await actions.inquiry_page(runtime, member.organization_id, query)
    people = await actions.assignees(runtime, member.organization_id)
    context = {
        "page": page,
        "status": status,
        "tabs": TABS,
        "assignees": {a.id: a.email for a in people},
        "refresh_s": INBOX_REFRESH_S,
        "nav": "inquiries",
    }
    if request.headers.get("HX-Target") == "inbox":
        return render(request, "inquiries/_inbox.html", context)
    return render(request, "inquiries/inbox.html", context)


@router.get("/inquiries/{inquiry_id}")
async def inquiry_page(
    request: Request, inquiry_id: uuid.UUID, member: Staff = Depends(read)
) -> Response:
    runtime = runtime_of(request)
    inquiry = await actions.inquiry(runtime, member.organization_id, inquiry_id)
    people = await actions.assignees(runtime, member.organization_id)
    return render(
        request,
        "inquiries/inquiry.html",
        {
            "i": inquiry,
            "people": people,
            "assignees": {a.id: a.email for a in people},
            # The timeline names staff as "user:<id>": shown by their email.
            "actors": {f"user:{a.id}": a.email for a in people},
            "open": inquiry.status not in (InquiryStatus.converted, InquiryStatus.lost),
            "move_key": uuid.uuid4(),
            "nav": "inquiries",
        },
    )


@router.post("/inquiries/{inquiry_id}/{move}", dependencies=writes)
async def make_move(
    request: Request, inquiry_id: uuid.UUID, move: str, member: Staff = Depends(work)
) -> Response:
    if move not in MOVES:
        return Response(status_code=404)
    model, done = MOVES[move]
    form = await request.form()
    data: dict[str, Any] = {
        name: value for name, value in form.items() if name in model.model_fields and value != ""
    }
    if move == "convert":
        data["create_customer"] = form.get("create_customer") == "true"
    change = validated(model, data)
    key = str(form.get("move_key") or "") or None
    await actions.move(
        runtime_of(request), member.signed_in.principal, inquiry_id, key, **{move: change}
    )
    return redirect(request, f"/inquiries/{inquiry_id}", toast=done)
