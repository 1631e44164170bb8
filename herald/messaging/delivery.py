"""The one path every message takes: record the intent, check, render, hand over once.

A message row keyed by the intent (``idempotency_key``: campaign + customer, run + step, ...)
is committed before the provider is called and its attempt counted, so a retry can tell a fresh
send from one whose outcome was lost, and never sends again what the provider accepted.

A single message is a batch of one. Campaigns hand over a batch of up to ``MAX_BATCH``
recipients of one template: the rules are checked with a few set-based queries, the rows are
recorded in one commit and settled in another, and providers with a batch form (SendGrid
personalizations) get one request for many recipients.
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from herald.customers.models import Customer
from herald.db import insert_rows, one_of, session_organization, utcnow
from herald.errors import InvalidInput
from herald.messaging.accounts import providers_for
from herald.messaging.contracts import (
    DeliveryBatch,
    DeliveryOutcome,
    DeliveryRequest,
    MessageStatus,
    Recipient,
)
from herald.messaging.inbox import in_app_expiry
from herald.messaging.models import (
    AdHocRecipient,
    Category,
    Channel,
    Device,
    Message,
    MessageTemplate,
    MessagingSettings,
)
from herald.messaging.policy import (
    FrequencyCap,
    consented,
    quiet_until,
    sent_counts,
    suppressed,
)
from herald.messaging.providers import (
    Handed,
    InDoubt,
    Lost,
    OutgoingMessage,
    Provider,
    ProviderError,
)
from herald.messaging.setup import load_messaging_settings
from herald.messaging.templates import (
    customer_contexts,
    get_template,
    organization_context,
    pick_variant,
    render_content,
    uses_recommendations,
)
from herald.messaging.tracking import PUSH_OPEN, track
from herald.messaging.unsubscribe import Links, unsubscribe_headers, with_postal_footer
from herald.metrics import MESSAGES
from herald.newsletter.models import Subscriber
from herald.outbound import Outbound

# Statuses after which a message is never handed to a provider again.
SETTLED = frozenset(MessageStatus) - {MessageStatus.queued}
# Why a customer's message cannot go, where "no <channel> address" would not say it.
NO_ADDRESS = {Channel.push: "no active push device"}


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


def delivery_env(
    session: Session, links: Links, outbound: Outbound, workflow_time: datetime | None
) -> DeliveryEnv:
    """The organization's providers and rules, at the later of the workflow's and the wall
    clock (a run that slept through quiet hours sees their end, on a time-skipping server too)."""
    settings = load_messaging_settings(session)
    return DeliveryEnv(
        providers=providers_for(session, settings, links.public_url, outbound),
        rules=SendRules.of(settings),
        links=links,
        now=max(utcnow(), workflow_time or utcnow()),
    )


def _outcome(message: Message, deferred_until: datetime | None = None) -> DeliveryOutcome:
    return DeliveryOutcome(
        message_id=message.id,
        status=message.status,
        reason=message.status_reason,
        deferred_until=deferred_until,
    )


@dataclass(frozen=True)
class _Checks:
    """What the send-time rules need to know about a batch's recipients, loaded set-based."""

    suppressed: dict[str, str]
    consented: set[uuid.UUID]
    sent_within: dict[FrequencyCap, dict[uuid.UUID, int]]
    timezones: dict[uuid.UUID, str | None]

    @classmethod
    def load(
        cls, session: Session, messages: Sequence[Message], rules: SendRules, now: datetime
    ) -> _Checks:
        if not messages:
            return cls({}, set(), {}, {})
        channel = messages[0].channel
        customers = {m.customer_id for m in messages if m.customer_id is not None}
        caps = [c for c in rules.frequency_caps if c.channel is channel]
        return cls(
            suppressed=suppressed(session, channel, {m.recipient for m in messages}),
            consented=consented(session, customers, channel),
            sent_within={
                cap: sent_counts(
                    session, customers, channel, now - timedelta(hours=cap.window_hours)
                )
                for cap in caps
            },
            timezones=_timezones(session, customers) if rules.quiet_hours_start is not None else {},
        )

    def hold(
        self, message: Message, test: bool, rules: SendRules, now: datetime
    ) -> tuple[str | None, datetime | None]:
        """Why the message must not go now: a reason to skip it, or a time to try again."""
        reason = self.suppressed.get(message.recipient.lower())
        if reason is not None:
            return f"suppressed: {reason}", None
        if test or message.category is not Category.marketing:
            return None, None
        if message.customer_id is None or message.customer_id not in self.consented:
            return f"no {message.channel.value} consent", None
        for cap, counts in self.sent_within.items():
            if counts.get(message.customer_id, 0) >= cap.max_messages:
                return (
                    f"frequency cap: {cap.max_messages} {cap.channel.value} per "
                    f"{cap.window_hours}h",
                    None,
                )
        timezone = self.timezones.get(message.customer_id)
        return None, quiet_until(now, timezone, rules.quiet_hours_start, rules.quiet_hours_end)


