"""The campaign builder's forms, translated to the domain's models and back.

Only translation lives here: what an audience, a test or a message may be is decided by
``herald.campaigns`` and ``herald.messaging`` when the values are validated and saved."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

from starlette.datastructures import FormData

from console.web import form_text as text
from herald.campaigns.schemas import Audience
from herald.errors import InvalidInput
from herald.messaging.models import Channel

AUDIENCE_KINDS = ("segment", "topic", "customers")


def customer_references(form: FormData) -> list[str]:
    """The chosen customers as listed: one id or email per line (or separated by commas)."""
    if text(form, "audience_kind") != "customers":
        return []
    return [r for r in text(form, "customers").replace(",", "\n").split() if r]


def audience(form: FormData, chosen: list[uuid.UUID]) -> dict[str, Any]:
    """The audience the form describes, as the domain's Audience reads it."""
    kind = text(form, "audience_kind")
    if kind not in AUDIENCE_KINDS:
        raise InvalidInput("choose who receives the campaign", field="audience_kind")
    topic = text(form, "topic") or None
    if kind == "topic":
        if topic is None:
            raise InvalidInput("name the newsletter topic", field="topic")
        return {"topic": topic}
    narrowed = {"topic": topic} if topic and form.get("narrow_to_topic") else {}
    if kind == "segment":
        if not text(form, "segment"):
            raise InvalidInput("choose a segment", field="segment")
        return {"segment": text(form, "segment"), **narrowed}
    if not chosen:
        raise InvalidInput("list at least one customer (id or email)", field="customers")
    return {"customers": [str(c) for c in chosen], **narrowed}


def audience_values(value: Audience) -> dict[str, Any]:
    """A saved audience as the form's fields."""
    if value.segment is not None:
        kind = "segment"
    elif value.customers is not None:
        kind = "customers"
    else:
        kind = "topic"
    return {
        "audience_kind": kind,
        "segment": value.segment or "",
        "topic": value.topic or "",
        "narrow_to_topic": value.topic is not None and kind != "topic",
        "customers": "\n".join(str(c) for c in value.customers or []),
    }


def ab_test(form: FormData) -> dict[str, Any] | None:
    """The A/B settings, or None when the variants are to share the audience evenly."""
    if not form.get("ab_enabled"):
        return None
    try:
        percent = float(text(form, "test_percent") or "20")
        minutes = float(text(form, "window_minutes") or "240")
        confidence = float(text(form, "confidence") or "95")
    except ValueError as exc:
        raise InvalidInput("give numbers for the test's size, window and confidence") from exc
    return {
        "test_fraction": percent / 100,
        "metric": text(form, "metric") or "click",
        "window": timedelta(minutes=minutes),
        "confidence": confidence / 100,
        "default_variant": text(form, "default_variant") or None,
    }


def content(channel: Channel, form: FormData) -> dict[str, Any]:
    """One locale's content as the channel's composer posted it (an email as a block design
    the domain makes the HTML from)."""
    if channel is Channel.email:
        try:
            design = json.loads(text(form, "design") or "{}")
        except json.JSONDecodeError as exc:
            raise InvalidInput(
                "the design did not arrive whole; save again", field="design"
            ) from exc
        if isinstance(design, dict):
            design["preheader"] = text(form, "preheader")
        return {"subject": text(form, "subject"), "design": design}
    if channel is Channel.sms:
        return {"body": text(form, "body")}
    link = text(form, "link")
    return {
        "title": text(form, "title"),
        "body": text(form, "body"),
        "data": {"url": link} if link else {},
    }


def send_at(form: FormData) -> datetime | None:
    """Now (None), or the time picked in the browser's own time zone, which the page reports
    as its offset from UTC in minutes."""
    if text(form, "when") != "later":
        return None
    picked = text(form, "send_at_local")
    if not picked:
        raise InvalidInput("pick the day and time to send", field="send_at_local")
    try:
        local = datetime.fromisoformat(picked)
        offset = timedelta(minutes=int(text(form, "utc_offset_minutes") or "0"))
    except ValueError as exc:
        raise InvalidInput("not a day and time", field="send_at_local") from exc
    moment = local.replace(tzinfo=timezone(offset)).astimezone(UTC)
    if moment <= datetime.now(UTC):
        raise InvalidInput("that time has passed; pick a later one", field="send_at_local")
    return moment


def located(problem: InvalidInput) -> InvalidInput:
    """A problem in an email's design, with the block it is in named the way the editor shows
    it (block 3, or block 2's column 1)."""
    field = problem.field or ""
    _, found, path = field.partition(".design.blocks.")
    if not found:
        return problem
    parts = path.split(".")
    where = f"Block {int(parts[0]) + 1}"
    if "columns" in parts[1:3]:
        at = parts.index("columns", 1) + 1
        where += f", column {int(parts[at]) + 1}, block {int(parts[at + 1]) + 1}"
    return InvalidInput(f"{where}: {problem.detail}", field=problem.field)
