"""The one path every message takes: record the intent, check, render, hand over once.

A message row keyed by the intent (``idempotency_key``: campaign + customer, run + step, ...)
is committed before the provider is called and its attempt counted, so a retry can tell a fresh
send from one whose outcome was lost, and never sends again what the provider accepted.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, time
from typing import Any

from pydantic import BaseModel, Field
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from herald.customers.models import Customer
from herald.db import session_organization, utcnow
from herald.errors import InvalidInput
from herald.messaging.models import (
    Category,
    Channel,
    Device,
    Message,
    MessageStatus,
    MessageTemplate,
    MessagingSettings,
)
from herald.messaging.policy import (
    FrequencyCap,
    capped,
    consent_granted,
    quiet_until,
    suppression_reason,
)
from herald.messaging.providers import OutgoingMessage, Provider, ProviderError
from herald.messaging.templates import (
    customer_context,
    get_template,
    organization_context,
    pick_variant,
    render_content,
)
from herald.messaging.tracking import track
from herald.messaging.unsubscribe import Links, unsubscribe_headers, with_postal_footer
from herald.newsletter.models import Subscriber

# Statuses after which a message is never handed to a provider again.
SETTLED = frozenset(MessageStatus) - {MessageStatus.queued}


class DeliveryRequest(BaseModel):
    """What to send to whom, and the intent that makes it unique. Ids only, no personal data."""

    organization_id: uuid.UUID
    idempotency_key: str = Field(min_length=1, max_length=300)
    template_id: uuid.UUID
    customer_id: uuid.UUID | None = None
    # An explicit address (test sends); otherwise the customer's primary one for the channel.
    to: str | None = None
    # A newsletter subscriber without a customer profile (confirmation emails).
    subscriber_id: uuid.UUID | None = None
    event: dict[str, Any] = {}
    # A marketer's test send: no consent, cap or quiet hours (suppression still applies).
    test: bool = False
    # The workflow's clock when it asked. Rules use the later of this and the wall clock, so a
    # workflow that slept through quiet hours (on a time-skipping test server too) sees their end.
    workflow_time: datetime | None = None


class DeliveryOutcome(BaseModel):
    message_id: uuid.UUID
    status: MessageStatus
    reason: str | None = None
    # Set when quiet hours hold the message: the workflow sleeps until then and tries again.
    deferred_until: datetime | None = None


@dataclass(frozen=True)
class SendRules:
    """The organization's rules for what may go out, and when."""

    quiet_hours_start: time | None = None
    quiet_hours_end: time | None = None
    frequency_caps: tuple[FrequencyCap, ...] = ()
    postal_address: str | None = None

    @classmethod
    def of(cls, settings: MessagingSettings | None) -> SendRules:
        if settings is None:
            return cls()
        return cls(
            settings.quiet_hours_start,
            settings.quiet_hours_end,
            tuple(FrequencyCap.model_validate(c) for c in settings.frequency_caps or []),
            settings.postal_address,
        )


ProviderChoice = Callable[[Channel], Provider]


@dataclass(frozen=True)
class DeliveryEnv:
    """Everything a delivery depends on besides the request: providers, rules, links, the time."""

    providers: ProviderChoice
    rules: SendRules
    links: Links
    now: datetime


def _outcome(message: Message, deferred_until: datetime | None = None) -> DeliveryOutcome:
    return DeliveryOutcome(
        message_id=message.id,
        status=message.status,
        reason=message.status_reason,
        deferred_until=deferred_until,
    )


def _hold(
    session: Session, message: Message, request: DeliveryRequest, rules: SendRules, now: datetime
) -> tuple[str | None, datetime | None]:
    """Why the message must not go now: a reason to skip it, or a time to try again."""
    suppressed = suppression_reason(session, message.channel, message.recipient)
    if suppressed is not None:
        return f"suppressed: {suppressed}", None
    if request.test or message.category is not Category.marketing:
        return None, None
    if message.customer_id is None or not consent_granted(
        session, message.customer_id, message.channel
    ):
        return f"no {message.channel.value} consent", None
    cap = capped(session, message.customer_id, list(rules.frequency_caps), message.channel, now)
    if cap is not None:
        return (
            f"frequency cap: {cap.max_messages} {cap.channel.value} per {cap.window_hours}h",
            None,
        )
    customer = session.get(Customer, message.customer_id)
    until = quiet_until(
        now, customer.timezone if customer else None, rules.quiet_hours_start, rules.quiet_hours_end
    )
    return None, until


def _address(session: Session, customer: Customer, channel: Channel) -> str | None:
    if channel is Channel.email:
        return customer.primary_email
    if channel is Channel.sms:
        return next((p.phone for p in customer.phones if p.is_primary), None)
    if channel is Channel.push:  # the device the customer used last
        return session.scalar(
            select(Device.token)
            .where(Device.customer_id == customer.id)
            .order_by(Device.last_seen_at.desc())
            .limit(1)
        )
    return str(customer.id)  # in-app: the customer's own inbox


def _skip(message: Message, reason: str) -> None:
    message.status = MessageStatus.skipped
    message.status_reason = reason


def _marketing_email(
    message: Message, content: dict[str, Any], request: DeliveryRequest, env: DeliveryEnv
) -> dict[str, Any]:
    """Unsubscribe headers and the postal address, or a failure naming what is missing."""
    if env.rules.postal_address:
        content = with_postal_footer(content, env.rules.postal_address)
    elif not request.test:
        message.status = MessageStatus.failed
        message.status_reason = "no postal address in the messaging settings (CAN-SPAM)"
    return content