def _timezones(session: Session, customers: set[uuid.UUID]) -> dict[uuid.UUID, str | None]:
    rows = session.execute(
        select(Customer.id, Customer.timezone).where(one_of(session, Customer.id, customers))
    )
    return {customer_id: timezone for customer_id, timezone in rows}


def _addresses(
    session: Session, customers: dict[uuid.UUID, dict[str, Any]], channel: Channel
) -> dict[uuid.UUID, str | None]:
    """Each customer's address on the channel (from what templates see of them)."""
    if channel is Channel.email:
        return {customer_id: c["email"] for customer_id, c in customers.items()}
    if channel is Channel.sms:
        return {customer_id: c["phone"] for customer_id, c in customers.items()}
    if channel is Channel.push:  # each of their active devices, chosen when it is sent
        reachable = set(
            session.scalars(
                select(Device.customer_id).where(
                    one_of(session, Device.customer_id, customers), Device.active
                )
            )
        )
        return {c: str(c) if c in reachable else None for c in customers}
    return {customer_id: str(customer_id) for customer_id in customers}  # in-app: their inbox


def _skip(message: Message, reason: str) -> None:
    message.status = MessageStatus.skipped
    message.status_reason = reason


@dataclass
class _Composer:
    """Renders the new messages of one batch: one template, the recipients' data loaded once."""

    session: Session
    batch: DeliveryBatch
    env: DeliveryEnv
    template: MessageTemplate
    provider: Provider
    organization: dict[str, Any]

    def compose(self, recipients: Sequence[Recipient]) -> list[Message]:
        ids = {r.customer_id for r in recipients if r.customer_id is not None}
        customers = customer_contexts(  # those not deleted
            self.session, ids, recommendations=uses_recommendations(self.template)
        )
        addresses = _addresses(self.session, customers, self.template.channel)
        subscriber_ids = {r.subscriber_id for r in recipients if r.subscriber_id is not None}
        subscribers = (
            {
                s.id: s
                for s in self.session.scalars(
                    select(Subscriber).where(Subscriber.id.in_(subscriber_ids))
                )
            }
            if subscriber_ids
            else {}
        )
        given = {r.to_id for r in recipients if r.to_id is not None}
        adhoc: dict[uuid.UUID, str] = {}
        if given:
            query = select(AdHocRecipient.id, AdHocRecipient.address)
            for row_id, address in self.session.execute(query.where(AdHocRecipient.id.in_(given))):
                adhoc[row_id] = address
        messages = []
        now = utcnow()
        for recipient in recipients:
            customer = customers.get(recipient.customer_id) if recipient.customer_id else None
            message = Message(
                id=uuid.uuid4(),
                organization_id=self.batch.organization_id,
                idempotency_key=recipient.idempotency_key,
                channel=self.template.channel,
                category=self.template.category,
                template_id=self.template.id,
                customer_id=recipient.customer_id,
                recipient=recipient.to
                or (adhoc.get(recipient.to_id) if recipient.to_id else None)
                or (addresses.get(recipient.customer_id) if recipient.customer_id else "")
                or "",
                provider=self.provider.name,
                status=MessageStatus.queued,
                attempts=0,
                in_flight=False,
                content={},
                created_at=now,
                updated_at=now,
            )
            subscriber = (
                subscribers.get(recipient.subscriber_id) if recipient.subscriber_id else None
            )
            if recipient.customer_id is not None and customer is None:
                _skip(message, "customer deleted")
            self._render(
                message,
                customer,
                customer["locale"] if customer else None,
                subscriber,
            )
            messages.append(message)
        return messages

    def _render(
        self,
        message: Message,
        customer: dict[str, Any] | None,
        locale: str | None,
        subscriber: Subscriber | None,
    ) -> None:
        channel, category = self.template.channel, self.template.category
        context: dict[str, Any] = {"organization": self.organization, "event": self.batch.event}
        headers: dict[str, str] = {}
        if customer is not None and message.customer_id is not None:
            context["customer"] = customer
            if category is Category.marketing:
                url = self.env.links.unsubscribe_url(
                    self.organization["slug"], self.batch.organization_id, message.customer_id
                )
                context["unsubscribe_url"] = url
                if channel is Channel.email:
                    headers = unsubscribe_headers(url)
        elif self.batch.test and self.batch.sample_customer is not None:
            context["customer"] = self.batch.sample_customer
            context["unsubscribe_url"] = self.env.links.sample_unsubscribe_url(
                self.organization["slug"]
            )
        if subscriber is not None:
            base = (
                f"{self.env.links.public_url.rstrip('/')}/v1/public/"
                f"{self.organization['slug']}/newsletter"
            )
            context["subscriber"] = {
                "email": subscriber.email,
                "confirm_url": f"{base}/confirm/{subscriber.token}",
                "unsubscribe_url": f"{base}/unsubscribe/{subscriber.token}",
            }
            message.recipient = message.recipient or subscriber.email
        if not message.recipient and message.status is MessageStatus.queued:
            _skip(message, NO_ADDRESS.get(channel, f"no {channel.value} address"))
        message.locale, content = pick_variant(self.template, locale)
        if message.status is not MessageStatus.queued:
            return
        try:
            rendered = render_content(content, context)
        except InvalidInput as exc:
            message.status = MessageStatus.failed
            message.status_reason = f"template: {exc.detail}"
            return
        if channel is Channel.email and category is Category.marketing:
            if self.env.rules.postal_address:
                rendered = with_postal_footer(rendered, self.env.rules.postal_address)
            elif not self.batch.test:
                message.status = MessageStatus.failed
                message.status_reason = "no postal address in the messaging settings (CAN-SPAM)"
        if not self.provider.tracks_engagement and channel in (Channel.email, Channel.sms):
            keep = {context.get("unsubscribe_url", "")}
            rendered = track(rendered, self.env.links, self.batch.organization_id, message.id, keep)
        if channel is Channel.push:  # the app reports the open with it
            rendered["open_token"] = self.env.links.tracking_token(
                self.batch.organization_id, message.id, PUSH_OPEN, 0
            )
        if channel is Channel.in_app:
            message.expires_at = in_app_expiry(rendered, message.created_at)
        message.content = {**rendered, "headers": headers} if headers else rendered


