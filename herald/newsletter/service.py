"""The newsletter list: public sign-up with optional double opt-in, one-click leave, statistics."""

from __future__ import annotations

import secrets
import uuid
from collections import Counter
from datetime import UTC, datetime

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from herald.customers.models import Customer
from herald.db import utcnow
from herald.errors import NotFound
from herald.events.models import Event
from herald.messaging.models import Category, Channel
from herald.messaging.schemas import TemplateCreate
from herald.messaging.templates import ensure_template
from herald.newsletter.models import Subscriber, SubscriberStatus
from herald.newsletter.schemas import MonthlyGrowth, NewsletterStats, SubscribeIn, SubscriberOut
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


def subscribe(session: Session, data: SubscribeIn, *, double_opt_in: bool) -> uuid.UUID | None:
    """Sign an address up (pending its confirmation with ``double_opt_in``, and always when the
    address had left). Repeating it changes nothing; the caller learns nothing either way.

    Returns the id of an event to dispatch when a confirmation email is due.
    """
    if data.website:  # the honeypot was filled in: a bot; pretend all went well
        return None
    email = data.email.lower()
    subscriber = session.scalar(select(Subscriber).where(Subscriber.email == email))
    now = utcnow()
    wanted = SubscriberStatus.pending if double_opt_in else SubscriberStatus.subscribed
    if subscriber is None:
        customer_id = session.scalar(
            select(Customer.id).where(
                Customer.primary_email == email, Customer.deleted_at.is_(None)
            )
        )
        subscriber = Subscriber(
            email=email,
            status=wanted,
            topics=sorted(set(data.topics)),
            locale=data.locale,
            customer_id=customer_id,
            token=secrets.token_urlsafe(32),
            source=data.source,
            confirmed_at=None if double_opt_in else now,
        )
        session.add(subscriber)
    else:
        subscriber.topics = sorted(set(subscriber.topics) | set(data.topics))
        subscriber.locale = data.locale or subscriber.locale
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
    try:
        session.commit()
    except IntegrityError:  # the same address signed up concurrently: theirs stands
        session.rollback()
        return None
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
        session.commit()
    return subscriber


def unsubscribe(session: Session, token: str) -> Subscriber:
    subscriber = _by_token(session, token)
    if subscriber.status is not SubscriberStatus.unsubscribed:
        subscriber.status = SubscriberStatus.unsubscribed
        subscriber.unsubscribed_at = utcnow()
        session.commit()
    return subscriber


def check_token(session: Session, token: str) -> Subscriber:
    return _by_token(session, token)


def list_subscribers(
    session: Session, status: SubscriberStatus | None, *, limit: int, cursor: str | None
) -> Page[SubscriberOut]:
    """Newest first."""
    stmt = select(Subscriber)
    if status is not None:
        stmt = stmt.where(Subscriber.status == status)
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
