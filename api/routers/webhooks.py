"""Inbound provider webhooks, verified by the providers' own signature schemes (their SDKs)."""

from __future__ import annotations

import uuid

from fastapi import APIRouter, Depends, Request, Response
from sendgrid.helpers.eventwebhook import EventWebhookHeader
from twilio.twiml.messaging_response import MessagingResponse

from api.deps import get_runtime
from herald.messaging import actions
from herald.messaging.actions import TwilioRequest
from herald.runtime import Runtime

router = APIRouter(prefix="/v1/webhooks", tags=["webhooks"])


async def _twilio_request(request: Request) -> TwilioRequest:
    """Twilio signs the public URL it called plus the sorted form parameters."""
    form = {k: str(v) for k, v in (await request.form()).items()}
    path = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    return TwilioRequest(path, form, request.headers.get("X-Twilio-Signature", ""))


@router.post("/sendgrid/{slug}", status_code=204, summary="SendGrid Event Webhook (signed)")
async def sendgrid_events(
    slug: str, request: Request, runtime: Runtime = Depends(get_runtime)
) -> Response:
    await actions.receive_sendgrid_events(
        runtime,
        slug,
        await request.body(),  # capped while it streams in (api/bodylimit.py)
        request.headers.get(EventWebhookHeader.SIGNATURE),
        request.headers.get(EventWebhookHeader.TIMESTAMP),
    )
    return Response(status_code=204)


@router.post("/twilio/status", status_code=204, summary="Twilio message status callback (signed)")
async def twilio_status(
    message_id: uuid.UUID, request: Request, runtime: Runtime = Depends(get_runtime)
) -> Response:
    await actions.receive_twilio_status(runtime, message_id, await _twilio_request(request))
    return Response(status_code=204)


@router.post("/twilio/inbound/{slug}", summary="Inbound SMS (signed): STOP, START, HELP")
async def twilio_inbound(
    slug: str, request: Request, runtime: Runtime = Depends(get_runtime)
) -> Response:
    reply = await actions.receive_inbound_sms(runtime, slug, await _twilio_request(request))
    twiml = MessagingResponse()
    if reply:
        twiml.message(reply)
    return Response(str(twiml), media_type="application/xml")
