"""Endpoints for people without a key: recipients of Herald's messages."""

from __future__ import annotations

from html import escape

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import BaseModel, ConfigDict, Field

from api.deps import get_runtime
from api.ratelimit import link_limit, push_open_limit
from herald.errors import NotFound
from herald.messaging import actions
from herald.runtime import Runtime

router = APIRouter(prefix="/v1/public", tags=["public"])

_PAGE = """<!doctype html><html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1"><title>{title}</title></head>
<body style="font-family:sans-serif;max-width:32rem;margin:4rem auto">{body}</body></html>"""


def page(title: str, body: str, status: int = 200) -> HTMLResponse:
    return HTMLResponse(_PAGE.format(title=escape(title), body=body), status_code=status)


@router.api_route(
    "/{slug}/unsubscribe/{token}",
    methods=["GET", "POST"],
    response_class=HTMLResponse,
    dependencies=[Depends(link_limit)],
    summary="GET shows a confirmation (mail scanners open links); POST is the one-click "
    "unsubscribe of RFC 8058 and revokes email marketing consent",
)
async def unsubscribe(
    slug: str, token: str, request: Request, runtime: Runtime = Depends(get_runtime)
) -> HTMLResponse:
    apply = request.method == "POST"
    try:
        name = escape(await actions.unsubscribe(runtime, slug, token, apply=apply))
    except NotFound:
        return page("Link not valid", "<p>This unsubscribe link is not valid.</p>", 404)
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
async def track(token: str, runtime: Runtime = Depends(get_runtime)) -> Response:
    tracked = await actions.track(runtime, token)
    if tracked.redirect_to is not None:
        return RedirectResponse(tracked.redirect_to, status_code=302)
    return Response(_PIXEL, media_type="image/gif", headers={"Cache-Control": "no-store"})


class PushOpened(BaseModel):
    model_config = ConfigDict(extra="forbid")

    token: str = Field(
        min_length=10,
        max_length=200,
        description="the `herald_open_token` the push carried in its data",
    )


@router.post(
    "/{slug}/push/opened",
    status_code=204,
    dependencies=[Depends(push_open_limit)],
    summary="The app reports a push notification opened (it counts as the message's open)",
)
async def push_opened(slug: str, body: PushOpened, runtime: Runtime = Depends(get_runtime)) -> None:
    await actions.push_opened(runtime, slug, body.token)