def _prepare(session: Session, batch: DeliveryBatch, env: DeliveryEnv) -> Prepared:
    """The batch's messages in order: those already recorded for these intents (in the
    session), and the new ones rendered (not in the session: inserted set-based with their
    decisions)."""
    keys = [r.idempotency_key for r in batch.recipients]
    recorded = {
        m.idempotency_key: m
        for m in session.scalars(
            select(Message).where(one_of(session, Message.idempotency_key, keys))
        )
    }
    fresh = [r for r in batch.recipients if r.idempotency_key not in recorded]
    composed: list[Message] = []
    if fresh:
        template = get_template(session, batch.template_id)
        composer = _Composer(
            session,
            batch,
            env,
            template,
            env.providers(template.channel),
            organization_context(session, session_organization(session)),
        )
        composed = composer.compose(fresh)
        recorded.update((m.idempotency_key, m) for m in composed)
    return Prepared([recorded[key] for key in keys], composed)


@dataclass(frozen=True)
class Prepared:
    messages: list[Message]
    new: list[Message]


def _decide(
    session: Session, messages: Sequence[Message], batch: DeliveryBatch, env: DeliveryEnv
) -> dict[uuid.UUID, DeliveryOutcome]:
    """Settle or hold what must not go now; mark the rest in flight. Returns the settled and
    held messages' outcomes; every other message is to be handed to the provider now."""
    decided = {m.id: _outcome(m) for m in messages if m.status in SETTLED}
    pending = [m for m in messages if m.id not in decided]
    # New messages are inserted once, with their decision, before the commit (the checks
    # read no message that is not yet recorded, so nothing needs flushing before them).
    with session.no_autoflush:
        checks = _Checks.load(session, pending, env.rules, env.now)
    for message in pending:
        skip, defer_until = checks.hold(message, batch.test, env.rules, env.now)
        if skip is not None:
            _skip(message, skip)
            decided[message.id] = _outcome(message)
        elif defer_until is not None:
            message.status_reason = f"quiet hours: held until {defer_until.isoformat()}"
            decided[message.id] = _outcome(message, deferred_until=defer_until)
        elif message.in_flight and not env.providers(message.channel).resend_when_in_doubt:
            # An earlier attempt may have reached the provider: ask it, never send again.
            _reconcile(message, env.providers(message.channel))
            decided[message.id] = _outcome(message)
        else:
            message.attempts += 1
            message.in_flight = True
    return decided


