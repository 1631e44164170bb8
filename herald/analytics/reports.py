"""Reports read from the rollups (and the attribution rows), each with the instant it is as of."""

from __future__ import annotations

import statistics
import uuid
from collections import defaultdict
from collections.abc import Callable
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from herald.analytics.attribution import weight_column
from herald.analytics.models import (
    AnalyticsAcquisition,
    AnalyticsCohort,
    AnalyticsPeriod,
    AnalyticsState,
    AttributionModel,
    Granularity,
    MarketingSpend,
    OrderAttribution,
)
from herald.analytics.periods import period_floor, periods_between, step
from herald.analytics.rollup import settings_of
from herald.analytics.schemas import (
    AcquisitionReport,
    AcquisitionRow,
    AcquisitionTotal,
    AttributionDimension,
    AttributionReport,
    AttributionRow,
    CohortPeriod,
    CohortReport,
    CohortRow,
    InquiryReport,
    InquirySource,
    RetentionReport,
    SeriesPoint,
    SeriesReport,
)
from herald.campaigns.models import Campaign, CampaignRecipient
from herald.customers.models import Customer
from herald.db import read_snapshot, start_of_day, utcnow
from herald.errors import InvalidInput
from herald.inquiries.contracts import InquiryStatus
from herald.inquiries.models import Inquiry, InquiryEntry
from herald.journeys.contracts import journey_of_intent
from herald.journeys.models import Journey
from herald.messaging.models import Message, MessageTemplate
from herald.messaging.policy import WENT_OUT
from herald.orders.models import Order
from herald.orders.money import CENT, converted_net, reporting_currency

# The timeline entry of staff's reply to an inquiry (``InquiryFollowUp`` records it).
REPLIED = "replied"
UNKNOWN_SOURCE = "(unknown)"
# The longest series a request may ask for, per granularity.
MAX_PERIODS = {Granularity.day: 732, Granularity.week: 260, Granularity.month: 120}


def _as_of(session: Session) -> datetime | None:
    return session.scalar(select(AnalyticsState.as_of))


_SERIES_FIELDS = (
    "revenue",
    "orders",
    "new_customers",
    "active_customers",
    "messages",
    "opens",
    "clicks",
    "unsubscribes",
    "attributed_revenue",
    "orders_not_converted",
)


def series(session: Session, granularity: Granularity, since: date, until: date) -> SeriesReport:
    """Every period from ``since``'s to ``until``'s (inclusive), zeros where nothing happened,
    and as many periods just before for comparison."""
    first, last = period_floor(since, granularity), period_floor(until, granularity)
    if last < first:
        raise InvalidInput("until is before since", field="until")
    count = periods_between(first, last, granularity) + 1
    if count > MAX_PERIODS[granularity]:
        raise InvalidInput(
            f"at most {MAX_PERIODS[granularity]} {granularity.value}s at a time", field="since"
        )
    before = step(first, granularity, -count)
    read_snapshot(session)
    rows = {
        r.start: r
        for r in session.scalars(
            select(AnalyticsPeriod).where(
                AnalyticsPeriod.granularity == granularity,
                AnalyticsPeriod.start >= before,
                AnalyticsPeriod.start <= last,
            )
        )
    }

    def points(start: date) -> list[SeriesPoint]:
        out = []
        for index in range(count):
            at = step(start, granularity, index)
            row = rows.get(at)
            values = {f: getattr(row, f) if row else 0 for f in _SERIES_FIELDS}
            values["revenue"] = Decimal(values["revenue"]).quantize(CENT)
            values["attributed_revenue"] = Decimal(values["attributed_revenue"]).quantize(CENT)
            out.append(SeriesPoint(start=at, **values))
        return out

    current, previous = points(first), points(before)
    return SeriesReport(
        as_of=_as_of(session),
        currency=reporting_currency(session),
        granularity=granularity,
        since=first,
        until=step(last, granularity) - timedelta(days=1),
        points=current,
        previous=previous,
        totals=_totals(current),
        previous_totals=_totals(previous),
    )


def _totals(points: list[SeriesPoint]) -> dict[str, Decimal | int]:
    # Active customers are distinct per period: their sum over periods would count repeaters
    # again, so totals leave them out.
    return {
        f: sum((getattr(p, f) for p in points), start=Decimal(0) if "revenue" in f else 0)
        for f in _SERIES_FIELDS
        if f != "active_customers"
    }


