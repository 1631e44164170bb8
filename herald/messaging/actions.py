"""Messaging use cases for adapters: a test send (a SendMessage run, awaited briefly), previews
with the process's signed links, the providers' signed webhooks, Herald's own tracking links and
the one-click unsubscribe. The API and the console call these; each does its own thread
hand-off and Temporal calls."""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from functools import partial

from sendgrid.helpers.eventwebhook import EventWebhook
from sqlalchemy.orm import Session
from twilio.request_validator import RequestValidator

from herald.customers.schemas import to_e164
from herald.db import utcnow
from herald.errors import InvalidInput, NotFound, StillRunning, Unauthorized
from herald.messaging import inbox, messages, setup, templates
from herald.messaging.audience import unsubscribe_with_token
from herald.messaging.contracts import DeliveryOutcome, MessageStatus
from herald.messaging.inbox import AppCustomer, AppTokenIn, AppTokenOut, InboxMessage
from herald.messaging.messages import DirectSend, TestSendRequest
from herald.messaging.models import Message
from herald.messaging.schemas import (
    MessageOut,
    MessagingSettingsIn,
    MessagingSettingsOut,
    PreviewRequest,
    RenderedMessage,
)
from herald.messaging.setup import load_messaging_settings, settings_out
from herald.messaging.tracking import CLICK, OPEN, PUSH_OPEN
from herald.messaging.unsubscribe import Links
from herald.messaging.webhooks import (
    advance,
    apply_sendgrid_events,
    apply_twilio_status,
    handle_inbound_sms,
)
from herald.organizations.models import Organization
from herald.organizations.public import in_public_org
from herald.runtime import Runtime
from herald.secrets import SecretKeys
from herald.temporal import WorkflowStart

# How long a test send is awaited before the answer points at its run instead.
TEST_SEND_WAIT_S = 15
# A signed webhook request older than this is refused: a captured one cannot be replayed later.
MAX_SIGNATURE_AGE_S = 600


async def test_send(
    runtime: Runtime, organization_id: uuid.UUID, template_id: uuid.UUID, body: TestSendRequest
) -> MessageOut:
    """Send the template once, through the normal delivery path, and show the message."""
    start = await runtime.in_org(
        organization_id, lambda s: messages.test_send(s, organization_id, template_id, body)
    )
    return await _sent(runtime, organization_id, start)


async def send_to_customer(
    runtime: Runtime, organization_id: uuid.UUID, customer_id: uuid.UUID, body: DirectSend
) -> MessageOut:
    """One message to one customer now, through the delivery path; the message as it stands
    (``skipped`` with its reason when consent or suppression holds it back)."""
    start = await runtime.in_org(
        organization_id,
        lambda s: messages.send_to_customer(s, organization_id, customer_id, body),
    )
    return await _sent(runtime, organization_id, start)


async def _sent(runtime: Runtime, organization_id: uuid.UUID, start: WorkflowStart) -> MessageOut:
    """Start the send (a repeated intent finds its run), await it briefly, show the message."""
    handle = await runtime.start_run(start)
    try:
        result = await asyncio.wait_for(handle.result(), timeout=TEST_SEND_WAIT_S)
    except TimeoutError as exc:
        raise StillRunning(f"the send is still running: GET /v1/runs/{start.workflow_id}") from exc
    outcome = DeliveryOutcome.model_validate(result)
    return await runtime.in_org(
        organization_id, lambda s: messages.get_message(s, outcome.message_id)
    )


async def messaging_settings(runtime: Runtime, organization_id: uuid.UUID) -> MessagingSettingsOut:
    return await runtime.in_org(
        organization_id, lambda s: settings_out(s, load_messaging_settings(s))
    )


async def put_messaging_settings(
    runtime: Runtime, organization_id: uuid.UUID, change: MessagingSettingsIn
) -> MessagingSettingsOut:
    """Sender, postal address, provider accounts (secrets write-only), quiet hours and caps;
    every provider address vetted before it is stored."""
    return await runtime.in_org(
        organization_id, lambda s: setup.put_messaging_settings(s, change, runtime.outbound)
    )


async def preview(
    runtime: Runtime, organization_id: uuid.UUID, template_id: uuid.UUID, body: PreviewRequest
) -> RenderedMessage:
    """The template rendered for a customer or sample data, links signed as a send signs them."""
    return await runtime.in_org(
        organization_id,
        lambda s: templates.preview(s, organization_id, template_id, body, runtime.links),
    )


async def receive_sendgrid_events(
    runtime: Runtime, slug: str, body: bytes, signature: str | None, stamp: str | None
) -> None:
    """SendGrid's signed Event Webhook: verified with the organization's public key (the SDK's
    ECDSA check), fresh, then each event applied once."""

    def receive(session: Session, org: Organization) -> None:
        settings = load_messaging_settings(session)
        key = settings.sendgrid_webhook_public_key if settings else None
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
        apply_sendgrid_events(session, [e for e in events if isinstance(e, dict)])

    await in_public_org(runtime, slug, receive)


@dataclass(frozen=True)
class TwilioRequest:
    """What Twilio signed: the public URL it called (path and query, as received) and the
    form parameters."""

    path: str
    form: dict[str, str]
    signature: str

    def check(self, runtime: Runtime, auth_token: str | None) -> None:
        url = runtime.settings.public_url.rstrip("/") + self.path
        if not auth_token or not RequestValidator(auth_token).validate(
            url, self.form, self.signature
        ):
            raise Unauthorized("bad Twilio signature")


