"""Campaigns: drafts a marketer edits, then one send each, carried by a CampaignSend run."""

from __future__ import annotations

import re
import uuid
from datetime import timedelta
from typing import Any

from sqlalchemy import ColumnElement, Select, and_, func, select
from sqlalchemy.orm import Session

from herald.campaigns.analytics import campaign_summaries
from herald.campaigns.contracts import CampaignStatus, campaign_workflow_id
from herald.campaigns.models import ACTIVE, ARCHIVABLE, Campaign, CampaignRecipient
from herald.campaigns.schemas import (
    Audience,
    CampaignFilters,
    CampaignIn,
    CampaignOut,
    CampaignStart,
    CampaignUpdate,
    Progress,
    VariantIn,
)
from herald.customers.models import Customer
from herald.db import commit_or_conflict, utcnow
from herald.errors import Conflict, InvalidInput, NotFound
from herald.messaging.library import Starter, starter
from herald.messaging.models import Channel, MessageTemplate
from herald.messaging.schemas import TemplateCreate
from herald.messaging.templates import create_template, get_template, template_for_key
from herald.newsletter.models import SubscriberStatus
from herald.pagination import Page, page_of
from herald.segments.models import Segment
from herald.segments.rules import SubscribedRule, condition
from herald.segments.service import get_segment, matching, rule_of

MAX_CALENDAR_SPAN = timedelta(days=42)


def _variants(
    session: Session, channel: Channel, variants: list[VariantIn]
) -> list[dict[str, Any]]:
    """Each variant with the id of the live template it names; the template must be for the
    campaign's channel."""
    resolved = []
    for i, variant in enumerate(variants):
        template = session.scalar(
            select(MessageTemplate).where(
                MessageTemplate.key == variant.template, MessageTemplate.deleted_at.is_(None)
            )
        )
        field = f"variants.{i}.template"
        if template is None:
            raise InvalidInput(f"no template {variant.template!r}", field=field)
        if template.channel is not channel:
            raise InvalidInput(
                f"template {variant.template!r} is for {template.channel.value}, "
                f"not {channel.value}",
                field=field,
            )
        resolved.append({**variant.model_dump(), "template_id": str(template.id)})
    return resolved


def _check_audience(session: Session, audience: Audience) -> None:
    if audience.segment is not None:
        if session.scalar(select(Segment.id).where(Segment.key == audience.segment)) is None:
            raise InvalidInput(f"no segment {audience.segment!r}", field="audience.segment")
        return
    wanted = set(audience.customers or [])
    found = set(
        session.scalars(
            select(Customer.id).where(Customer.id.in_(wanted), Customer.deleted_at.is_(None))
        )
    )
    unknown = sorted(str(c) for c in wanted - found)
    if unknown:
        raise InvalidInput(
            f"{len(unknown)} unknown customer(s), e.g. {unknown[0]}", field="audience.customers"
        )


def audience_of(session: Session, audience: Audience) -> ColumnElement[bool]:
    """Who the audience holds, as a condition on customers (not deleted)."""
    who: list[ColumnElement[bool]] = [Customer.deleted_at.is_(None)]
    if audience.segment is not None:
        who.append(matching(session, rule_of(get_segment(session, audience.segment))))
    elif audience.customers is not None:
        who.append(Customer.id.in_(audience.customers))
    if audience.topic is not None:
        subscribed = SubscribedRule(newsletter=SubscriberStatus.subscribed, topic=audience.topic)
        who.append(condition(subscribed, utcnow()))
    return and_(*who)


def create_campaign(session: Session, data: CampaignIn) -> Campaign:
    _check_audience(session, data.audience)
    campaign = Campaign(
        key=data.key,
        name=data.name,
        channel=data.channel,
        status=CampaignStatus.draft,
        audience=data.audience.model_dump(mode="json", exclude_none=True),
        variants=_variants(session, data.channel, data.variants),
        ab=data.ab.model_dump(mode="json") if data.ab else None,
        send_at=data.send_at,
        rate_limit_per_s=data.rate_limit_per_s,
        attribution_hours=data.attribution_hours,
    )
    session.add(campaign)
    commit_or_conflict(session, f"a campaign with key {data.key!r} exists", field="key")
    return campaign


