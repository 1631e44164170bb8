"""Request metrics, and ``/metrics`` for Prometheus (the operator token as a bearer token:
request counts are the operator's business, not the public's)."""

from __future__ import annotations

import hmac
import time

from fastapi import APIRouter, Header, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from starlette.types import Message, Receive, Scope, Send

from api.middleware import HttpMiddleware
from herald.errors import NotFound
from herald.metrics import HTTP_REQUESTS, HTTP_SECONDS


class RequestMetrics(HttpMiddleware):
    """Counts each request by its route's template (never its ids) and status."""

    async def handle(self, scope: Scope, receive: Receive, send: Send) -> None:
        started = time.perf_counter()
        status = 500

        async def send_counted(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_counted)
        finally:
            route = getattr(scope.get("route"), "path", None) or "unmatched"
            method = scope["method"]
            HTTP_REQUESTS.labels(method, route, str(status)).inc()
            HTTP_SECONDS.labels(method, route).observe(time.perf_counter() - started)


def metrics_router(operator_token: str) -> APIRouter:
    router = APIRouter(include_in_schema=False)

    @router.get("/metrics")
    def metrics(authorization: str = Header("")) -> Response:
        if not hmac.compare_digest(authorization.encode(), f"Bearer {operator_token}".encode()):
            raise NotFound("not found")
        return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)

    return router
