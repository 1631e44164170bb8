from __future__ import annotations

from html import escape
from typing import Annotated, Literal

from fastapi import APIRouter, BackgroundTasks, Depends, Query, Request
from fastapi.responses import HTMLResponse
from sqlalchemy.orm import Session

from api.deps import get_db, get_dispatcher, org_session, require
from api.ratelimit import link_limit, signup_limit
from api.routers.public import organization_for, page
from herald.access.permissions import Permission
from herald.access.service import Principal
from herald.db import Database
from herald.errors import NotFound
from herald.events.dispatch import EventDispatcher
from herald.messaging.setup import load_messaging_settings
from herald.newsletter import service
from herald.newsletter.models import SubscriberStatus
from herald.newsletter.schemas import NewsletterStats, SubscribeIn, SubscriberOut

router = APIRouter(tags=["newsletter"])
INVALID = "<p>This link is not valid.</p>"


@router.post(
    "/v1/public/{slug}/newsletter",
    status_code=202,
    dependencies=[Depends(signup_limit)],
    summary="Subscribe (public). The answer is the same whether the address was known",
)
def subscribe(
    slug: str,
    body: SubscribeIn,
    background: BackgroundTasks,
    db: Database = Depends(get_db),
    dispatcher: EventDispatcher = Depends(get_dispatcher),
) -> dict[str, str]:
    org = organization_for(db, slug)
    with db.session(org.id) as session:
        settings = load_messaging_settings(session)
        double_opt_in = bool(settings and settings.newsletter_double_opt_in)
        event_id = service.subscribe(session, body, double_opt_in=double_opt_in)
    if event_id is not None:
        background.add_task(dispatcher.dispatch, [event_id])
    return {"status": "accepted"}


_PAGES = {
    # action: (question on GET, title and text after POST)
    "confirm": ("Confirm your subscription to", "Subscribed", "You get news from {name}."),
    "unsubscribe": (
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
def newsletter_link(
    slug: str,
    action: Literal["confirm", "unsubscribe"],
    token: str,
    request: Request,
    db: Database = Depends(get_db),
) -> HTMLResponse:
    org = organization_for(db, slug)
    with db.session(org.id) as session:
        try:
            if request.method == "GET":
                service.check_token(session, token)
            elif action == "confirm":
                service.confirm(session, token)
            else:
                service.unsubscribe(session, token)
        except NotFound:
            return page("Link not valid", INVALID, 404)
    question, title, text = _PAGES[action]
    name = escape(org.name)
    if request.method == "GET":
        return page(
            question,
            f"<h1>{question} {name}?</h1><form method=post>"
            f"<button type=submit>{question.split()[0]}</button></form>",
        )
    return page(title, f"<h1>{title}</h1><p>{text.format(name=name)}</p>")


@router.get("/v1/newsletter/subscribers", response_model=list[SubscriberOut])
def list_subscribers(
    status: SubscriberStatus | None = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
    offset: Annotated[int, Query(ge=0)] = 0,
    _: Principal = Depends(require(Permission.audience_manage)),
    session: Session = Depends(org_session),
) -> list[SubscriberOut]:
    rows = service.list_subscribers(session, status, limit, offset)
    return [SubscriberOut.model_validate(r, from_attributes=True) for r in rows]


@router.get("/v1/newsletter/stats", response_model=NewsletterStats)
def newsletter_stats(
    _: Principal = Depends(require(Permission.audience_manage)),
    session: Session = Depends(org_session),
) -> NewsletterStats:
    return service.stats(session)