def get_campaign(session: Session, id_or_key: str | uuid.UUID) -> Campaign:
    try:
        clause = Campaign.id == uuid.UUID(str(id_or_key))
    except ValueError:
        clause = Campaign.key == str(id_or_key)
    campaign = session.scalar(select(Campaign).where(clause))
    if campaign is None:
        raise NotFound("no such campaign")
    return campaign


def _when() -> Any:
    """When a campaign goes or went out: its send time, else when it started, else when it
    was made (a draft with no time yet)."""
    return func.coalesce(Campaign.send_at, Campaign.started_at, Campaign.created_at)


def _filtered(filters: CampaignFilters) -> Select[Campaign]:
    stmt = select(Campaign)
    if filters.status is not None:
        stmt = stmt.where(Campaign.status == filters.status)
    else:  # archived campaigns show only when asked for
        stmt = stmt.where(Campaign.status != CampaignStatus.archived)
    if filters.channel is not None:
        stmt = stmt.where(Campaign.channel == filters.channel)
    if filters.since is not None:
        stmt = stmt.where(_when() >= filters.since)
    if filters.until is not None:
        stmt = stmt.where(_when() < filters.until)
    return stmt


def list_campaigns(
    session: Session, filters: CampaignFilters, *, limit: int, cursor: str | None
) -> Page[CampaignOut]:
    """Newest first, each with its totals so far."""
    page = page_of(
        session,
        _filtered(filters),
        Campaign.created_at,
        Campaign.id,
        to_out,
        limit=limit,
        cursor=cursor,
    )
    summaries = campaign_summaries(session, [c.id for c in page.items])
    for item in page.items:
        item.summary = summaries.get(item.id)
    return page


def campaigns_between(session: Session, filters: CampaignFilters) -> list[CampaignOut]:
    """Every campaign going out in [since, until) (a calendar's month), by time."""
    if filters.since is None or filters.until is None:
        raise InvalidInput("give the first and the last day", field="since")
    if filters.until - filters.since > MAX_CALENDAR_SPAN:
        raise InvalidInput("a calendar shows at most 42 days", field="until")
    rows = session.scalars(_filtered(filters).order_by(_when(), Campaign.id))
    return [to_out(c) for c in rows]


def _draft(session: Session, id_or_key: str) -> Campaign:
    campaign = get_campaign(session, id_or_key)
    if campaign.status is not CampaignStatus.draft:
        raise Conflict(f"the campaign is {campaign.status.value}; only a draft changes")
    return campaign


def update_campaign(session: Session, id_or_key: str, data: CampaignUpdate) -> Campaign:
    campaign = _draft(session, id_or_key)
    merged = CampaignIn.model_validate(
        {**campaign_fields(campaign), **data.model_dump(exclude_unset=True)}
    )
    _check_audience(session, merged.audience)
    campaign.name = merged.name
    campaign.audience = merged.audience.model_dump(mode="json", exclude_none=True)
    campaign.variants = _variants(session, campaign.channel, merged.variants)
    campaign.ab = merged.ab.model_dump(mode="json") if merged.ab else None
    campaign.send_at = merged.send_at
    campaign.rate_limit_per_s = merged.rate_limit_per_s
    campaign.attribution_hours = merged.attribution_hours
    session.commit()
    return campaign


def delete_campaign(session: Session, id_or_key: str) -> None:
    session.delete(_draft(session, id_or_key))
    session.commit()


def archive_campaign(session: Session, id_or_key: str) -> Campaign:
    """File a draft or a finished campaign away; its results stay readable."""
    campaign = get_campaign(session, id_or_key)
    require_status(campaign, ARCHIVABLE, "archive")
    campaign.archived_from = campaign.status
    campaign.status = CampaignStatus.archived
    session.commit()
    return campaign


