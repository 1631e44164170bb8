from __future__ import annotations

from html import escape
from typing import Annotated

from fastapi import APIRouter, BackgroundTasks, Depends, Query
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


def _link(db: Database, slug: str, token: str, action: str) -> str | None:
    org = organization_for(db, slug)
    with db.session(org.id) as session:
        try:
            if action == "confirm":
                service.confirm(session, token)
            elif action == "unsubscribe":
                service.unsubscribe(session, token)
            else:
                service.check_token(session, token)
        except NotFound:
            return None
    return org.name


@router.get(
    "/v1/public/{slug}/newsletter/{action}/{token}",
    response_class=HTMLResponse,
    dependencies=[Depends(link_limit)],
    summary="Confirmation page for a link (GET changes nothing: mail scanners open links)",
)
def link_page(slug: str, action: str, token: str, db: Database = Depends(get_db)) -> HTMLResponse:
    if action not in ("confirm", "unsubscribe"):
        raise NotFound("no such page")
    name = _link(db, slug, token, "check")
    if name is None:
        return page("Link not valid", INVALID, 404)
    verb = "Confirm your subscription to" if action == "confirm" else "Unsubscribe from"
    return page(
        verb,
        f"<h1>{verb} {escape(name)}?</h1><form method=post>"
        f"<button type=submit>{escape(verb.split()[0])}</button></form>",
    )


@router.post(
    "/v1/public/{slug}/newsletter/{action}/{token}",
    response_class=HTMLResponse,
    dependencies=[Depends(link_limit)],
)
def link_action(slug: str, action: str, token: str, db: Database = Depends(get_db)) -> HTMLResponse:
    if action not in ("confirm", "unsubscribe"):
        raise NotFound("no such page")
    name = _link(db, slug, token, action)
    if name is None:
        return page("Link not valid", INVALID, 404)
    if action == "confirm":
        return page("Subscribed", f"<h1>Thank you</h1><p>You get news from {escape(name)}.</p>")
    return page(
        "Unsubscribed",
        f"<h1>You are unsubscribed</h1><p>{escape(name)} will send you no more newsletters.</p>",
    )


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
