"""The HTTP API: ``herald api`` (or ``uvicorn --factory api.app:create_app``)."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

from fastapi import FastAPI

import console.app as console
from api.bodylimit import BodyLimit
from api.codec import codec_app
from api.metrics import RequestMetrics, metrics_router
from api.problems import install_problem_handlers
from api.requestlog import RequestIds
from api.routers import (
    analytics,
    api_keys,
    app_api,
    bulk_actions,
    campaigns,
    customer_groups,
    customers,
    events,
    exports,
    health,
    imports,
    inquiries,
    journeys,
    loyalty,
    messages,
    newsletter,
    orders,
    organization,
    predictions,
    privacy,
    products,
    public,
    runs,
    segments,
    templates,
    users,
    webhooks,
)
from herald import tracing
from herald.assembly import build_runtime
from herald.secrets import operator_token
from herald.settings import Settings, get_settings, secret_keys, ui_origins
from simulator import simulate


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or get_settings()

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        runtime = build_runtime(settings, simulate_journey=simulate)
        app.state.runtime = runtime
        sweeper = asyncio.create_task(runtime.dispatcher.run_sweeper(settings.dispatch_interval_s))
        try:
            yield
        finally:
            sweeper.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await sweeper
            runtime.close()
            tracing.shutdown()

    app = FastAPI(
        title="Herald",
        version="0.1.0",
        summary="Marketing automation engine: customers, events, loyalty, journeys, on Temporal.",
        lifespan=lifespan,
    )
    install_problem_handlers(app, pages=console.page_error)
    if not tracing.active():
        tracing.install("herald-api")
    tracing.instrument(app)
    app.add_middleware(BodyLimit)
    if settings.metrics:
        app.add_middleware(RequestMetrics)
    app.add_middleware(RequestIds)  # outermost: every line of the request carries its id
    for router in (
        health,
        api_keys,
        customers,
        customer_groups,
        users,
        events,
        orders,
        organization,
        privacy,
        imports,
        exports,
        bulk_actions,
        products,
        loyalty,
        runs,
        templates,
        messages,
        journeys,
        segments,
        campaigns,
        inquiries,
        public,
        newsletter,
        webhooks,
        analytics,
        predictions,
        app_api,
    ):
        app.include_router(router.router)
    console.install(app)
    app.include_router(public.tracking)
    app.include_router(loyalty.customer_loyalty)
    app.include_router(predictions.customer_router)
    app.include_router(app_api.app_router)
    keys = secret_keys(settings)
    if settings.metrics:
        app.include_router(metrics_router(operator_token(keys)))
    codec = codec_app(keys, ui_origins(settings))
    install_problem_handlers(codec)
    app.mount("/codec", codec)
    return app
