"""Inbound provider webhooks, verified by the providers' own signature schemes (their SDKs)."""

from __future__ import annotations

import json
import time
import uuid

from fastapi import APIRouter, Depends, Request, Response
from sendgrid.helpers.eventwebhook import EventWebhook, EventWebhookHeader
from twilio.request_validator import RequestValidator
from twilio.twiml.messaging_response import MessagingResponse

from api.deps import get_app_settings, get_db
from api.routers.public import organization_for
from herald.customers.schemas import to_e164
from herald.db import Database
from herald.errors import InvalidInput, NotFound, Unauthorized
from herald.messaging.models import Message
from herald.messaging.setup import load_messaging_settings
from herald.messaging.webhooks import (
    apply_sendgrid_events,
    apply_twilio_status,
    handle_inbound_sms,
)
from herald.settings import Settings

router = APIRouter(prefix="/v1/webhooks", tags=["webhooks"])
# A signed request older than this is refused: a captured one cannot be replayed later.
MAX_SIGNATURE_AGE_S = 600
MAX_WEBHOOK_BYTES = 5_000_000


async def _body(request: Request) -> bytes:
    body = await request.body()
    if len(body) > MAX_WEBHOOK_BYTES:
        raise InvalidInput("webhook body too large")
    return body


@router.post("/sendgrid/{slug}", status_code=204, summary="SendGrid Event Webhook (signed)")
async def sendgrid_events(slug: str, request: Request, db: Database = Depends(get_db)) -> Response:
    body = await _body(request)
    org = organization_for(db, slug)
    with db.session(org.id) as session:
        settings = load_messaging_settings(session)
        key = settings.sendgrid_webhook_public_key if settings else None
    signature = request.headers.get(EventWebhookHeader.SIGNATURE)
    stamp = request.headers.get(EventWebhookHeader.TIMESTAMP)
    if not key or not signature or not stamp:
        raise Unauthorized("unsigned, or no verification key configured")
    try:
        fresh = abs(time.time() - int(stamp)) <= MAX_SIGNATURE_AGE_S
        valid = EventWebhook(key).verify_signature(body.decode(), signature, stamp)
    except (ValueError, TypeError) as exc:
        raise Unauthorized("malformed signature") from exc
    if not (valid and fresh):
        raise Unauthorized("bad or stale signature")
    try:
        events = json.loads(body)
    except json.JSONDecodeError as exc:
        raise InvalidInput("body is not JSON") from exc
    if not isinstance(events, list):
        raise InvalidInput("expected a JSON array of events")
    with db.session(org.id) as session:
        apply_sendgrid_events(session, [e for e in events if isinstance(e, dict)])
    return Response(status_code=204)


async def _verified_form(
    request: Request, settings: Settings, auth_token: str | None
) -> dict[str, str]:
    """Twilio signs the public URL it called plus the sorted form parameters."""
    await _body(request)
    form = {k: str(v) for k, v in (await request.form()).items()}
    url = settings.public_url.rstrip("/") + request.url.path
    if request.url.query:
        url += "?" + request.url.query
    signature = request.headers.get("X-Twilio-Signature", "")
    if not auth_token or not RequestValidator(auth_token).validate(url, form, signature):
        raise Unauthorized("bad Twilio signature")
    return form


@router.post("/twilio/status", status_code=204, summary="Twilio message status callback (signed)")
async def twilio_status(
    message_id: uuid.UUID,
    request: Request,
    db: Database = Depends(get_db),
    settings: Settings = Depends(get_app_settings),
) -> Response:
    with db.system_session() as session:
        message = session.get(Message, message_id)
        org_id = message.organization_id if message else None
    if org_id is None:
        raise NotFound("no such message")
    with db.session(org_id) as session:
        messaging = load_messaging_settings(session)
        form = await _verified_form(
            request, settings, messaging.twilio_auth_token if messaging else None
        )
        found = session.get(Message, message_id)
        assert found is not None
        apply_twilio_status(session, found, form)
    return Response(status_code=204)


@router.post("/twilio/inbound/{slug}", summary="Inbound SMS (signed): STOP, START, HELP")
async def twilio_inbound(
    slug: str,
    request: Request,
    db: Database = Depends(get_db),
    settings: Settings = Depends(get_app_settings),
) -> Response:
    org = organization_for(db, slug)
    with db.session(org.id) as session:
        messaging = load_messaging_settings(session)
        form = await _verified_form(
            request, settings, messaging.twilio_auth_token if messaging else None
        )
        try:
            phone = to_e164(form.get("From", ""))
        except ValueError as exc:
            raise InvalidInput("From is not a phone number", field="From") from exc
        reply = handle_inbound_sms(
            session, org.name, phone, form.get("Body", ""), form.get("MessageSid", "")
        )
    twiml = MessagingResponse()
    if reply:
        twiml.message(reply)
    return Response(str(twiml), media_type="application/xml")
