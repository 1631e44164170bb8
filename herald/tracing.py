"""OpenTelemetry tracing, on when an OTLP endpoint is configured.

One trace follows a request from the API through the workflows it starts to their activities:
the API's spans come from the FastAPI instrumentation, Temporal's from its tracing interceptor,
which carries the context in each start's headers. Configuration is OpenTelemetry's own
(``OTEL_EXPORTER_OTLP_ENDPOINT`` or ``OTEL_EXPORTER_OTLP_TRACES_ENDPOINT``, OTLP over HTTP;
``OTEL_SERVICE_NAME``; ``OTEL_TRACES_SAMPLER``; ``OTEL_SDK_DISABLED``). Spans carry what logs
carry: route templates and ids, never a query string or a link token.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any

from opentelemetry import trace
from opentelemetry.sdk.resources import SERVICE_NAME, Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SpanExporter

from herald.logs import redact_path

if TYPE_CHECKING:
    from fastapi import FastAPI
    from temporalio.client import Interceptor

ENDPOINT_VARIABLES = ("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "OTEL_EXPORTER_OTLP_ENDPOINT")
# Attributes of a server span that hold the request's path or address as sent.
_PATH_ATTRIBUTES = ("http.target", "url.path")
_URL_ATTRIBUTES = ("http.url", "url.full")
_QUERY_ATTRIBUTES = ("url.query",)


def configured() -> bool:
    disabled = os.environ.get("OTEL_SDK_DISABLED", "").strip().lower() == "true"
    return not disabled and any(os.environ.get(name) for name in ENDPOINT_VARIABLES)


def install(service_name: str, exporter: SpanExporter | None = None) -> bool:
    """Send this process's spans to the configured exporter (OTLP unless one is given);
    returns whether tracing is on. ``OTEL_SERVICE_NAME`` overrides ``service_name``."""
    if exporter is None:
        if not configured():
            return False
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

        exporter = OTLPSpanExporter()
    name = os.environ.get("OTEL_SERVICE_NAME") or service_name
    provider = TracerProvider(resource=Resource.create({SERVICE_NAME: name}))
    provider.add_span_processor(BatchSpanProcessor(exporter))
    trace.set_tracer_provider(provider)
    return True


def active() -> bool:
    return isinstance(trace.get_tracer_provider(), TracerProvider)


def shutdown() -> None:
    """Send the spans still buffered (a process that stops must not lose its last traces)."""
    provider = trace.get_tracer_provider()
    if isinstance(provider, TracerProvider):
        provider.shutdown()


def temporal_interceptors() -> list[Interceptor]:
    """The client interceptors that carry a trace into Temporal (a worker built on the client
    takes them too): none while tracing is off."""
    if not active():
        return []
    from temporalio.contrib.opentelemetry import TracingInterceptor

    return [TracingInterceptor()]


def instrument(app: FastAPI) -> None:
    """A server span per request, named by its route template, its path redacted."""
    if not active():
        return
    from opentelemetry.instrumentation.fastapi import FastAPIInstrumentor

    FastAPIInstrumentor.instrument_app(
        app, server_request_hook=_redact_request, exclude_spans=["receive", "send"]
    )


def _redact_request(span: Any, scope: dict[str, Any]) -> None:
    if not span.is_recording():
        return
    path = redact_path(scope.get("path", ""))
    query = bool(scope.get("query_string"))
    for attribute in _PATH_ATTRIBUTES:
        span.set_attribute(attribute, path)
    for attribute in _URL_ATTRIBUTES:
        span.set_attribute(attribute, path + ("?[query]" if query else ""))
    if query:
        for attribute in _QUERY_ATTRIBUTES:
            span.set_attribute(attribute, "[query]")
