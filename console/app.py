"""The console inside the API's application: its routes, its static files, and how its errors
are answered (pages, toasts and redirects instead of problem+json)."""

from __future__ import annotations

from fastapi import FastAPI, Request, Response
from fastapi.staticfiles import StaticFiles

from console.pages import (
    analytics,
    auth,
    campaigns,
    customers,
    home,
    inquiries,
    loyalty,
    newsletter,
    segments,
    settings,
)
from console.web import HERE, SignInNeeded, error_page, is_page, sign_in_needed
from herald.errors import HeraldError


def page_error(request: Request, exc: Exception) -> Response | None:
    """How a console route answers an error; ``None`` for an API route (problem+json)."""
    if not is_page(request):
        return None
    if isinstance(exc, SignInNeeded):
        return sign_in_needed(request)
    if isinstance(exc, HeraldError):
        return error_page(request, exc)
    return None


def install(app: FastAPI) -> None:
    # Segments before customers: /customers/segments is not a customer's id.
    for pages in (
        auth,
        home,
        segments,
        customers,
        campaigns,
        loyalty,
        analytics,
        inquiries,
        newsletter,
        settings,
    ):
        app.include_router(pages.router)
    app.mount("/static", StaticFiles(directory=HERE / "static"), name="static")

    @app.exception_handler(SignInNeeded)
    async def _sign_in(request: Request, exc: SignInNeeded) -> Response:
        return sign_in_needed(request)
