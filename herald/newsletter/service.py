"""The newsletter list: public sign-up with optional double opt-in, one-click leave, statistics."""

from __future__ import annotations

import json
import secrets
import uuid
from collections import Counter
from datetime import UTC, datetime

from sqlalchemy import String, cast, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from herald.customers.models import Customer, CustomerEmail
from herald.customers.schemas import CustomerCreate, EmailIn
from herald.customers.service import create_customer
from herald.db import commit_or_conflict, utcnow
from herald.errors import Conflict, NotFound
from herald.events.models import NEWSLETTER_SUBSCRIBED, NEWSLETTER_UNSUBSCRIBED, Event
from herald.messaging.audience import record_consent
from herald.messaging.models import Category, Channel, ConsentStatus
from herald.messaging.schemas import ConsentIn, TemplateCreate
from herald.messaging.templates import ensure_template
from herald.newsletter.models import Subscriber, SubscriberStatus
from herald.newsletter.schemas import (
    MonthlyGrowth,
    NewsletterStats,
    SubscribeIn,
    SubscriberCreate,
    SubscriberOut,
    SubscriberUpdate,
)
from herald.pagination import Page, page_of

CONFIRMATION_REQUESTED = "newsletter.confirmation_requested"
CONFIRMATION_TEMPLATE = TemplateCreate(
    key="newsletter-confirmation",
    name="Newsletter confirmation (double opt-in)",
    channel=Channel.email,
    category=Category.transactional,
    default_locale="en",
    variants={
        "en": {
            "subject": "Please confirm your subscription to {{ organization.name }}",
            "html": "<p>Please confirm that you want news from {{ organization.name }}:</p>"
            '<p><a href="{{ subscriber.confirm_url }}">Yes, subscribe me</a></p>'
            "<p>If you did not ask for this, ignore this email.</p>",
            "text": "Please confirm that you want news from {{ organization.name }}: "
            "{{ subscriber.confirm_url }}",
        }
    },
)


def profile_for(session: Session, email: str) -> uuid.UUID:
    """The live customer with this address (any of their emails), or a new email-only
    profile; in the caller's transaction."""
    found = session.scalar(
        select(Customer.id)
        .join(CustomerEmail, CustomerEmail.customer_id == Customer.id)
        .where(CustomerEmail.email == email, Customer.deleted_at.is_(None))
        .order_by(CustomerEmail.is_primary.desc(), Customer.created_at)
        .limit(1)
    )
    if found is not None:
        return found
    return create_customer(
        session,
        CustomerCreate(emails=[EmailIn(address=email, primary=True)]),
        commit=False,
        source="newsletter",
    ).id


def _new_subscriber(
    session: Session,
    email: str,
    topics: list[str],
    locale: str | None,
    source: str | None,
    *,
    confirmed_at: datetime | None,
) -> Subscriber:
    """A new address on the list, linked to its profile: subscribed if confirmed, else
    pending its confirmation."""
    subscriber = Subscriber(
        id=uuid.uuid4(),
        email=email,
        status=SubscriberStatus.pending if confirmed_at is None else SubscriberStatus.subscribed,
        topics=sorted(set(topics)),
        locale=locale,
        customer_id=profile_for(session, email),
        token=secrets.token_urlsafe(32),
        source=source,
        confirmed_at=confirmed_at,
    )
    session.add(subscriber)
    return subscriber


def _joined(session: Session, subscriber: Subscriber, source: str) -> None:
    """The newsletter and email marketing consent are one: joining grants it (and is recorded
    as a ``newsletter.subscribed`` event)."""
    _consent(session, subscriber, ConsentStatus.granted, source)
    session.add(
        Event.emitted(
            NEWSLETTER_SUBSCRIBED,
            subscriber.customer_id,
            {"subscriber_id": str(subscriber.id), "topics": subscriber.topics, "source": source},
        )
    )


def _left(session: Session, subscriber: Subscriber, source: str) -> None:
    """Leaving revokes the consent (a ``newsletter.unsubscribed`` event)."""
    _consent(session, subscriber, ConsentStatus.revoked, source)
    session.add(
        Event.emitted(
            NEWSLETTER_UNSUBSCRIBED,
            subscriber.customer_id,
            {"subscriber_id": str(subscriber.id), "source": source},
        )
    )


