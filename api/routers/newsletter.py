from __future__ import annotations

from html import escape

from fastapi import APIRouter, Depends, Request
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
from herald.newsletter.schemas import NewsletterStats, SubscribeIn, SubscriberOut
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
    runtime: Runtime = Depends(get_runtime),
) -> HTMLResponse:
    apply = request.method == "POST"
    try:
        name = escape(await actions.follow_link(runtime, slug, action, token, apply=apply))
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
    limit: PageLimit = 50,
    cursor: PageCursor = None,
    _: Principal = Depends(require(Permission.audience_manage)),
    session: Session = Depends(org_session),
) -> Page[SubscriberOut]:
    return service.list_subscribers(session, status, limit=limit, cursor=cursor)


@router.get("/v1/newsletter/stats", response_model=NewsletterStats)
def newsletter_stats(
    _: Principal = Depends(require(Permission.audience_manage)),
    session: Session = Depends(org_session),
) -> NewsletterStats:
    return service.stats(session)