def cohorts(session: Session, granularity: Granularity, count: int) -> CohortReport:
    """The last ``count`` acquisition cohorts (by first order) and every period since each."""
    if granularity == Granularity.day:
        raise InvalidInput("cohorts are weekly or monthly", field="granularity")
    read_snapshot(session)
    newest = period_floor(utcnow().date(), granularity)
    oldest = step(newest, granularity, -(count - 1))
    cells: dict[date, list[AnalyticsCohort]] = defaultdict(list)
    for cell in session.scalars(
        select(AnalyticsCohort)
        .where(AnalyticsCohort.granularity == granularity, AnalyticsCohort.cohort >= oldest)
        .order_by(AnalyticsCohort.cohort, AnalyticsCohort.period)
    ):
        cells[cell.cohort].append(cell)
    rows = []
    for cohort, periods in sorted(cells.items()):
        size = next((p.customers for p in periods if p.period == 0), 0)
        cumulative = Decimal(0)
        out = []
        for p in periods:
            cumulative += Decimal(p.revenue)
            out.append(
                CohortPeriod(
                    period=p.period,
                    customers=p.customers,
                    retention=round(p.customers / size, 4) if size else 0.0,
                    orders=p.orders,
                    revenue=Decimal(p.revenue).quantize(CENT),
                    lifetime_value=(cumulative / size).quantize(CENT) if size else Decimal(0),
                )
            )
        rows.append(CohortRow(cohort=cohort, customers=size, periods=out))
    return CohortReport(
        as_of=_as_of(session),
        currency=reporting_currency(session),
        granularity=granularity,
        cohorts=rows,
    )


def retention(session: Session, churn_after_days: int) -> RetentionReport:
    """Repeat purchase rate and churn from the customer rows' order figures (indexed, current);
    the time between orders from the last rollup."""
    read_snapshot(session)
    cutoff = utcnow() - timedelta(days=churn_after_days)
    living = Customer.deleted_at.is_(None)
    buyers, repeat, churned, value = session.execute(
        select(
            func.count(Customer.last_order_at),
            func.count(Customer.id).filter(Customer.orders_count >= 2),
            func.count(Customer.id).filter(Customer.last_order_at < cutoff),
            func.avg(Customer.lifetime_value).filter(Customer.orders_count > 0),
        ).where(living)
    ).one()
    state = session.scalar(select(AnalyticsState))
    figures = state.figures if state else {}
    return RetentionReport(
        as_of=state.as_of if state else None,
        currency=reporting_currency(session),
        buyers=buyers,
        average_lifetime_value=Decimal(value).quantize(CENT) if value is not None else None,
        repeat_buyers=repeat,
        repeat_purchase_rate=round(repeat / buyers, 4) if buyers else None,
        churn_after_days=churn_after_days,
        churned=churned,
        churn_rate=round(churned / buyers, 4) if buyers else None,
        median_days_between_orders=figures.get("median_days_between_orders"),
        mean_days_between_orders=figures.get("mean_days_between_orders"),
    )


_ATTRIBUTION_KEY = {
    AttributionDimension.campaign: (OrderAttribution.campaign_id,),
    AttributionDimension.variant: (OrderAttribution.campaign_id, OrderAttribution.variant),
    AttributionDimension.journey: (OrderAttribution.journey_key,),
    AttributionDimension.step: (OrderAttribution.journey_key, OrderAttribution.step_id),
    AttributionDimension.template: (OrderAttribution.template_id,),
    AttributionDimension.channel: (OrderAttribution.channel,),
}


def _key(values: tuple[Any, ...]) -> str | None:
    if any(v is None for v in values):
        return None
    return "/".join(str(v) for v in values)


def attribution(
    session: Session,
    by: AttributionDimension,
    since: date,
    until: date,
    model: AttributionModel | None = None,
) -> AttributionReport:
    """Attributed orders and revenue of the orders paid from ``since`` to ``until``
    (inclusive), per campaign, variant, journey, step, template or channel, beside the messages
    that went out then, their cost and the return on it."""
    if until < since:
        raise InvalidInput("until is before since", field="until")
    read_snapshot(session)
    settings = settings_of(session)
    model = model or settings.attribution_model
    weight = weight_column(model)
    start, end = start_of_day(since), start_of_day(until + timedelta(days=1))
    reporting = reporting_currency(session)
    keys = _ATTRIBUTION_KEY[by]
    attributed = {
        _key(tuple(row)[: len(keys)]): (float(row.orders or 0), Decimal(row.revenue or 0))
        for row in session.execute(
            select(
                *keys,
                func.sum(weight).label("orders"),
                func.sum(weight * converted_net(reporting)).label("revenue"),
            )
            .join(Order, Order.id == OrderAttribution.order_pk)
            .where(OrderAttribution.paid_at >= start, OrderAttribution.paid_at < end, weight > 0)
            .group_by(*keys)
        )
    }
    attributed.pop(None, None)
    sent = _messages_by(session, by, start, end)
    costs = {k: Decimal(str(v)) for k, v in settings.message_costs.items()}
    fixed = _fixed_costs(session, by, since, until)
    names = _names(session, by, {*attributed, *sent})
    rows = []
    for key in sorted({*attributed, *sent}, key=str):
        assert key is not None
        orders, revenue = attributed.get(key, (0.0, Decimal(0)))
        messages, message_cost = sent.get(key, (0, defaultdict(int)))
        cost = sum((costs.get(ch, Decimal(0)) * n for ch, n in message_cost.items()), Decimal(0))
        cost += fixed.get(key, Decimal(0))
        rows.append(
            AttributionRow(
                key=key,
                name=names.get(key),
                messages=messages,
                orders=round(orders, 4),
                revenue=revenue.quantize(CENT),
                revenue_per_recipient=(revenue / messages).quantize(CENT) if messages else None,
                cost=cost.quantize(CENT),
                roi=round(float((revenue - cost) / cost), 4) if cost else None,
            )
        )
    rows.sort(key=lambda r: r.revenue, reverse=True)
    return AttributionReport(
        as_of=_as_of(session),
        currency=reporting,
        model=model,
        by=by,
        since=since,
        until=until,
        rows=rows,
    )