def _consent(session: Session, subscriber: Subscriber, status: ConsentStatus, source: str) -> None:
    if subscriber.customer_id is not None:
        record_consent(session, subscriber.customer_id, ConsentIn(email=status, source=source))


def subscribe(session: Session, data: SubscribeIn, *, double_opt_in: bool) -> uuid.UUID | None:
    """Sign an address up (pending its confirmation with ``double_opt_in``, and always when the
    address had left), linked to its customer profile (made email-only if there is none).
    Repeating it changes nothing; the caller learns nothing either way.

    Returns the id of an event to dispatch when a confirmation email is due.
    """
    if data.website:  # the honeypot was filled in: a bot; pretend all went well
        return None
    for attempt in range(2):
        try:
            return _subscribe(session, data, double_opt_in=double_opt_in)
        except IntegrityError:
            # The same address signed up (or its profile was made) concurrently: once more,
            # now seeing their rows.
            session.rollback()
            if attempt:
                raise
    return None


def _subscribe(session: Session, data: SubscribeIn, *, double_opt_in: bool) -> uuid.UUID | None:
    email = data.email.lower()
    subscriber = session.scalar(select(Subscriber).where(Subscriber.email == email))
    now = utcnow()
    wanted = SubscriberStatus.pending if double_opt_in else SubscriberStatus.subscribed
    if subscriber is None:
        subscriber = _new_subscriber(
            session,
            email,
            data.topics,
            data.locale,
            data.source,
            confirmed_at=None if double_opt_in else now,
        )
        if not double_opt_in:
            _joined(session, subscriber, "newsletter sign-up")
    else:
        subscriber.topics = sorted(set(subscriber.topics) | set(data.topics))
        subscriber.locale = data.locale or subscriber.locale
        if subscriber.customer_id is None:
            subscriber.customer_id = profile_for(session, email)
        if subscriber.status is SubscriberStatus.unsubscribed:
            # Coming back is confirmed by email, whatever the organization's setting: anyone
            # could type in the address of someone who left.
            wanted = SubscriberStatus.pending
            subscriber.status = wanted
            subscriber.unsubscribed_at = None
            subscriber.confirmed_at = None
        else:
            wanted = SubscriberStatus.subscribed  # already on the list: no new email
    event_id = None
    if subscriber.status is SubscriberStatus.pending and wanted is SubscriberStatus.pending:
        session.flush()
        event = Event(
            id=uuid.uuid4(),
            type=CONFIRMATION_REQUESTED,
            customer_id=subscriber.customer_id,
            occurred_at=now,
            received_at=now,
            properties={
                "subscriber_id": str(subscriber.id),
                "template_id": str(ensure_template(session, CONFIRMATION_TEMPLATE).id),
            },
        )
        session.add(event)
        event_id = event.id
    session.commit()
    return event_id


def _by_token(session: Session, token: str) -> Subscriber:
    subscriber = session.scalar(select(Subscriber).where(Subscriber.token == token))
    if subscriber is None:
        raise NotFound("this link is not valid")
    return subscriber


def confirm(session: Session, token: str) -> Subscriber:
    subscriber = _by_token(session, token)
    if subscriber.status is SubscriberStatus.pending:
        subscriber.status = SubscriberStatus.subscribed
        subscriber.confirmed_at = utcnow()
        _joined(session, subscriber, "newsletter confirmation")
        session.commit()
    return subscriber


def unsubscribe(session: Session, token: str) -> Subscriber:
    subscriber = _by_token(session, token)
    _leave(session, subscriber, "newsletter unsubscribe")
    return subscriber


def _leave(session: Session, subscriber: Subscriber, source: str) -> None:
    if subscriber.status is not SubscriberStatus.unsubscribed:
        subscriber.status = SubscriberStatus.unsubscribed
        subscriber.unsubscribed_at = utcnow()
        _left(session, subscriber, source)
        session.commit()


def leave_topic(session: Session, token: str, topic: str) -> Subscriber:
    """Leave one topic and stay on the list (and its consent) for the others."""
    subscriber = _by_token(session, token)
    if topic in subscriber.topics:
        subscriber.topics = [t for t in subscriber.topics if t != topic]
        session.commit()
    return subscriber


