"""Campaign use cases that reach past the database: starting a send and steering it. The API
and the console call these; each does its own thread hand-off and Temporal calls."""

from __future__ import annotations

import enum
import uuid
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session
from temporalio.service import RPCError, RPCStatusCode

from herald.campaigns import service
from herald.campaigns.analytics import analytics_csv, campaign_analytics
from herald.campaigns.contracts import CANCEL_SIGNAL, PAUSE_SIGNAL, RESUME_SIGNAL, CampaignStatus
from herald.campaigns.models import ACTIVE, Campaign
from herald.campaigns.schemas import (
    Audience,
    CampaignAnalytics,
    CampaignFilters,
    CampaignOut,
    CampaignStart,
    CampaignUpdate,
)
from herald.campaigns.sending import campaign_start
from herald.customers.service import find_customer
from herald.db import read_snapshot
from herald.errors import Conflict, HeraldError, InvalidInput, NotFound
from herald.messaging.library import STARTERS, Starter
from herald.messaging.models import Channel, MessageTemplate
from herald.messaging.schemas import TemplateOut, TemplateUpdate
from herald.messaging.templates import get_template, template_out, update_template
from herald.pagination import Page
from herald.products.models import Product
from herald.runtime import Runtime
from herald.segments.models import Segment


async def send(runtime: Runtime, organization_id: uuid.UUID, campaign: str) -> CampaignOut:
    """Start the send (now, or at its send_at): a CampaignSend run carries it."""
    draft = await runtime.in_org(organization_id, lambda s: service.ready_to_send(s, campaign))
    start = campaign_start(draft)
    await runtime.start_run(start)

    def started(session: Session) -> CampaignOut:
        found = service.get_campaign(session, draft.id)
        service.mark_started(session, found, start.workflow_id)
        return service.to_out(found)

    return await runtime.in_org(organization_id, started)


class SendAction(enum.StrEnum):
    """What a marketer can do to a send under way; each is the run's signal of that name."""

    pause = PAUSE_SIGNAL
    resume = RESUME_SIGNAL
    cancel = CANCEL_SIGNAL


# The statuses each action applies to; anything else is a 409.
_ACTS_ON = {
    SendAction.pause: service.PAUSABLE,
    SendAction.resume: frozenset({CampaignStatus.paused}),
    SendAction.cancel: ACTIVE,
}


async def steer(
    runtime: Runtime, organization_id: uuid.UUID, campaign: str, action: SendAction
) -> CampaignOut:
    """Pause (held once the batches in flight are done), resume or cancel the send."""

    def check(session: Session) -> Campaign:
        found = service.get_campaign(session, campaign)
        service.require_status(found, _ACTS_ON[action], action.value)
        return found

    found = await runtime.in_org(organization_id, check)
    handle = (await runtime.client()).get_workflow_handle(service.run_id(found))
    try:
        await handle.signal(action.value)
    except RPCError as exc:
        if exc.status is RPCStatusCode.NOT_FOUND:
            raise Conflict("the campaign's send has ended") from exc
        raise
    return service.to_out(found)


async def analytics(
    runtime: Runtime, organization_id: uuid.UUID, campaign: str
) -> CampaignAnalytics:
    """Per-variant results, read from one snapshot so the counts agree with each other."""

    def read(session: Session) -> CampaignAnalytics:
        read_snapshot(session)
        return campaign_analytics(session, service.get_campaign(session, campaign))

    return await runtime.in_org(organization_id, read)


# --- what the console's campaign pages read and change ------------------------------------


@dataclass(frozen=True)
class VariantContent:
    """A variant as the builder edits it: its name and its template."""

    name: str
    template: TemplateOut


@dataclass(frozen=True)
class CampaignDraftView:
    campaign: CampaignOut
    variants: list[VariantContent]
    audience_size: int | None
    # Why the audience cannot be counted (its segment deleted, say), when it cannot.
    audience_problem: str | None


async def campaign_page(
    runtime: Runtime,
    organization_id: uuid.UUID,
    filters: CampaignFilters,
    cursor: str | None,
    limit: int = 50,
) -> Page[CampaignOut]:
    return await runtime.in_org(
        organization_id,
        lambda s: service.list_campaigns(s, filters, limit=limit, cursor=cursor),
    )


