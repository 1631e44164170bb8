"""Endpoints for people without a key: recipients of Herald's messages."""

from __future__ import annotations

from html import escape

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from api.deps import get_db
from api.ratelimit import link_limit
from herald.db import Database
from herald.errors import NotFound
from herald.messaging.audience import unsubscribe_with_token
from herald.messaging.models import Message, MessageStatus
from herald.messaging.tracking import CLICK, OPEN
from herald.messaging.unsubscribe import Links
from herald.messaging.webhooks import advance
from herald.organizations.models import Organization
from herald.organizations.service import organization_by_slug

router = APIRouter(prefix="/v1/public", tags=["public"])

_PAGE = """<!doctype html><html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1"><title>{title}</title></head>
<body style="font-family:sans-serif;max-width:32rem;margin:4rem auto">{body}</body></html>"""


def page(title: str, body: str, status: int = 200) -> HTMLResponse:
    return HTMLResponse(_PAGE.format(title=escape(title), body=body), status_code=status)


def organization_for(db: Database, slug: str) -> Organization:
    with db.system_session() as session:
        org = organization_by_slug(session, slug)
    if org is None:
        raise NotFound("no such organization")
    return org


@router.api_route(
    "/{slug}/unsubscribe/{token}",
    methods=["GET", "POST"],
    response_class=HTMLResponse,
    dependencies=[Depends(link_limit)],
    summary="GET shows a confirmation (mail scanners open links); POST is the one-click "
    "unsubscribe of RFC 8058 and revokes email marketing consent",
)
def unsubscribe(
    slug: str, token: str, request: Request, db: Database = Depends(get_db)
) -> HTMLResponse:
    apply = request.method == "POST"
    try:
        org = organization_for(db, slug)
        with db.session(org.id) as session:
            unsubscribe_with_token(session, org.id, token, request.app.state.links, apply=apply)
    except NotFound:
        return page("Link not valid", "<p>This unsubscribe link is not valid.</p>", 404)
    name = escape(org.name)
    if not apply:
        return page(
            "Unsubscribe",
            f"<h1>Unsubscribe from {name}?</h1><form method=post>"
            "<button type=submit>Unsubscribe</button></form>",
        )
    return page(
        "Unsubscribed",
        f"<h1>You are unsubscribed</h1><p>{name} will send you no more marketing email.</p>",
    )


# The smallest transparent GIF: the open pixel.
_PIXEL = bytes.fromhex(
    "47494638396101000100800000000000ffffff21f90401000000002c00000000010001000002024401003b"
)


tracking = APIRouter(tags=["public"])


@tracking.get("/v1/track/{token}", summary="Herald's click redirect and open pixel (signed)")
def track(token: str, request: Request, db: Database = Depends(get_db)) -> Response:
    parsed = Links.parse_tracking_token(token)
    if parsed is None:
        raise NotFound("no such link")
    message_id, kind, index, signature = parsed
    with db.system_session() as session:
        message = session.get(Message, message_id)
        org_id = message.organization_id if message else None
    links: Links = request.app.state.links
    if org_id is None or not links.tracking_valid(org_id, message_id, kind, index, signature):
        raise NotFound("no such link")
    with db.session(org_id) as session:
        found = session.get(Message, message_id)
        assert found is not None
        targets = found.content.get("tracked_links", [])
        if kind == CLICK and index < len(targets):
            advance(found, MessageStatus.clicked)
            session.commit()
            return RedirectResponse(targets[index], status_code=302)
        if kind == OPEN:
            advance(found, MessageStatus.opened)
            session.commit()
            return Response(_PIXEL, media_type="image/gif", headers={"Cache-Control": "no-store"})
    raise NotFound("no such link")
