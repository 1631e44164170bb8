"""Campaigns: drafts a marketer edits, then one send each, carried by a CampaignSend run."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from herald.campaigns.contracts import CampaignStatus, campaign_workflow_id
from herald.campaigns.models import ACTIVE, Campaign, CampaignRecipient
from herald.campaigns.schemas import (
    Audience,
    CampaignIn,
    CampaignOut,
    CampaignUpdate,
    Progress,
    VariantIn,
)
from herald.customers.models import Customer
from herald.db import commit_or_conflict, utcnow
from herald.errors import Conflict, InvalidInput, NotFound
from herald.messaging.models import Channel, MessageTemplate
from herald.pagination import Page, page_of
from herald.segments.models import Segment


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


def list_campaigns(
    session: Session, status: CampaignStatus | None, *, limit: int, cursor: str | None
) -> Page[CampaignOut]:
    """Newest first."""
    stmt = select(Campaign)
    if status is not None:
        stmt = stmt.where(Campaign.status == status)
    return page_of(
        session, stmt, Campaign.created_at, Campaign.id, to_out, limit=limit, cursor=cursor
    )


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
            "progress": progress,
        }
    )
