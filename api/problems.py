"""Errors as RFC 9457 problem+json: every 4xx names what was wrong and, where it can, the field."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from sqlalchemy.exc import DataError
from starlette.exceptions import HTTPException
from temporalio.service import RPCError

from herald.errors import HeraldError, InvalidInput

log = logging.getLogger(__name__)
PROBLEM_JSON = "application/problem+json"
# Discriminator tags pydantic inserts into error paths; the client never sent them.
_UNION_TAGS = {"order.paid", "order.refunded", "custom", "single", "batch"}


def problem(status: int, title: str, detail: str, request: Request, **extra: Any) -> JSONResponse:
    body = {
        "type": "about:blank",
        "title": title,
        "status": status,
        "detail": detail,
        "instance": request.url.path,
        **extra,
    }
    return JSONResponse(body, status_code=status, media_type=PROBLEM_JSON)


def _field(loc: tuple[Any, ...]) -> str:
    parts = [str(p) for p in loc if p not in _UNION_TAGS]
    # A rule node is tagged by its key, so "all" then the "all" field would read twice.
    parts = [p for i, p in enumerate(parts) if i + 1 == len(parts) or parts[i + 1] != p]
    if parts and parts[0] in ("body", "query", "path", "header"):
        parts = parts[1:] or parts
    return ".".join(parts)


# The console's answer to an error on one of its routes (a page, a toast, a redirect), or
# None for an API route.
PageErrors = Callable[[Request, Exception], Response | None]


def install_problem_handlers(app: FastAPI, pages: PageErrors | None = None) -> None:
    @app.exception_handler(HeraldError)
    async def _domain(request: Request, exc: HeraldError) -> Response:
        page = pages(request, exc) if pages else None
        if page is not None:
            return page
        extra = {"errors": [{"field": exc.field, "message": exc.detail}]} if exc.field else {}
        headers = {"WWW-Authenticate": "Bearer"} if exc.status == 401 else None
        response = problem(exc.status, exc.title, exc.detail, request, **extra)
        if headers:
            response.headers.update(headers)
        return response

    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, exc: RequestValidationError) -> Response:
        errors = [
            {"field": _field(tuple(err["loc"])), "message": err["msg"]} for err in exc.errors()
        ]
        detail = "; ".join(f"{e['field']}: {e['message']}" for e in errors[:5])
        page = pages(request, InvalidInput(detail, field=errors[0]["field"])) if pages else None
        if page is not None:
            return page
        return problem(422, "Invalid input", detail, request, errors=errors)

    @app.exception_handler(HTTPException)
    async def _http(request: Request, exc: HTTPException) -> JSONResponse:
        title = {404: "Not found", 405: "Method not allowed", 413: "Payload too large"}.get(
            exc.status_code, "Error"
        )
        return problem(exc.status_code, title, str(exc.detail), request)

    @app.exception_handler(DataError)
    async def _unstorable(request: Request, exc: DataError) -> JSONResponse:
        # The database refused a value the schemas let through (a NUL character in text on
        # PostgreSQL, say): the client's input, and nothing was written.
        log.info("value refused by the database on %s: %s", request.url.path, exc.orig)
        return problem(
            422, "Invalid input", "a value cannot be stored (a NUL character in text?)", request
        )

    @app.exception_handler(RPCError)
    async def _temporal(request: Request, exc: RPCError) -> JSONResponse:
        log.warning("Temporal call failed on %s: %s", request.url.path, exc)
        return problem(503, "Service unavailable", "Temporal is unreachable; try again", request)

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
        log.exception("unhandled error on %s %s", request.method, request.url.path)
        return problem(500, "Internal error", "an unexpected error occurred", request)