async def receive_twilio_status(
    runtime: Runtime, message_id: uuid.UUID, request: TwilioRequest
) -> None:
    """A message's status callback (Herald's message id is in the callback URL)."""

    def organization(session: Session) -> uuid.UUID:
        message = session.get(Message, message_id)
        if message is None:
            raise NotFound("no such message")
        return message.organization_id

    def receive(session: Session) -> None:
        messaging = load_messaging_settings(session)
        request.check(runtime, messaging.twilio_auth_token if messaging else None)
        found = session.get(Message, message_id)
        assert found is not None
        apply_twilio_status(session, found, request.form)

    await runtime.in_org(await runtime.in_system(organization), receive)


async def receive_inbound_sms(runtime: Runtime, slug: str, request: TwilioRequest) -> str | None:
    """A text to the organization's number: STOP, START and HELP act; the reply, if any."""

    def receive(session: Session, org: Organization) -> str | None:
        messaging = load_messaging_settings(session)
        request.check(runtime, messaging.twilio_auth_token if messaging else None)
        try:
            phone = to_e164(request.form.get("From", ""))
        except ValueError as exc:
            raise InvalidInput("From is not a phone number", field="From") from exc
        return handle_inbound_sms(
            session,
            org.name,
            phone,
            request.form.get("Body", ""),
            request.form.get("MessageSid", ""),
        )

    return await in_public_org(runtime, slug, receive)


async def unsubscribe(runtime: Runtime, slug: str, token: str, *, apply: bool) -> str:
    """A one-click unsubscribe link (RFC 8058): checked, and with ``apply`` acted on; the
    organization's name for the page. An invalid link is a 404."""

    def act(session: Session, org: Organization) -> str:
        unsubscribe_with_token(session, org.id, token, runtime.links, apply=apply)
        return org.name

    return await in_public_org(runtime, slug, act)


@dataclass(frozen=True)
class Tracked:
    """What a tracking link answers: a redirect to the original link, or the open pixel."""

    redirect_to: str | None = None


async def track(runtime: Runtime, token: str) -> Tracked:
    """Herald's own click redirect and open pixel (where the provider does not track): the
    signed token names the message, the kind and the link; the message moves on once."""
    parsed = Links.parse_tracking_token(token)
    if parsed is None:
        raise NotFound("no such link")
    message_id, kind, index, signature = parsed

    def organization(session: Session) -> uuid.UUID | None:
        message = session.get(Message, message_id)
        return message.organization_id if message else None

    org_id = await runtime.in_system(organization)
    if org_id is None or not runtime.links.tracking_valid(
        org_id, message_id, kind, index, signature
    ):
        raise NotFound("no such link")

    def follow(session: Session) -> Tracked:
        found = session.get(Message, message_id)
        assert found is not None
        targets = found.content.get("tracked_links", [])
        if kind == CLICK and index < len(targets):
            advance(found, MessageStatus.clicked)
            session.commit()
            return Tracked(redirect_to=targets[index])
        if kind == OPEN:
            advance(found, MessageStatus.opened)
            session.commit()
            return Tracked()
        raise NotFound("no such link")

    return await runtime.in_org(org_id, follow)


async def push_opened(runtime: Runtime, slug: str, token: str) -> None:
    """The app reports a push notification opened, with the signed token the push carried:
    the message counts as opened (once). A token of another message or shop is a 404."""
    parsed = Links.parse_tracking_token(token)
    if parsed is None or parsed[1] != PUSH_OPEN:
        raise NotFound("no such push message")
    message_id, kind, index, signature = parsed

    def record(session: Session, org: Organization) -> None:
        message = session.get(Message, message_id)
        if message is None or not runtime.links.tracking_valid(
            org.id, message_id, kind, index, signature
        ):
            raise NotFound("no such push message")
        advance(message, MessageStatus.opened)
        session.commit()

    await in_public_org(runtime, slug, record)


def app_token_keys(runtime: Runtime) -> SecretKeys:
    return SecretKeys(runtime.links.secret_key, runtime.links.previous_keys)


async def issue_app_token(
    runtime: Runtime, organization_id: uuid.UUID, customer_id: uuid.UUID, data: AppTokenIn
) -> AppTokenOut:
    keys = app_token_keys(runtime)
    return await runtime.in_org(
        organization_id,
        lambda s: inbox.issue_app_token(s, keys, organization_id, customer_id, data),
    )


def app_customer(runtime: Runtime, token: str) -> AppCustomer:
    return inbox.read_app_token(app_token_keys(runtime), token)


# How often a live inbox looks for new messages.
INBOX_POLL_S = 2.0


async def inbox_feed(runtime: Runtime, app: AppCustomer) -> AsyncIterator[InboxMessage]:
    """The customer's new in-app messages as they arrive, each once, until the app token
    expires (the app reconnects with a fresh one). Short sessions per poll."""
    since = utcnow()
    while utcnow() < app.expires_at:
        arrived = await runtime.in_org(
            app.organization_id,
            partial(inbox.arrived_since, customer_id=app.customer_id, since=since),
        )
        for message in arrived:
            since = max(since, message.sent_at or since)
            yield message
        await asyncio.sleep(INBOX_POLL_S)