def unarchive_campaign(session: Session, id_or_key: str) -> Campaign:
    campaign = get_campaign(session, id_or_key)
    require_status(campaign, frozenset({CampaignStatus.archived}), "unarchive")
    campaign.status = campaign.archived_from or CampaignStatus.draft
    campaign.archived_from = None
    session.commit()
    return campaign


def _free_key(session: Session, model: Any, wanted: str) -> str:
    """``wanted``, or ``wanted-2``, ``wanted-3``... whichever no row of ``model`` holds."""
    taken = set(session.scalars(select(model.key).where(model.key.like(f"{wanted[:90]}%"))))
    key, n = wanted[:100], 2
    while key in taken:
        key, n = f"{wanted[:90]}-{n}", n + 1
    return key


def _slug(name: str) -> str:
    slug = re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")[:60]
    return slug or "campaign"


def _template_copy(
    session: Session, key: str, name: str, channel: Channel, source: MessageTemplate | Starter
) -> MessageTemplate:
    """A new template under a free ``key``, with the content of a saved template or a starter."""
    if isinstance(source, MessageTemplate):
        category, locale, variants = source.category, source.default_locale, source.variants
    else:
        category, locale, variants = source.category, "en", {"en": source.content}
    return create_template(
        session,
        TemplateCreate(
            key=_free_key(session, MessageTemplate, key),
            name=name[:200],
            channel=channel,
            category=category,
            default_locale=locale,
            variants=variants,
        ),
        commit=False,
    )


def start_campaign(session: Session, data: CampaignStart) -> Campaign:
    """A draft with one variant, A, whose template is new: made from the starter or copied from
    the saved template, so editing it changes nothing else."""
    source: MessageTemplate | Starter | None
    if data.starter is not None:
        source = starter(data.starter)
        if source is None or source.channel is not data.channel:
            raise InvalidInput(f"no {data.channel.value} starter {data.starter!r}", field="starter")
    else:
        source = template_for_key(session, data.template or "")
        if source is None or source.channel is not data.channel:
            raise InvalidInput(
                f"no {data.channel.value} template {data.template!r}", field="template"
            )
    key = _free_key(session, Campaign, _slug(data.name))
    template = _template_copy(session, f"{key}-a", f"{data.name} — A", data.channel, source)
    return create_campaign(
        session,
        CampaignIn(
            key=key,
            name=data.name,
            channel=data.channel,
            audience=data.audience,
            variants=[VariantIn(name="A", template=template.key)],
        ),
    )


def add_variant(session: Session, id_or_key: str) -> Campaign:
    """One more variant (B, C...), its template a copy of the last variant's to edit."""
    campaign = _draft(session, id_or_key)
    names = [v["name"] for v in campaign.variants]
    name = next((c for c in "ABCDEFGHIJ" if c not in names), None)
    if name is None:
        raise Conflict("a campaign has at most ten variants")
    last = get_template(session, uuid.UUID(campaign.variants[-1]["template_id"]))
    template = _template_copy(
        session,
        f"{campaign.key}-{name.lower()}",
        f"{campaign.name} — {name}",
        campaign.channel,
        last,
    )
    campaign.variants = [
        *campaign.variants,
        {"name": name, "template": template.key, "template_id": str(template.id)},
    ]
    session.commit()
    return campaign


def remove_variant(session: Session, id_or_key: str, name: str) -> Campaign:
    """Drop a variant; an A/B test needs two, so removing the second ends the test."""
    campaign = _draft(session, id_or_key)
    kept = [v for v in campaign.variants if v["name"] != name]
    if len(kept) == len(campaign.variants):
        raise NotFound(f"no variant {name!r}")
    if not kept:
        raise Conflict("a campaign keeps at least one variant")
    campaign.variants = kept
    if len(kept) < 2:
        campaign.ab = None
    elif campaign.ab and campaign.ab.get("default_variant") == name:
        campaign.ab = {**campaign.ab, "default_variant": None}
    session.commit()
    return campaign


