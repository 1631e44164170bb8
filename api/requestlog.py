"""Each request's id, for its log lines and its answer (``X-Request-ID``)."""

from __future__ import annotations

from starlette.datastructures import MutableHeaders
from starlette.types import Message, Receive, Scope, Send

from api.middleware import HttpMiddleware
from herald.logs import request_context

HEADER = "x-request-id"


class RequestIds(HttpMiddleware):
    async def handle(self, scope: Scope, receive: Receive, send: Send) -> None:
        given = dict(scope["headers"]).get(HEADER.encode(), b"").decode("latin-1")[:100]
        with request_context(given if given.isprintable() else None) as context:

            async def send_with_id(message: Message) -> None:
                if message["type"] == "http.response.start":
                    MutableHeaders(scope=message).append(HEADER, context.request_id)
                await send(message)

            await self.app(scope, receive, send_with_id)