async def calendar(
    runtime: Runtime, organization_id: uuid.UUID, filters: CampaignFilters
) -> list[CampaignOut]:
    return await runtime.in_org(organization_id, lambda s: service.campaigns_between(s, filters))


async def campaign_with_results(
    runtime: Runtime, organization_id: uuid.UUID, campaign: str
) -> tuple[CampaignOut, CampaignAnalytics]:
    """The campaign with its send's progress and its per-variant results, read from one
    snapshot so the two agree (a running send's page asks for them every few seconds)."""

    def read(session: Session) -> tuple[CampaignOut, CampaignAnalytics]:
        read_snapshot(session)
        found = service.get_campaign(session, campaign)
        progress = service.progress(session, found)
        return service.to_out(found, progress), campaign_analytics(session, found)

    return await runtime.in_org(organization_id, read)


async def draft_view(
    runtime: Runtime, organization_id: uuid.UUID, campaign: str
) -> CampaignDraftView:
    """What the builder shows: the campaign, each variant's template and the audience size."""

    def read(session: Session) -> CampaignDraftView:
        found = service.get_campaign(session, campaign)
        variants = [
            VariantContent(
                v["name"], template_out(get_template(session, uuid.UUID(v["template_id"])))
            )
            for v in found.variants
        ]
        size, problem = None, None
        try:
            size = service.audience_size(session, Audience.model_validate(found.audience))
        except HeraldError as exc:
            problem = exc.detail
        return CampaignDraftView(service.to_out(found), variants, size, problem)

    return await runtime.in_org(organization_id, read)


async def audience_size(runtime: Runtime, organization_id: uuid.UUID, audience: Audience) -> int:
    return await runtime.in_org(organization_id, lambda s: service.audience_size(s, audience))


async def chosen_customers(
    runtime: Runtime, organization_id: uuid.UUID, references: list[str]
) -> list[uuid.UUID]:
    """The customers a marketer lists by id or email; a 422 names the first unknown."""

    def find(session: Session) -> list[uuid.UUID]:
        found = []
        for reference in references:
            try:
                found.append(find_customer(session, reference).id)
            except NotFound as exc:
                raise InvalidInput(exc.detail, field="audience.customers") from exc
        return found

    return await runtime.in_org(organization_id, find)


async def start(runtime: Runtime, organization_id: uuid.UUID, data: CampaignStart) -> CampaignOut:
    return await runtime.in_org(
        organization_id, lambda s: service.to_out(service.start_campaign(s, data))
    )


async def update(
    runtime: Runtime, organization_id: uuid.UUID, campaign: str, data: CampaignUpdate
) -> CampaignOut:
    return await runtime.in_org(
        organization_id, lambda s: service.to_out(service.update_campaign(s, campaign, data))
    )


async def add_variant(runtime: Runtime, organization_id: uuid.UUID, campaign: str) -> CampaignOut:
    return await runtime.in_org(
        organization_id, lambda s: service.to_out(service.add_variant(s, campaign))
    )


async def remove_variant(
    runtime: Runtime, organization_id: uuid.UUID, campaign: str, name: str
) -> CampaignOut:
    return await runtime.in_org(
        organization_id, lambda s: service.to_out(service.remove_variant(s, campaign, name))
    )


async def set_variant_content(
    runtime: Runtime,
    organization_id: uuid.UUID,
    campaign: str,
    variant: str,
    locale: str,
    content: dict[str, Any],
) -> TemplateOut:
    """Save one locale of a draft's variant (a new locale is added)."""

    def save(session: Session) -> TemplateOut:
        template = _variant_template(session, campaign, variant)
        variants = {**template.variants, locale: content}
        return template_out(
            update_template(session, template.id, TemplateUpdate(variants=variants))
        )

    return await runtime.in_org(organization_id, save)


async def remove_variant_locale(
    runtime: Runtime, organization_id: uuid.UUID, campaign: str, variant: str, locale: str
) -> TemplateOut:
    def remove(session: Session) -> TemplateOut:
        template = _variant_template(session, campaign, variant)
        if locale == template.default_locale:
            raise Conflict("the default language stays; make another the default first")
        variants = {k: v for k, v in template.variants.items() if k != locale}
        return template_out(
            update_template(session, template.id, TemplateUpdate(variants=variants))
        )

    return await runtime.in_org(organization_id, remove)