def duplicate_campaign(session: Session, id_or_key: str) -> Campaign:
    """A new draft like the campaign: its audience, A/B settings and a copy of each variant's
    template, so editing the copy leaves the original's messages as they were."""
    original = get_campaign(session, id_or_key)
    key = _free_key(session, Campaign, f"{original.key}-copy")
    variants = []
    for variant in original.variants:
        template = session.get(MessageTemplate, uuid.UUID(variant["template_id"]))
        if template is None or template.deleted_at is not None:
            raise Conflict(f"variant {variant['name']}'s template is gone; it cannot be copied")
        copied = _template_copy(
            session,
            f"{key}-{variant['name'].lower()}",
            f"{template.name} (copy)",
            template.channel,
            template,
        )
        variants.append({"name": variant["name"], "template": copied.key})
    data = CampaignIn.model_validate(
        {
            **campaign_fields(original),
            "key": key,
            "name": f"{original.name} (copy)"[:200],
            "variants": variants,
            "send_at": None,
        }
    )
    return create_campaign(session, data)


def audience_size(session: Session, audience: Audience) -> int:
    """How many customers the audience holds now (the send counts again when it begins;
    consent and suppression may then skip some)."""
    _check_audience(session, audience)
    return (
        session.scalar(
            select(func.count()).select_from(Customer).where(audience_of(session, audience))
        )
        or 0
    )


def campaign_fields(campaign: Campaign) -> dict[str, Any]:
    """The campaign as its definition's fields (what CampaignIn reads)."""
    return {
        "key": campaign.key,
        "name": campaign.name,
        "channel": campaign.channel,
        "audience": campaign.audience,
        "variants": [{"name": v["name"], "template": v["template"]} for v in campaign.variants],
        "ab": campaign.ab,
        "send_at": campaign.send_at,
        "rate_limit_per_s": campaign.rate_limit_per_s,
        "attribution_hours": campaign.attribution_hours,
    }


def ready_to_send(session: Session, id_or_key: str) -> Campaign:
    """The draft, checked again against what may have changed since it was saved (a template
    deleted, a segment removed)."""
    campaign = _draft(session, id_or_key)
    _check_audience(session, Audience.model_validate(campaign.audience))
    _variants(
        session, campaign.channel, CampaignIn.model_validate(campaign_fields(campaign)).variants
    )
    return campaign


def run_id(campaign: Campaign) -> str:
    """The id of the run carrying the send: the one it started under, or the one it will."""
    return campaign.workflow_id or campaign_workflow_id(campaign.organization_id, campaign.id)


def mark_started(session: Session, campaign: Campaign, workflow_id: str) -> None:
    """After its run started under ``workflow_id``: scheduled or running, unless the run
    already moved it on."""
    later = campaign.send_at is not None and campaign.send_at > utcnow()
    session.refresh(campaign)
    campaign.workflow_id = workflow_id
    if campaign.status is CampaignStatus.draft:
        campaign.status = CampaignStatus.scheduled if later else CampaignStatus.running
    session.commit()


def require_status(campaign: Campaign, allowed: frozenset[CampaignStatus], action: str) -> None:
    if campaign.status not in allowed:
        raise Conflict(f"cannot {action} a campaign that is {campaign.status.value}")


PAUSABLE = ACTIVE - {CampaignStatus.paused}


def progress(session: Session, campaign: Campaign) -> Progress:
    rows = session.execute(
        select(CampaignRecipient.status, func.count())
        .where(CampaignRecipient.campaign_id == campaign.id, CampaignRecipient.status.is_not(None))
        .group_by(CampaignRecipient.status)
    )
    by_status = {status: count for status, count in rows}
    return Progress(
        recipients=campaign.recipients_total,
        test_size=campaign.test_size,
        handed_over=sum(by_status.values()),
        by_status=by_status,
    )


def to_out(campaign: Campaign, progress: Progress | None = None) -> CampaignOut:
    return CampaignOut.model_validate(
        {
            **campaign_fields(campaign),
            "id": campaign.id,
            "status": campaign.status,
            "winner": campaign.winner,
            "workflow_id": run_id(campaign),
            "created_at": campaign.created_at,
            "started_at": campaign.started_at,
            "finished_at": campaign.finished_at,
            "failure": campaign.failure,
            "archived_from": campaign.archived_from,
            "progress": progress,
        }
    )
