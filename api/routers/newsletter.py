from __future__ import annotations

import uuid
from html import escape
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import HTMLResponse
from sqlalchemy.orm import Session

from api.deps import PageCursor, PageLimit, get_runtime, org_session, require
from api.ratelimit import link_limit, signup_limit
from api.routers.public import page
from herald.access.permissions import Permission
from herald.access.service import Principal
from herald.errors import NotFound
from herald.newsletter import actions, service
from herald.newsletter.models import SubscriberStatus
from herald.newsletter.schemas import (
    TOPIC_PATTERN,
    NewsletterStats,
    SubscribeIn,
    SubscriberCreate,
    SubscriberOut,
    SubscriberUpdate,
)
from herald.pagination import Page
from herald.runtime import Runtime

router = APIRouter(tags=["newsletter"])
INVALID = "<p>This link is not valid.</p>"


@router.post(
    "/v1/public/{slug}/newsletter",
    status_code=202,
    dependencies=[Depends(signup_limit)],
    summary="Subscribe (public). The answer is the same whether the address was known",
)
async def subscribe(
    slug: str, body: SubscribeIn, runtime: Runtime = Depends(get_runtime)
) -> dict[str, str]:
    await actions.subscribe(runtime, slug, body)
    return {"status": "accepted"}


_PAGES = {
    # action: (question on GET, title and text after POST)
    actions.LinkAction.confirm: (
        "Confirm your subscription to",
        "Subscribed",
        "You get news from {name}.",
    ),
    actions.LinkAction.unsubscribe: (
        "Unsubscribe from",
        "Unsubscribed",
        "{name} will send you no more newsletters.",
    ),
    actions.LinkAction.leave_topic: (
        "Leave this topic of",
        "Topic left",
        "{name} will send you no more on this topic; your other topics stay.",
    ),
}


@router.api_route(
    "/v1/public/{slug}/newsletter/{action}/{token}",
    methods=["GET", "POST"],
    response_class=HTMLResponse,
    dependencies=[Depends(link_limit)],
    summary="Confirm or leave: GET shows a page and changes nothing (mail scanners open "
    "links); POST acts",
)
async def newsletter_link(
    slug: str,
    action: actions.LinkAction,
    token: str,
    request: Request,
    topic: Annotated[str | None, Query(pattern=TOPIC_PATTERN)] = None,
    runtime: Runtime = Depends(get_runtime),
) -> HTMLResponse:
    apply = request.method == "POST"
    try:
        name = escape(
            await actions.follow_link(runtime, slug, action, token, apply=apply, topic=topic)
        )
    except NotFound:
        return page("Link not valid", INVALID, 404)
    question, title, text = _PAGES[action]
    if not apply:
        return page(
            question,
            f"<h1>{question} {name}?</h1><form method=post>"
            f"<button type=submit>{question.split()[0]}</button></form>",
        )
    return page(title, f"<h1>{title}</h1><p>{text.format(name=name)}</p>")


@router.get(
    "/v1/newsletter/subscribers", response_model=Page[SubscriberOut], summary="Newest first"
)
def list_subscribers(
    status: SubscriberStatus | None = None,
    q: Annotated[str | None, Query(max_length=200, description="part of the address")] = None,
    topic: Annotated[str | None, Query(pattern=TOPIC_PATTERN)] = None,
    limit: PageLimit = 50,
    cursor: PageCursor = None,
    _: Principal = Depends(require(Permission.audience_manage)),
    session: Session = Depends(org_session),
) -> Page[SubscriberOut]:
    return service.list_subscribers(session, status, q=q, topic=topic, limit=limit, cursor=cursor)


@router.post(
    "/v1/newsletter/subscribers",
    status_code=201,
    response_model=SubscriberOut,
    summary="Add an address: subscribed at once, with email marketing consent",
)
def add_subscriber(
    body: SubscriberCreate,
    _: Principal = Depends(require(Permission.audience_manage)),
    session: Session = Depends(org_session),
) -> SubscriberOut:
    return service.add_subscriber(session, body)


@router.patch(
    "/v1/newsletter/subscribers/{subscriber_id}",
    response_model=SubscriberOut,
    summary="Set the subscriber's topics",
)
def set_topics(
    subscriber_id: uuid.UUID,
    body: SubscriberUpdate,
    _: Principal = Depends(require(Permission.audience_manage)),
    session: Session = Depends(org_session),
) -> SubscriberOut:
    return service.set_topics(session, subscriber_id, body)


@router.post(
    "/v1/newsletter/subscribers/{subscriber_id}/unsubscribe",
    response_model=SubscriberOut,
    summary="Take the address off the list; its email marketing consent is revoked",
)
def unsubscribe_subscriber(
    subscriber_id: uuid.UUID,
    _: Principal = Depends(require(Permission.audience_manage)),
    session: Session = Depends(org_session),
) -> SubscriberOut:
    return service.unsubscribe_by_staff(session, subscriber_id)


@router.delete("/v1/newsletter/subscribers/{subscriber_id}", status_code=204)
def delete_subscriber(
    subscriber_id: uuid.UUID,
    _: Principal = Depends(require(Permission.audience_manage)),
    session: Session = Depends(org_session),
) -> None:
    service.delete_subscriber(session, subscriber_id)


@router.get("/v1/newsletter/stats", response_model=NewsletterStats)
def newsletter_stats(
    _: Principal = Depends(require(Permission.audience_manage)),
    session: Session = Depends(org_session),
) -> NewsletterStats:
    return service.stats(session)