def _outgoing(message: Message) -> OutgoingMessage:
    return OutgoingMessage(
        message.id,
        message.channel,
        message.recipient,
        message.content,
        message.created_at,
        message.customer_id,
    )


def _reconcile(message: Message, provider: Provider) -> None:
    found = provider.find(_outgoing(message))
    if found is None:
        message.in_flight = False
        message.status = MessageStatus.unknown
        message.status_reason = "outcome of an earlier attempt was lost; not sent again"
        return
    _settle(message, found, utcnow())
    message.status_reason = "outcome of an earlier attempt was lost; found at the provider"


def _settle(message: Message, handed: Handed | None, now: datetime) -> None:
    if isinstance(handed, str):
        message.in_flight = False
        message.provider_message_id = handed
        message.status = MessageStatus.sent
        message.status_reason = None
        message.sent_at = now
    elif isinstance(handed, ProviderError):
        message.in_flight = False  # it answered: the message was not taken
        message.status_reason = handed.reason
        if not handed.retryable:
            message.status = MessageStatus.failed
    elif isinstance(handed, Lost):
        message.in_flight = False
        message.status = MessageStatus.unknown
        message.status_reason = handed.reason
    elif handed is None:  # never handed over
        message.in_flight = False
        message.attempts -= 1
    # InDoubt: stays in flight, so the retry knows its outcome was lost.


def deliver_batch(
    session: Session, batch: DeliveryBatch, env: DeliveryEnv
) -> list[DeliveryOutcome]:
    """Deliver each recipient's message once; outcomes in the order of the recipients.

    Raises ProviderError (retryable) or the in-doubt error after settling what it could, when
    a retry has something left to do.
    """
    try:
        prepared = _prepare(session, batch, env)
        messages = prepared.messages
        settled_before = {m.id for m in messages if m.status in SETTLED}
        decided = _decide(session, messages, batch, env)
        # One commit records the new messages together with their decisions; once a message is
        # in flight, a lost outcome is detectable.
        insert_rows(session, Message, prepared.new)
        session.commit()
    except IntegrityError:
        session.rollback()
        keys = [r.idempotency_key for r in batch.recipients]
        if session.scalar(select(Message.id).where(Message.idempotency_key.in_(keys))) is None:
            raise  # not the intent key: a real error
        return deliver_batch(session, batch, env)  # recorded concurrently: go on with those rows
    to_send = [m for m in messages if m.id not in decided]
    if to_send:
        provider = env.providers(to_send[0].channel)
        results = provider.send_batch([_outgoing(m) for m in to_send])
        now = utcnow()
        for message in to_send:
            if message in session:  # recorded by an earlier attempt: written below, set-based
                session.expunge(message)
            _settle(message, results.get(message.id), now)
        _write_settled(session, to_send)
        session.commit()
        _raise_for_retry(results)
    outcomes = [decided.get(m.id) or _outcome(m) for m in messages]
    for message, outcome in zip(messages, outcomes, strict=True):
        if message.id not in settled_before:  # a retried batch counts each message once
            MESSAGES.labels(message.channel.value, outcome.status.value).inc()
    return outcomes


# What settling a handed-over message changes.
_SETTLED_COLUMNS = (
    "in_flight",
    "provider_message_id",
    "status",
    "status_reason",
    "sent_at",
    "attempts",
)


def _write_settled(session: Session, messages: Sequence[Message]) -> None:
    """One UPDATE for each set of messages settled alike: all the recipients of one provider
    request share its answer (a SendGrid request carries up to 1,000)."""
    alike: dict[tuple[Any, ...], list[uuid.UUID]] = defaultdict(list)
    for message in messages:
        alike[tuple(getattr(message, column) for column in _SETTLED_COLUMNS)].append(message.id)
    for values, ids in alike.items():
        session.execute(
            update(Message)
            .where(one_of(session, Message.id, ids))
            .values(dict(zip(_SETTLED_COLUMNS, values, strict=True)))
            .execution_options(synchronize_session=False)
        )


def _raise_for_retry(results: dict[uuid.UUID, Handed]) -> None:
    """Once the rest is settled: fail the attempt if a retry has anything left to do."""
    for handed in results.values():
        if isinstance(handed, InDoubt):
            raise handed.error
    retryable = [h for h in results.values() if isinstance(h, ProviderError) and h.retryable]
    if retryable:
        raise retryable[0]


def deliver(session: Session, request: DeliveryRequest, env: DeliveryEnv) -> DeliveryOutcome:
    return deliver_batch(session, request.as_batch(), env)[0]
