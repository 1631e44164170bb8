"""Request bodies are capped while they stream in, on every route.

A declared ``Content-Length`` over the route's cap is refused before a byte is read; a body
sent without one (chunked) is counted as it arrives and refused the moment it passes the cap,
so no route ever holds more than its cap in memory.
"""

from __future__ import annotations

import json

from starlette.exceptions import HTTPException
from starlette.types import Message, Receive, Scope, Send

from api.middleware import HttpMiddleware

DEFAULT_BODY_BYTES = 1_000_000
# Longest prefix first: the first that matches gives the cap.
BODY_LIMITS: tuple[tuple[str, int], ...] = (
    # Forms anyone may post: small, and refused cheaply.
    ("/v1/public/", 16_384),
    # Providers batch their events.
    ("/v1/webhooks/", 5_000_000),
    # Up to 1,000 events a batch.
    ("/v1/events", 8_000_000),
    # CSV files to import: 100,000 customers is about 15 MB.
    ("/v1/imports", 50_000_000),
    # Email variants in up to 50 locales.
    ("/v1/templates", 8_000_000),
)


def body_limit(path: str) -> int:
    return next((cap for prefix, cap in BODY_LIMITS if path.startswith(prefix)), DEFAULT_BODY_BYTES)


def _too_large(limit: int) -> str:
    return f"request bodies here are limited to {limit:,} bytes"


class BodyLimit(HttpMiddleware):
    async def handle(self, scope: Scope, receive: Receive, send: Send) -> None:
        limit = body_limit(scope["path"])
        declared = dict(scope["headers"]).get(b"content-length")
        if declared is not None and (not declared.isdigit() or int(declared) > limit):
            await _refuse(scope, send, limit)
            return
        received = 0

        async def counted() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    # Raised inside the route's read: the problem handlers answer 413.
                    raise HTTPException(413, _too_large(limit))
            return message

        await self.app(scope, counted, send)


async def _refuse(scope: Scope, send: Send, limit: int) -> None:
    body = json.dumps(
        {
            "type": "about:blank",
            "title": "Payload too large",
            "status": 413,
            "detail": _too_large(limit),
            "instance": scope["path"],
        }
    ).encode()
    await send(
        {
            "type": "http.response.start",
            "status": 413,
            "headers": [
                (b"content-type", b"application/problem+json"),
                (b"content-length", str(len(body)).encode()),
                (b"connection", b"close"),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})