def _prepare(session: Session, request: DeliveryRequest, env: DeliveryEnv) -> Message:
    """Find the message of this intent, or add it to the session rendered, not yet committed."""
    existing = session.scalar(
        select(Message).where(Message.idempotency_key == request.idempotency_key)
    )
    if existing is not None:
        return existing
    template: MessageTemplate = get_template(session, request.template_id)
    message = Message(
        id=uuid.uuid4(),
        idempotency_key=request.idempotency_key,
        channel=template.channel,
        category=template.category,
        template_id=template.id,
        customer_id=request.customer_id,
        recipient="",
        provider=env.providers(template.channel).name,
        status=MessageStatus.queued,
    )
    organization_id = session_organization(session)
    organization = organization_context(session, organization_id)
    context: dict[str, Any] = {"organization": organization, "event": request.event}
    headers: dict[str, str] = {}
    locale = None
    customer = session.get(Customer, request.customer_id) if request.customer_id else None
    if request.customer_id is not None and (customer is None or customer.deleted_at is not None):
        _skip(message, "customer deleted")
    elif customer is not None:
        context["customer"] = customer_context(session, customer)
        locale = customer.locale
        if template.category is Category.marketing:
            url = env.links.unsubscribe_url(organization["slug"], organization_id, customer.id)
            context["unsubscribe_url"] = url
            if template.channel is Channel.email:
                headers = unsubscribe_headers(url)
    if request.subscriber_id is not None:
        subscriber = session.get(Subscriber, request.subscriber_id)
        if subscriber is not None:
            base = f"{env.links.public_url.rstrip('/')}/v1/public/{organization['slug']}/newsletter"
            context["subscriber"] = {
                "email": subscriber.email,
                "confirm_url": f"{base}/confirm/{subscriber.token}",
                "unsubscribe_url": f"{base}/unsubscribe/{subscriber.token}",
            }
            request = request.model_copy(update={"to": request.to or subscriber.email})
    message.recipient = (
        request.to or (_address(session, customer, template.channel) if customer else "") or ""
    )
    if not message.recipient and message.status is MessageStatus.queued:
        _skip(message, f"no {template.channel.value} address")
    message.locale, content = pick_variant(template, locale)
    if message.status is MessageStatus.queued:
        try:
            rendered = render_content(content, context)
            if template.channel is Channel.email and template.category is Category.marketing:
                rendered = _marketing_email(message, rendered, request, env)
            provider = env.providers(template.channel)
            if not provider.tracks_engagement and template.channel in (Channel.email, Channel.sms):
                keep = {context.get("unsubscribe_url", "")}
                rendered = track(rendered, env.links, organization_id, message.id, keep)
            message.content = {**rendered, "headers": headers} if headers else rendered
        except InvalidInput as exc:
            message.status = MessageStatus.failed
            message.status_reason = f"template: {exc.detail}"
    session.add(message)
    return message


def _decide(
    session: Session, message: Message, request: DeliveryRequest, env: DeliveryEnv
) -> DeliveryOutcome | None:
    """Settle, hold or mark the message in flight; None means: call the provider now."""
    if message.status in SETTLED:
        return _outcome(message)
    skip, defer_until = _hold(session, message, request, env.rules, env.now)
    if skip is not None:
        _skip(message, skip)
        return _outcome(message)
    if defer_until is not None:
        message.status_reason = f"quiet hours: held until {defer_until.isoformat()}"
        return _outcome(message, deferred_until=defer_until)
    if message.in_flight and not env.providers(message.channel).resend_when_in_doubt:
        # An earlier attempt may have reached the provider: sending again could duplicate it.
        message.status = MessageStatus.unknown
        message.status_reason = "outcome of an earlier attempt was lost; not sent again"
        return _outcome(message)
    message.attempts += 1
    message.in_flight = True
    return None


def deliver(session: Session, request: DeliveryRequest, env: DeliveryEnv) -> DeliveryOutcome:
    try:
        message = _prepare(session, request, env)
        decided = _decide(session, message, request, env)
        # One commit records a new message together with its decision; once it is in flight,
        # a lost outcome is detectable.
        session.commit()
    except IntegrityError:
        session.rollback()
        recorded = select(Message.id).where(Message.idempotency_key == request.idempotency_key)
        if session.scalar(recorded) is None:
            raise  # not the intent key: a real error
        return deliver(session, request, env)  # recorded concurrently: go on with that row
    if decided is not None:
        return decided
    provider = env.providers(message.channel)

    outgoing = OutgoingMessage(
        message_id=message.id,
        channel=message.channel,
        recipient=message.recipient,
        content=message.content,
    )
    try:
        provider_id = provider.send(outgoing)
    except ProviderError as exc:
        message.in_flight = False  # it answered: the message was not taken
        message.status_reason = exc.reason
        if not exc.retryable:
            message.status = MessageStatus.failed
        session.commit()
        if exc.retryable:
            raise
        return _outcome(message)
    message.in_flight = False
    message.provider_message_id = provider_id
    message.status = MessageStatus.sent
    message.status_reason = None
    message.sent_at = utcnow()
    session.commit()
    return _outcome(message)