def check_token(session: Session, token: str) -> Subscriber:
    return _by_token(session, token)


def list_subscribers(
    session: Session,
    status: SubscriberStatus | None,
    *,
    q: str | None = None,
    topic: str | None = None,
    limit: int,
    cursor: str | None,
) -> Page[SubscriberOut]:
    """Newest first; ``q`` searches the addresses."""
    stmt = select(Subscriber)
    if status is not None:
        stmt = stmt.where(Subscriber.status == status)
    if q:
        stmt = stmt.where(Subscriber.email.contains(q.strip().lower(), autoescape=True))
    if topic:
        # The topics are a JSON list of short names; its text holds each one in quotes.
        stmt = stmt.where(
            cast(Subscriber.topics, String).contains(json.dumps(topic), autoescape=True)
        )
    return page_of(
        session,
        stmt,
        Subscriber.created_at,
        Subscriber.id,
        lambda row: SubscriberOut.model_validate(row, from_attributes=True),
        limit=limit,
        cursor=cursor,
    )


def _month(stamp: datetime) -> str:
    return stamp.astimezone(UTC).strftime("%Y-%m")


def stats(session: Session, now: datetime | None = None, months: int = 12) -> NewsletterStats:
    now = now or utcnow()
    rows = session.execute(
        select(Subscriber.status, Subscriber.confirmed_at, Subscriber.unsubscribed_at)
    ).all()
    by_status = Counter(status for status, _, _ in rows)
    joined = Counter(_month(c) for _, c, _ in rows if c is not None)
    left = Counter(_month(u) for _, _, u in rows if u is not None)
    labels = []
    year, month = now.year, now.month
    for _ in range(months):
        labels.append(f"{year:04d}-{month:02d}")
        year, month = (year - 1, 12) if month == 1 else (year, month - 1)
    growth = [
        MonthlyGrowth(month=m, subscribed=joined[m], unsubscribed=left[m], net=joined[m] - left[m])
        for m in reversed(labels)
    ]
    return NewsletterStats(
        total=by_status[SubscriberStatus.subscribed],
        new_this_month=sum(
            1
            for status, confirmed, _ in rows
            if status is SubscriberStatus.subscribed
            and confirmed
            and _month(confirmed) == labels[0]
        ),
        by_status={s: by_status[s] for s in SubscriberStatus},
        monthly_growth=growth,
    )


def _out(subscriber: Subscriber) -> SubscriberOut:
    return SubscriberOut.model_validate(subscriber, from_attributes=True)


def _subscriber(session: Session, subscriber_id: uuid.UUID) -> Subscriber:
    subscriber = session.get(Subscriber, subscriber_id)
    if subscriber is None:
        raise NotFound("no such subscriber")
    return subscriber


def add_subscriber(session: Session, data: SubscriberCreate) -> SubscriberOut:
    email = data.email.lower()
    if session.scalar(select(Subscriber.id).where(Subscriber.email == email)) is not None:
        raise Conflict("this address is on the list already", field="email")
    subscriber = _new_subscriber(
        session, email, data.topics, data.locale, "staff", confirmed_at=utcnow()
    )
    _joined(session, subscriber, "added to the newsletter by staff")
    commit_or_conflict(session, "this address is on the list already")
    return _out(subscriber)


def set_topics(session: Session, subscriber_id: uuid.UUID, data: SubscriberUpdate) -> SubscriberOut:
    subscriber = _subscriber(session, subscriber_id)
    subscriber.topics = sorted(set(data.topics))
    session.commit()
    return _out(subscriber)


def unsubscribe_by_staff(session: Session, subscriber_id: uuid.UUID) -> SubscriberOut:
    subscriber = _subscriber(session, subscriber_id)
    _leave(session, subscriber, "unsubscribed by staff")
    return _out(subscriber)


def delete_subscriber(session: Session, subscriber_id: uuid.UUID) -> None:
    """Off the list and forgotten by it; the profile stays, without email marketing consent."""
    subscriber = _subscriber(session, subscriber_id)
    if subscriber.status is not SubscriberStatus.unsubscribed:
        _left(session, subscriber, "removed from the newsletter by staff")
    session.delete(subscriber)
    session.commit()