def _messages_by(
    session: Session, by: AttributionDimension, start: datetime, end: datetime
) -> dict[str, tuple[int, dict[str, int]]]:
    """Messages that went out in the window per key of ``by``, with their count per channel
    (what they cost). Campaigns count from their recipients; journeys from their intents."""
    went_out = Message.status.in_(WENT_OUT)
    window = (Message.created_at >= start, Message.created_at < end, went_out)
    found: dict[str, tuple[int, dict[str, int]]] = {}

    def add(key: str | None, channel: str, n: int) -> None:
        if key is None:
            return
        total, per_channel = found.get(key, (0, defaultdict(int)))
        per_channel[channel] += n
        found[key] = (total + n, per_channel)

    if by in (AttributionDimension.campaign, AttributionDimension.variant):
        keys: tuple[Any, ...] = (CampaignRecipient.campaign_id,)
        if by == AttributionDimension.variant:
            keys += (CampaignRecipient.variant,)
        for row in session.execute(
            select(*keys, Message.channel, func.count())
            .join(Message, Message.id == CampaignRecipient.message_id)
            .where(*window)
            .group_by(*keys, Message.channel)
        ):
            add(_key(tuple(row[:-2])), row[-2], row[-1])
    elif by in (AttributionDimension.journey, AttributionDimension.step):
        for intent, channel in session.execute(
            select(Message.idempotency_key, Message.channel).where(
                *window, Message.idempotency_key.startswith("journey/")
            )
        ):
            journey = journey_of_intent(intent)
            if journey is not None:
                add(
                    journey[0] if by == AttributionDimension.journey else "/".join(journey),
                    channel,
                    1,
                )
    else:
        column = Message.template_id if by == AttributionDimension.template else Message.channel
        for value, channel, n in session.execute(
            select(column, Message.channel, func.count())
            .where(*window)
            .group_by(column, Message.channel)
        ):
            add(_key((value,)), channel, n)
    return found


def _fixed_costs(
    session: Session, by: AttributionDimension, since: date, until: date
) -> dict[str, Decimal]:
    """Fixed spend entered for campaigns or journeys in the months of the window."""
    if by not in (AttributionDimension.campaign, AttributionDimension.journey):
        return {}
    prefix = f"{by.value}:"
    spend = session.execute(
        select(MarketingSpend.subject, func.sum(MarketingSpend.amount))
        .where(
            MarketingSpend.subject.startswith(prefix),
            MarketingSpend.month >= since.replace(day=1),
            MarketingSpend.month <= until,
        )
        .group_by(MarketingSpend.subject)
    ).all()
    by_key = {subject[len(prefix) :]: Decimal(amount) for subject, amount in spend}
    if by == AttributionDimension.journey:
        return by_key
    ids = session.execute(select(Campaign.key, Campaign.id).where(Campaign.key.in_(by_key)))
    return {str(campaign_id): by_key[key] for key, campaign_id in ids}


def _names(session: Session, by: AttributionDimension, keys: set[str | None]) -> dict[str, str]:
    """What the merchant named each key's campaign, journey or template (its first part)."""
    wanted = {k for k in keys if k}
    column: Any
    name: Any
    parse: Callable[[str], Any]
    if by in (AttributionDimension.campaign, AttributionDimension.variant):
        column, name, parse = Campaign.id, Campaign.name, uuid.UUID
    elif by in (AttributionDimension.journey, AttributionDimension.step):
        column, name, parse = Journey.key, Journey.name, str
    elif by == AttributionDimension.template:
        column, name, parse = MessageTemplate.id, MessageTemplate.name, uuid.UUID
    else:
        return {}
    heads = {k: parse(k.split("/")[0]) for k in wanted}
    found = {
        key: text
        for key, text in session.execute(
            select(column, name).where(column.in_(set(heads.values())))
        )
    }
    return {k: found[head] for k, head in heads.items() if head in found}