def _template_id(found: Campaign, variant: str) -> uuid.UUID:
    """The id of the template the campaign's variant sends."""
    for v in found.variants:
        if v["name"] == variant:
            return uuid.UUID(v["template_id"])
    raise NotFound(f"no variant {variant!r}")


def _variant_template(session: Session, campaign: str, variant: str) -> MessageTemplate:
    """A draft's variant's template, to edit (a sent campaign's messages stay as they were)."""
    found = service.get_campaign(session, campaign)
    service.require_status(found, frozenset({CampaignStatus.draft}), "edit")
    return get_template(session, _template_id(found, variant))


async def variant_template_id(
    runtime: Runtime, organization_id: uuid.UUID, campaign: str, variant: str
) -> uuid.UUID:
    """The template a variant sends (for its preview and test send)."""

    return await runtime.in_org(
        organization_id, lambda s: _template_id(service.get_campaign(s, campaign), variant)
    )


async def preview_for(runtime: Runtime, organization_id: uuid.UUID, customer: str) -> uuid.UUID:
    """The customer a preview is rendered for, named by id or email."""
    return await runtime.in_org(organization_id, lambda s: find_customer(s, customer).id)


async def archive(runtime: Runtime, organization_id: uuid.UUID, campaign: str) -> CampaignOut:
    return await runtime.in_org(
        organization_id, lambda s: service.to_out(service.archive_campaign(s, campaign))
    )


async def unarchive(runtime: Runtime, organization_id: uuid.UUID, campaign: str) -> CampaignOut:
    return await runtime.in_org(
        organization_id, lambda s: service.to_out(service.unarchive_campaign(s, campaign))
    )


async def duplicate(runtime: Runtime, organization_id: uuid.UUID, campaign: str) -> CampaignOut:
    return await runtime.in_org(
        organization_id, lambda s: service.to_out(service.duplicate_campaign(s, campaign))
    )


async def delete(runtime: Runtime, organization_id: uuid.UUID, campaign: str) -> None:
    await runtime.in_org(organization_id, lambda s: service.delete_campaign(s, campaign))


async def report_csv(runtime: Runtime, organization_id: uuid.UUID, campaign: str) -> str:
    """Per-variant results as CSV: counts and rates with their 95% intervals."""
    return analytics_csv(await analytics(runtime, organization_id, campaign))


@dataclass(frozen=True)
class CatalogProduct:
    """A product as an email's products block shows it."""

    product_id: str
    name: str
    url: str | None
    image_url: str | None
    price: str | None


@dataclass(frozen=True)
class BuilderChoices:
    """What the builder's pickers offer: saved segments, saved templates per channel, the
    library's starters and the catalog's products."""

    segments: list[tuple[str, str]]
    templates: dict[Channel, list[tuple[str, str]]]
    starters: list[Starter]
    products: list[CatalogProduct]


PICKER_SIZE = 200


async def builder_choices(runtime: Runtime, organization_id: uuid.UUID) -> BuilderChoices:
    def read(session: Session) -> BuilderChoices:
        segments = session.execute(
            select(Segment.key, Segment.name).order_by(Segment.name).limit(PICKER_SIZE)
        ).all()
        templates: dict[Channel, list[tuple[str, str]]] = {c: [] for c in Channel}
        for key, name, channel in session.execute(
            select(MessageTemplate.key, MessageTemplate.name, MessageTemplate.channel)
            .where(MessageTemplate.deleted_at.is_(None))
            .order_by(MessageTemplate.name)
            .limit(PICKER_SIZE)
        ):
            templates[channel].append((key, name))
        products = [
            CatalogProduct(
                p.product_id,
                p.name or p.product_id,
                p.url,
                p.image_url,
                f"{p.price:,.2f} {p.currency or ''}".strip() if p.price is not None else None,
            )
            for p in session.scalars(
                select(Product).where(Product.active).order_by(Product.name).limit(PICKER_SIZE)
            )
        ]
        return BuilderChoices(
            segments=[(k, n) for k, n in segments],
            templates=templates,
            starters=list(STARTERS),
            products=products,
        )

    return await runtime.in_org(organization_id, read)
