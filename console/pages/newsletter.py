"""The newsletter: its figures (subscribed now, new this month, growth by month), the
subscribers (search by address, status, topic), adding an address, a subscriber's topics,
unsubscribing and deleting."""

from __future__ import annotations

import uuid
from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Request, Response

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
from herald.errors import InvalidInput
from herald.newsletter import actions
from herald.newsletter.models import SubscriberStatus
from herald.newsletter.schemas import SubscriberCreate, SubscriberUpdate

router = APIRouter(route_class=PageRoute, include_in_schema=False)
manage = allowed(Permission.audience_manage)
writes = [Depends(check_csrf)]
HOME = "/marketing/newsletter"
FILTERS = ("q", "status", "topic")


def _topics(text: str) -> list[str]:
    """Topics as typed: separated by commas or spaces."""
    return [t for t in text.replace(",", " ").split() if t]


async def _list_context(request: Request, member: Staff) -> dict[str, Any]:
    params = request.query_params
    filters = {k: params[k].strip() for k in FILTERS if params.get(k, "").strip()}
    status = filters.get("status")
    if status is not None and status not in SubscriberStatus.__members__:
        raise InvalidInput("no such status", field="status")
    page = await actions.subscriber_page(
        runtime_of(request),
        member.organization_id,
        SubscriberStatus(status) if status else None,
        filters.get("q"),
        filters.get("topic"),
        params.get("cursor") or None,
    )
    next_url = None
    if page.next_cursor:
        next_url = f"{HOME}?{urlencode({**filters, 'cursor': page.next_cursor})}"
    return {
        "page": page,
        "filters": filters,
        "statuses": list(SubscriberStatus),
        "next_url": next_url,
    }


@router.get(HOME)
async def newsletter(request: Request, member: Staff = Depends(manage)) -> Response:
    context = await _list_context(request, member)
    if request.headers.get("HX-Target") == "subscribers":
        return render(request, "newsletter/_subscribers.html", context)
    stats = await actions.statistics(runtime_of(request), member.organization_id)
    return render(request, "newsletter/page.html", {**context, "stats": stats, "nav": "newsletter"})


@router.post(f"{HOME}/subscribers", dependencies=writes)
async def add(request: Request, member: Staff = Depends(manage)) -> Response:
    form = await request.form()
    data: SubscriberCreate = validated(
        SubscriberCreate,
        {
            "email": str(form.get("email") or "").strip(),
            "topics": _topics(str(form.get("topics") or "")),
            "locale": str(form.get("locale") or "").strip() or None,
        },
    )
    added = await actions.add_subscriber(runtime_of(request), member.organization_id, data)
    return redirect(request, HOME, toast=f"{added.email} subscribed")


@router.post(f"{HOME}/subscribers/{{subscriber_id}}/topics", dependencies=writes)
async def topics(
    request: Request, subscriber_id: uuid.UUID, member: Staff = Depends(manage)
) -> Response:
    form = await request.form()
    data: SubscriberUpdate = validated(
        SubscriberUpdate, {"topics": _topics(str(form.get("topics") or ""))}
    )
    changed = await actions.set_topics(
        runtime_of(request), member.organization_id, subscriber_id, data
    )
    return render(
        request,
        "newsletter/_row.html",
        {"s": changed},
        toast=f"Topics of {changed.email} saved",
    )


@router.post(f"{HOME}/subscribers/{{subscriber_id}}/unsubscribe", dependencies=writes)
async def unsubscribe(
    request: Request, subscriber_id: uuid.UUID, member: Staff = Depends(manage)
) -> Response:
    left = await actions.unsubscribe_by_staff(
        runtime_of(request), member.organization_id, subscriber_id
    )
    return render(request, "newsletter/_row.html", {"s": left}, toast=f"{left.email} unsubscribed")


@router.post(f"{HOME}/subscribers/{{subscriber_id}}/delete", dependencies=writes)
async def delete(
    request: Request, subscriber_id: uuid.UUID, member: Staff = Depends(manage)
) -> Response:
    await actions.delete_subscriber(runtime_of(request), member.organization_id, subscriber_id)
    return redirect(request, HOME, toast="Subscriber deleted")