def acquisition(session: Session, since: date, until: date) -> AcquisitionReport:
    """New customers per month and channel, the spend entered for them and its CAC."""
    first, last = since.replace(day=1), until.replace(day=1)
    read_snapshot(session)
    rows: dict[tuple[date, str], dict[str, Any]] = {}
    for row in session.scalars(
        select(AnalyticsAcquisition).where(
            AnalyticsAcquisition.month >= first, AnalyticsAcquisition.month <= last
        )
    ):
        rows[(row.month, row.channel)] = {
            "new_customers": row.new_customers,
            "buyers": row.buyers,
            "revenue": Decimal(row.revenue),
        }
    spend = session.execute(
        select(MarketingSpend.month, MarketingSpend.channel, func.sum(MarketingSpend.amount))
        .where(MarketingSpend.month >= first, MarketingSpend.month <= last)
        .group_by(MarketingSpend.month, MarketingSpend.channel)
    ).all()
    spent = {(month, channel): Decimal(amount) for month, channel, amount in spend}
    out = []
    for month, channel in sorted({*rows, *spent}):
        figures = rows.get((month, channel), {"new_customers": 0, "buyers": 0, "revenue": 0})
        amount = spent.get((month, channel), Decimal(0))
        new = figures["new_customers"]
        out.append(
            AcquisitionRow(
                month=month,
                channel=channel,
                new_customers=new,
                buyers=figures["buyers"],
                revenue=Decimal(figures["revenue"]).quantize(CENT),
                spend=amount.quantize(CENT),
                cac=_cac(amount, new),
            )
        )
    return AcquisitionReport(
        as_of=_as_of(session),
        currency=reporting_currency(session),
        rows=out,
        channels=_channel_totals(out),
        cac=_cac(sum((r.spend for r in out), Decimal(0)), sum(r.new_customers for r in out)),
    )


def _cac(spend: Decimal, new_customers: int) -> Decimal | None:
    return (spend / new_customers).quantize(CENT) if new_customers and spend else None


def _channel_totals(rows: list[AcquisitionRow]) -> list[AcquisitionTotal]:
    totals: dict[str, list[Any]] = defaultdict(lambda: [0, 0, Decimal(0), Decimal(0)])
    for row in rows:
        t = totals[row.channel]
        t[0] += row.new_customers
        t[1] += row.buyers
        t[2] += row.revenue
        t[3] += row.spend
    return sorted(
        (
            AcquisitionTotal(
                channel=channel,
                new_customers=new,
                buyers=buyers,
                revenue=revenue,
                spend=spend,
                cac=_cac(spend, new),
            )
            for channel, (new, buyers, revenue, spend) in totals.items()
        ),
        key=lambda t: -t.new_customers,
    )


def inquiries(session: Session, since: date, until: date) -> InquiryReport:
    """Sales inquiries received from ``since`` to ``until`` (inclusive): how many, how fast
    staff first replied, and how many became customers, per page the form was sent from."""
    if until < since:
        raise InvalidInput("until is before since", field="until")
    start, end = start_of_day(since), start_of_day(until + timedelta(days=1))
    first_reply = (
        select(func.min(InquiryEntry.at))
        .where(InquiryEntry.inquiry_id == Inquiry.id, InquiryEntry.kind == REPLIED)
        .correlate(Inquiry)
        .scalar_subquery()
    )
    rows = session.execute(
        select(Inquiry.source_page, Inquiry.status, Inquiry.created_at, first_reply).where(
            Inquiry.created_at >= start, Inquiry.created_at < end
        )
    ).all()
    waits = [(reply - created).total_seconds() / 3600 for _, _, created, reply in rows if reply]
    sources: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    for page, status, _, _ in rows:
        counts = sources[page or UNKNOWN_SOURCE]
        counts[0] += 1
        counts[1] += status == InquiryStatus.converted
    converted = sum(c for _, c in sources.values())
    return InquiryReport(
        since=since,
        until=until,
        inquiries=len(rows),
        replied=len(waits),
        median_hours_to_reply=round(statistics.median(waits), 2) if waits else None,
        converted=converted,
        conversion_rate=round(converted / len(rows), 4) if rows else None,
        by_source=[
            InquirySource(source=source, inquiries=n, converted=c, conversion_rate=round(c / n, 4))
            for source, (n, c) in sorted(sources.items(), key=lambda item: -item[1][0])
        ],
    )
