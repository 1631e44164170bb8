"""Per-variant results of a campaign, counted in SQL from its recipients' messages."""

from __future__ import annotations

import csv
import io
import uuid
from typing import Any

from sqlalchemy import ColumnElement, and_, case, exists, func, literal, select
from sqlalchemy.orm import Session

from herald.campaigns.contracts import Metric
from herald.campaigns.decision import wilson_interval
from herald.campaigns.models import Campaign, CampaignRecipient
from herald.campaigns.schemas import (
    CampaignAnalytics,
    CampaignSummary,
    Decision,
    VariantAnalytics,
    VariantResult,
)
from herald.db import shifted
from herald.events.models import ORDER_PAID, Event
from herald.messaging.contracts import MessageStatus
from herald.messaging.models import Consent, ConsentStatus, Message
from herald.messaging.policy import WENT_OUT

# Handed to the provider: what counts against a frequency cap, and what bounced or was
# reported as spam afterwards (it still went out).
_WENT_OUT = (*WENT_OUT, MessageStatus.bounced, MessageStatus.complained)
_DELIVERED = (
    MessageStatus.delivered,
    MessageStatus.opened,
    MessageStatus.clicked,
    MessageStatus.complained,
)


def _count(condition: ColumnElement[bool]) -> Any:
    return func.coalesce(func.sum(case((condition, 1), else_=0)), 0)


def _columns(window: Any, channel: Any) -> dict[str, Any]:
    """Counts over a campaign's recipients joined to their messages: recipients, sent,
    skipped, failed, delivered, opened, clicked, converted (an order.paid within ``window``
    seconds after the message went out), unsubscribed (consent on ``channel`` revoked within
    the window) and bounced."""
    went_out = Message.status.in_(_WENT_OUT)
    ends = shifted(Message.sent_at, window)
    converted = exists().where(
        Event.customer_id == CampaignRecipient.customer_id,
        Event.type == ORDER_PAID,
        Event.occurred_at >= Message.sent_at,
        Event.occurred_at < ends,
    )
    unsubscribed = exists().where(
        Consent.customer_id == CampaignRecipient.customer_id,
        Consent.channel == channel,
        Consent.status == ConsentStatus.revoked,
        Consent.updated_at >= Message.sent_at,
        Consent.updated_at < ends,
    )
    return {
        "recipients": func.count(),
        "sent": _count(went_out),
        "skipped": _count(Message.status == MessageStatus.skipped),
        "failed": _count(Message.status.in_((MessageStatus.failed, MessageStatus.unknown))),
        "delivered": _count(Message.status.in_(_DELIVERED) | Message.opened_at.is_not(None)),
        "opened": _count(went_out & Message.opened_at.is_not(None)),
        "clicked": _count(went_out & Message.clicked_at.is_not(None)),
        "converted": _count(and_(went_out, converted)),
        "unsubscribed": _count(and_(went_out, unsubscribed)),
        "bounced": _count(Message.status == MessageStatus.bounced),
    }


def _counts(
    session: Session, campaign: Campaign, test_group_only: bool
) -> dict[str, dict[str, int]]:
    """The counts of ``_columns`` per variant."""
    columns = _columns(literal(campaign.attribution_hours * 3600), campaign.channel)
    stmt = (
        select(CampaignRecipient.variant, *(c.label(name) for name, c in columns.items()))
        .join(Message, Message.id == CampaignRecipient.message_id)
        .where(CampaignRecipient.campaign_id == campaign.id)
        .group_by(CampaignRecipient.variant)
    )
    if test_group_only:
        stmt = stmt.where(CampaignRecipient.position < (campaign.test_size or 0))
    counts = {v["name"]: dict.fromkeys(columns, 0) for v in campaign.variants}
    for row in session.execute(stmt):
        counts[row.variant] = {name: int(row._mapping[name]) for name in columns}
    return counts


def campaign_summaries(
    session: Session, campaign_ids: list[uuid.UUID]
) -> dict[uuid.UUID, CampaignSummary]:
    """Each listed campaign's totals over all variants, in one query (a list page's rates)."""
    if not campaign_ids:
        return {}
    columns = _columns(Campaign.attribution_hours * 3600, Campaign.channel)
    wanted = ("sent", "delivered", "opened", "clicked", "converted")
    stmt = (
        select(CampaignRecipient.campaign_id, *(columns[n].label(n) for n in wanted))
        .join(Message, Message.id == CampaignRecipient.message_id)
        .join(Campaign, Campaign.id == CampaignRecipient.campaign_id)
        .where(CampaignRecipient.campaign_id.in_(campaign_ids))
        .group_by(CampaignRecipient.campaign_id)
    )
    summaries = {}
    for row in session.execute(stmt):
        sent = int(row.sent)
        summaries[row.campaign_id] = CampaignSummary(
            sent=sent,
            **{n: wilson_interval(int(row._mapping[n]), sent) for n in wanted[1:]},
        )
    return summaries


_SUCCESS = {Metric.open: "opened", Metric.click: "clicked", Metric.conversion: "converted"}


def variant_results(
    session: Session, campaign: Campaign, metric: Metric, *, test_group_only: bool
) -> list[VariantResult]:
    results = []
    for variant, counts in _counts(session, campaign, test_group_only).items():
        sent, successes = counts["sent"], counts[_SUCCESS[metric]]
        results.append(
            VariantResult(
                variant=variant,
                sent=sent,
                successes=successes,
                rate=successes / sent if sent else None,
            )
        )
    return results


def campaign_analytics(session: Session, campaign: Campaign) -> CampaignAnalytics:
    variants = []
    for variant, c in _counts(session, campaign, test_group_only=False).items():
        rates = {
            name: wilson_interval(c[name], c["sent"])
            for name in ("delivered", "opened", "clicked", "converted", "unsubscribed", "bounced")
        }
        variants.append(
            VariantAnalytics(
                variant=variant,
                recipients=c["recipients"],
                sent=c["sent"],
                skipped=c["skipped"],
                failed=c["failed"],
                **rates,
            )
        )
    return CampaignAnalytics(
        campaign=campaign.key,
        status=campaign.status,
        attribution_hours=campaign.attribution_hours,
        variants=variants,
        winner=campaign.winner,
        decision=Decision.model_validate(campaign.decision) if campaign.decision else None,
    )


_RATES = ("delivered", "opened", "clicked", "converted", "unsubscribed", "bounced")


def analytics_csv(report: CampaignAnalytics) -> str:
    """One row per variant: counts, then each rate with its 95% interval, and the winner."""
    out = io.StringIO()
    writer = csv.writer(out)
    header = ["variant", "recipients", "sent", "skipped", "failed"]
    for name in _RATES:
        header += [name, f"{name}_rate", f"{name}_low", f"{name}_high"]
    writer.writerow([*header, "winner"])
    for v in report.variants:
        row: list[object] = [v.variant, v.recipients, v.sent, v.skipped, v.failed]
        for name in _RATES:
            rate = getattr(v, name)
            row += [rate.count, *(_fraction(x) for x in (rate.rate, rate.low, rate.high))]
        writer.writerow([*row, "yes" if report.winner == v.variant else ""])
    return out.getvalue()


def _fraction(value: float | None) -> str:
    return "" if value is None else f"{value:.4f}"
