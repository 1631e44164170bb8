"""Per-variant results of a campaign, counted in SQL from its recipients' messages, and the
orders attributed to them (revenue analytics' attribution, under the organization's model)."""

from __future__ import annotations

import csv
import io
import uuid
from collections import defaultdict
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from sqlalchemy import ColumnElement, and_, case, exists, func, literal, select
from sqlalchemy.orm import Session

from herald.analytics.attribution import weight_column
from herald.analytics.models import (
    AnalyticsSettings,
    AttributionModel,
    MarketingSpend,
    OrderAttribution,
)
from herald.analytics.rollup import settings_of
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
from herald.messaging.contracts import MessageStatus
from herald.messaging.models import Consent, ConsentStatus, Message
from herald.messaging.policy import WENT_OUT
from herald.orders.models import Order
from herald.orders.money import CENT, converted_net, reporting_currency

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
    skipped, failed, delivered, opened, clicked, unsubscribed (consent on ``channel`` revoked
    within ``window`` seconds after the message went out) and bounced. Conversions are the
    attributed orders' (``_attributed``)."""
    went_out = Message.status.in_(_WENT_OUT)
    ends = shifted(Message.sent_at, window)
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


@dataclass
class _Attributed:
    """A variant's attributed orders: recipients who converted, orders (shares add up),
    revenue, and the sum of each recipient's revenue squared (its spread, for Welch)."""

    converted: int = 0
    orders: float = 0.0
    revenue: Decimal = Decimal(0)
    revenue_squares: float = 0.0


def _attributed(
    session: Session, campaign: Campaign, model: AttributionModel, test_group_only: bool
) -> dict[str, _Attributed]:
    """Per variant, the orders attributed to the campaign's messages under the organization's
    model, each order's money as it stands now (refunds included)."""
    weight = weight_column(model)
    net = converted_net(reporting_currency(session))
    stmt = (
        select(
            OrderAttribution.variant,
            func.sum(weight).label("orders"),
            func.sum(weight * net).label("revenue"),
        )
        .join(Order, Order.id == OrderAttribution.order_pk)
        .where(OrderAttribution.campaign_id == campaign.id, weight > 0)
        .group_by(OrderAttribution.variant, OrderAttribution.customer_id)
    )
    if test_group_only:
        stmt = stmt.join(
            CampaignRecipient,
            and_(
                CampaignRecipient.campaign_id == OrderAttribution.campaign_id,
                CampaignRecipient.customer_id == OrderAttribution.customer_id,
            ),
        ).where(CampaignRecipient.position < (campaign.test_size or 0))
    found: dict[str, _Attributed] = defaultdict(_Attributed)
    for variant, orders, revenue in session.execute(stmt):
        money = Decimal(revenue or 0)
        totals = found[variant]
        totals.converted += 1
        totals.orders += float(orders)
        totals.revenue += money
        totals.revenue_squares += float(money) ** 2
    return found


def campaign_summaries(
    session: Session, campaign_ids: list[uuid.UUID]
) -> dict[uuid.UUID, CampaignSummary]:
    """Each listed campaign's totals over all variants, in two grouped queries (a list page's
    rates): its messages, and the recipients with an attributed order."""
    if not campaign_ids:
        return {}
    columns = _columns(Campaign.attribution_hours * 3600, Campaign.channel)
    wanted = ("sent", "delivered", "opened", "clicked")
    stmt = (
        select(CampaignRecipient.campaign_id, *(columns[n].label(n) for n in wanted))
        .join(Message, Message.id == CampaignRecipient.message_id)
        .join(Campaign, Campaign.id == CampaignRecipient.campaign_id)
        .where(CampaignRecipient.campaign_id.in_(campaign_ids))
        .group_by(CampaignRecipient.campaign_id)
    )
    weight = weight_column(settings_of(session).attribution_model)
    converted = dict(
        session.execute(
            select(
                OrderAttribution.campaign_id,
                func.count(func.distinct(OrderAttribution.customer_id)),
            )
            .where(OrderAttribution.campaign_id.in_(campaign_ids), weight > 0)
            .group_by(OrderAttribution.campaign_id)
        )
        .tuples()
        .all()
    )
    summaries = {}
    for row in session.execute(stmt):
        sent = int(row.sent)
        summaries[row.campaign_id] = CampaignSummary(
            sent=sent,
            converted=wilson_interval(converted.get(row.campaign_id, 0), sent),
            **{n: wilson_interval(int(row._mapping[n]), sent) for n in wanted[1:]},
        )
    return summaries


