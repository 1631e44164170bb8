"""Newsletter use cases: for the public pages, sign-up (whose confirmation request is an event
dispatched to Temporal) and the confirm / leave links; for the console, the subscriber list,
its figures and staff's changes to it."""

from __future__ import annotations

import enum
import uuid

from sqlalchemy.orm import Session

from herald.errors import NotFound
from herald.messaging.setup import double_opt_in, load_messaging_settings
from herald.newsletter import service
from herald.newsletter.models import SubscriberStatus
from herald.newsletter.schemas import (
    NewsletterStats,
    SubscribeIn,
    SubscriberCreate,
    SubscriberOut,
    SubscriberUpdate,
)
from herald.organizations.models import Organization
from herald.organizations.public import in_public_org
from herald.pagination import Page
from herald.runtime import Runtime


async def subscribe(runtime: Runtime, slug: str, form: SubscribeIn) -> None:
    """Sign an address up; with double opt-in its confirmation email is an event's reaction.
    The caller learns nothing about whether the address was known."""

    def sign_up(session: Session, org: Organization) -> uuid.UUID | None:
        settings = load_messaging_settings(session)
        return service.subscribe(session, form, double_opt_in=double_opt_in(settings))

    event_id = await in_public_org(runtime, slug, sign_up)
    runtime.dispatch_soon([event_id] if event_id is not None else [])


class LinkAction(enum.StrEnum):
    confirm = "confirm"
    unsubscribe = "unsubscribe"
    leave_topic = "leave-topic"


async def follow_link(
    runtime: Runtime,
    slug: str,
    action: LinkAction,
    token: str,
    *,
    apply: bool,
    topic: str | None = None,
) -> str:
    """A confirm, leave or leave-one-topic link: checked, and with ``apply`` acted on; the
    organization's name for the page. An invalid token (or a topic link without its topic)
    is a 404."""

    def follow(session: Session, org: Organization) -> str:
        if action is LinkAction.leave_topic and topic is None:
            raise NotFound("this link is not valid")
        if not apply:
            service.check_token(session, token)
        elif action is LinkAction.confirm:
            service.confirm(session, token)
        elif action is LinkAction.leave_topic:
            assert topic is not None
            service.leave_topic(session, token, topic)
        else:
            service.unsubscribe(session, token)
        return org.name

    return await in_public_org(runtime, slug, follow)


# The console's list: a page of subscribers at a time.
CONSOLE_PAGE = 50


async def subscriber_page(
    runtime: Runtime,
    organization_id: uuid.UUID,
    status: SubscriberStatus | None,
    q: str | None,
    topic: str | None,
    cursor: str | None,
) -> Page[SubscriberOut]:
    return await runtime.in_org(
        organization_id,
        lambda s: service.list_subscribers(
            s, status, q=q, topic=topic, limit=CONSOLE_PAGE, cursor=cursor
        ),
    )


async def statistics(runtime: Runtime, organization_id: uuid.UUID) -> NewsletterStats:
    return await runtime.in_org(organization_id, service.stats)


async def add_subscriber(
    runtime: Runtime, organization_id: uuid.UUID, data: SubscriberCreate
) -> SubscriberOut:
    return await runtime.in_org(organization_id, lambda s: service.add_subscriber(s, data))


async def set_topics(
    runtime: Runtime, organization_id: uuid.UUID, subscriber_id: uuid.UUID, data: SubscriberUpdate
) -> SubscriberOut:
    return await runtime.in_org(
        organization_id, lambda s: service.set_topics(s, subscriber_id, data)
    )


async def unsubscribe_by_staff(
    runtime: Runtime, organization_id: uuid.UUID, subscriber_id: uuid.UUID
) -> SubscriberOut:
    return await runtime.in_org(
        organization_id, lambda s: service.unsubscribe_by_staff(s, subscriber_id)
    )


async def delete_subscriber(
    runtime: Runtime, organization_id: uuid.UUID, subscriber_id: uuid.UUID
) -> None:
    await runtime.in_org(organization_id, lambda s: service.delete_subscriber(s, subscriber_id))
