"""Logs: one JSON object a line, each with the request it belongs to, and no personal data.

Every line carries ``request_id`` (the caller's ``X-Request-ID``, or one made up; sent back in
the response) and ``organization_id`` once the caller is known. Nothing a person could be
recognised by goes in: the access log shows paths without their query strings and with link
tokens blanked (unsubscribe, loyalty, newsletter, tracking, codec), and SQL parameters never
appear in errors (the engine hides them, ``herald.database``).
"""

from __future__ import annotations

import logging
import re
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any

from pythonjsonlogger.json import JsonFormatter


@dataclass
class RequestContext:
    """Shared by the request's event-loop code and the threads it hands work to."""

    request_id: str
    organization_id: str | None = None


_current: ContextVar[RequestContext | None] = ContextVar("herald_request", default=None)


@contextmanager
def request_context(request_id: str | None) -> Iterator[RequestContext]:
    context = RequestContext(request_id or uuid.uuid4().hex)
    token = _current.set(context)
    try:
        yield context
    finally:
        _current.reset(token)


def note_organization(organization_id: uuid.UUID) -> None:
    """The caller's organization, once its key is known: on every later line of the request."""
    context = _current.get()
    if context is not None:
        context.organization_id = str(organization_id)


class _WithRequest(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        context = _current.get()
        record.request_id = context.request_id if context else None
        record.organization_id = context.organization_id if context else None
        return True


# Link tokens stand for a person (their unsubscribe link, their loyalty page): blanked.
_TOKEN_PATHS = re.compile(
    r"^(/v1/public/[^/]+/(?:unsubscribe|loyalty)/|/v1/public/[^/]+/newsletter/[^/]+/"
    r"|/v1/track/|/codec/)[^/]+"
)


def redact_path(path: str) -> str:
    """A request path as logs may show it: no query string, no link token."""
    bare, _, query = path.partition("?")
    return _TOKEN_PATHS.sub(r"\1[token]", bare) + ("?[query]" if query else "")


class _RedactAccess(logging.Filter):
    """Uvicorn's access lines: (client, method, path, http version, status)."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.args, tuple) and len(record.args) == 5:
            client, method, path, version, status = record.args
            record.args = (client, method, redact_path(str(path)), version, status)
        return True


def _formatter() -> JsonFormatter:
    return JsonFormatter(
        "{asctime}{levelname}{name}{message}{request_id}{organization_id}",
        style="{",
        rename_fields={"asctime": "time", "levelname": "level", "name": "logger"},
    )


def logging_config(level: str = "INFO") -> dict[str, Any]:
    """A ``logging.config.dictConfig`` for Herald's processes (uvicorn's loggers included)."""
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "filters": {
            "request": {"()": _WithRequest},
            "redact_access": {"()": _RedactAccess},
        },
        "formatters": {"json": {"()": _formatter}},
        "handlers": {
            "default": {
                "class": "logging.StreamHandler",
                "formatter": "json",
                "filters": ["request"],
                "stream": "ext://sys.stderr",
            },
            "access": {
                "class": "logging.StreamHandler",
                "formatter": "json",
                "filters": ["request", "redact_access"],
                "stream": "ext://sys.stdout",
            },
        },
        "loggers": {
            "uvicorn": {"handlers": ["default"], "level": level, "propagate": False},
            "uvicorn.error": {"level": level},
            "uvicorn.access": {"handlers": ["access"], "level": level, "propagate": False},
        },
        "root": {"handlers": ["default"], "level": level},
    }