_SUCCESS = {Metric.open: "opened", Metric.click: "clicked"}


def variant_results(
    session: Session, campaign: Campaign, metric: Metric, *, test_group_only: bool
) -> list[VariantResult]:
    model = settings_of(session).attribution_model
    attributed = _attributed(session, campaign, model, test_group_only)
    results = []
    for variant, counts in _counts(session, campaign, test_group_only).items():
        sent, money = counts["sent"], attributed[variant]
        if metric is Metric.revenue:
            mean = float(money.revenue) / sent if sent else None
            results.append(
                VariantResult(
                    variant=variant,
                    sent=sent,
                    successes=money.converted,
                    rate=mean,
                    revenue=float(money.revenue),
                    revenue_squares=money.revenue_squares,
                )
            )
            continue
        successes = money.converted if metric is Metric.conversion else counts[_SUCCESS[metric]]
        results.append(
            VariantResult(
                variant=variant,
                sent=sent,
                successes=successes,
                rate=successes / sent if sent else None,
            )
        )
    return results


def _cost(session: Session, campaign: Campaign, settings: AnalyticsSettings, sent: int) -> Decimal:
    """What the merchant declared the campaign cost: its messages, and its fixed spend."""
    per_message = Decimal(str(settings.message_costs.get(campaign.channel, 0)))
    fixed = session.scalar(
        select(func.sum(MarketingSpend.amount)).where(
            MarketingSpend.subject == f"campaign:{campaign.key}"
        )
    )
    return per_message * sent + Decimal(fixed or 0)


def campaign_analytics(session: Session, campaign: Campaign) -> CampaignAnalytics:
    settings = settings_of(session)  # read once for the model and the costs
    attributed = _attributed(session, campaign, settings.attribution_model, test_group_only=False)
    variants = []
    for variant, c in _counts(session, campaign, test_group_only=False).items():
        money = attributed[variant]
        rates = {
            name: wilson_interval(c[name], c["sent"])
            for name in ("delivered", "opened", "clicked", "unsubscribed", "bounced")
        }
        variants.append(
            VariantAnalytics(
                variant=variant,
                recipients=c["recipients"],
                sent=c["sent"],
                skipped=c["skipped"],
                failed=c["failed"],
                converted=wilson_interval(money.converted, c["sent"]),
                orders=round(money.orders, 4),
                revenue=money.revenue.quantize(CENT),
                revenue_per_recipient=(money.revenue / c["sent"]).quantize(CENT)
                if c["sent"]
                else None,
                **rates,
            )
        )
    revenue = sum((v.revenue for v in variants), Decimal(0))
    cost = _cost(session, campaign, settings, sum(v.sent for v in variants)).quantize(CENT)
    return CampaignAnalytics(
        campaign=campaign.key,
        status=campaign.status,
        attribution_hours=campaign.attribution_hours,
        variants=variants,
        winner=campaign.winner,
        decision=Decision.model_validate(campaign.decision) if campaign.decision else None,
        attribution_model=settings.attribution_model.value,
        currency=reporting_currency(session),
        revenue=revenue,
        cost=cost,
        roi=round(float((revenue - cost) / cost), 4) if cost else None,
    )


_RATES = ("delivered", "opened", "clicked", "converted", "unsubscribed", "bounced")
_MONEY = ("orders", "revenue", "revenue_per_recipient")


def analytics_csv(report: CampaignAnalytics) -> str:
    """One row per variant: counts, then each rate with its 95% interval, and the winner."""
    out = io.StringIO()
    writer = csv.writer(out)
    header = ["variant", "recipients", "sent", "skipped", "failed"]
    for name in _RATES:
        header += [name, f"{name}_rate", f"{name}_low", f"{name}_high"]
    writer.writerow([*header, *_MONEY, "winner"])
    for v in report.variants:
        row: list[object] = [v.variant, v.recipients, v.sent, v.skipped, v.failed]
        for name in _RATES:
            rate = getattr(v, name)
            row += [rate.count, *(_fraction(x) for x in (rate.rate, rate.low, rate.high))]
        money = [getattr(v, name) for name in _MONEY]
        writer.writerow(
            [
                *row,
                *("" if m is None else m for m in money),
                "yes" if report.winner == v.variant else "",
            ]
        )
    return out.getvalue()


def _fraction(value: float | None) -> str:
    return "" if value is None else f"{value:.4f}"
