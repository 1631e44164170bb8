"""Program analytics, and the one view a customer gets of their own loyalty account."""

from __future__ import annotations

import uuid
from datetime import timedelta
from decimal import Decimal

from sqlalchemy import ColumnElement, case, func, select
from sqlalchemy.orm import Session, aliased

from herald.customers.models import Customer
from herald.customers.service import get_customer
from herald.db import read_snapshot, utcnow
from herald.loyalty.models import (
    EntryKind,
    LedgerEntry,
    LoyaltyAccount,
    LoyaltyTier,
    Redemption,
    Referral,
    Reward,
    RewardKind,
)
from herald.loyalty.referrals import REFERRAL_SOURCE
from herald.loyalty.rewards import list_rewards, reward_out
from herald.loyalty.schemas import (
    CustomerLoyaltyView,
    GroupFigures,
    HistoryEntry,
    LoyaltyAnalytics,
    MonthFigures,
    RedemptionOut,
    ReferralFigures,
    Referrer,
)
from herald.loyalty.service import customer_points
from herald.orders.money import CENT, reporting_currency

NO_TIER = "(none)"


def _entry_month(session: Session) -> ColumnElement[str]:
    """The ledger entry's month as YYYY-MM, in the dialect at hand."""
    if session.get_bind().dialect.name == "postgresql":
        return func.to_char(LedgerEntry.created_at, "YYYY-MM")
    return func.strftime("%Y-%m", LedgerEntry.created_at)


def program_analytics(session: Session, months: int) -> LoyaltyAnalytics:
    """Members per tier, points issued, redeemed and expired per month, the redemption rate
    and the points outstanding (what the program owes its members)."""
    read_snapshot(session)
    tiers = session.execute(
        select(LoyaltyTier.name, func.count(LoyaltyAccount.customer_id))
        .select_from(LoyaltyAccount)
        .outerjoin(LoyaltyTier, LoyaltyTier.id == LoyaltyAccount.tier_id)
        .group_by(LoyaltyTier.name)
    ).all()
    since = (utcnow() - timedelta(days=31 * months)).replace(day=1, hour=0, minute=0, second=0)
    month = _entry_month(session)
    points = LedgerEntry.points
    rows = session.execute(
        select(
            month,
            func.sum(
                case(
                    (LedgerEntry.kind == EntryKind.earn, points),
                    ((LedgerEntry.kind == EntryKind.adjustment) & (points > 0), points),
                    else_=0,
                )
            ),
            # Held points given back are not redeemed: a redemption nets with its release.
            func.sum(
                case(
                    (LedgerEntry.kind.in_((EntryKind.redemption, EntryKind.release)), -points),
                    else_=0,
                )
            ),
            func.sum(case((LedgerEntry.kind == EntryKind.expiry, -points), else_=0)),
        )
        .where(LedgerEntry.created_at >= since)
        .group_by(month)
        .order_by(month)
    ).all()
    figures = [
        MonthFigures(month=m, issued=int(i or 0), redeemed=int(r or 0), expired=int(e or 0))
        for m, i, r, e in rows
    ]
    issued = sum(f.issued for f in figures)
    redeemed = sum(f.redeemed for f in figures)
    outstanding = int(session.scalar(select(func.sum(LoyaltyAccount.balance))) or 0)
    active = session.scalar(
        select(func.count(func.distinct(LedgerEntry.customer_id))).where(
            LedgerEntry.created_at >= since
        )
    )
    point_value = _point_value(session)
    return LoyaltyAnalytics(
        members=sum(count for _, count in tiers),
        members_per_tier={name or NO_TIER: count for name, count in tiers},
        months=figures,
        issued=issued,
        redeemed=redeemed,
        expired=sum(f.expired for f in figures),
        redemption_rate=round(redeemed / issued, 4) if issued else None,
        outstanding_points=outstanding,
        active_members=active or 0,
        point_value=point_value,
        outstanding_liability=(point_value * outstanding).quantize(CENT)
        if point_value is not None
        else None,
        currency=reporting_currency(session),
        members_vs_others=_members_vs_others(session),
        referrals=_referral_figures(session),
    )


def _point_value(session: Session) -> Decimal | None:
    """What a point is worth at the best active fixed-discount reward, if there is one."""
    best = session.scalar(
        select(func.max(Reward.value / Reward.cost_points)).where(
            Reward.active.is_(True),
            Reward.kind == RewardKind.discount_fixed,
            Reward.value.is_not(None),
            Reward.cost_points > 0,
        )
    )
    return Decimal(best).quantize(Decimal("0.0001")) if best is not None else None


def _members_vs_others(session: Session) -> list[GroupFigures]:
    """Spend, order frequency and repeat rate of buyers in the program and outside it, from
    the order figures each customer row keeps."""
    member = (
        select(LoyaltyAccount.customer_id).where(LoyaltyAccount.customer_id == Customer.id).exists()
    )
    rows = session.execute(
        select(
            member.label("member"),
            func.count(),
            func.avg(Customer.lifetime_value),
            func.avg(Customer.orders_count),
            func.count(Customer.id).filter(Customer.orders_count >= 2),
        )
        .where(Customer.deleted_at.is_(None), Customer.orders_count > 0)
        .group_by(member)
    ).all()
    found = {bool(m): (n, spend, orders, repeat) for m, n, spend, orders, repeat in rows}
    figures = []
    for is_member, group in ((True, "members"), (False, "non-members")):
        n, spend, orders, repeat = found.get(is_member, (0, None, None, 0))
        figures.append(
            GroupFigures(
                group=group,
                buyers=n,
                average_spend=Decimal(spend).quantize(CENT) if spend is not None else None,
                average_orders=round(float(orders), 2) if orders is not None else None,
                repeat_rate=round(repeat / n, 4) if n else None,
            )
        )
    return figures


TOP_REFERRERS = 10


def _referral_figures(session: Session) -> ReferralFigures:
    referred_customer = Customer.id == Referral.referred_id
    referred, converted, revenue = session.execute(
        select(
            func.count(Referral.id),
            func.count(Referral.rewarded_at),
            func.coalesce(func.sum(Customer.lifetime_value), 0),
        )
        .select_from(Referral)
        .outerjoin(Customer, referred_customer)
    ).one()
    points = session.scalar(
        select(func.coalesce(func.sum(LedgerEntry.points), 0)).where(
            LedgerEntry.source == REFERRAL_SOURCE, LedgerEntry.points > 0
        )
    )
    referrer = aliased(Customer)
    top = session.execute(
        select(
            Referral.referrer_id,
            referrer.name,
            func.count(Referral.id).label("referred"),
            func.count(Referral.rewarded_at),
            func.coalesce(func.sum(Customer.lifetime_value), 0),
        )
        .select_from(Referral)
        .join(referrer, referrer.id == Referral.referrer_id)
        .outerjoin(Customer, referred_customer)
        .group_by(Referral.referrer_id, referrer.name)
        .order_by(func.count(Referral.rewarded_at).desc(), func.count(Referral.id).desc())
        .limit(TOP_REFERRERS)
    ).all()
    return ReferralFigures(
        referred=referred,
        converted=converted,
        conversion_rate=round(converted / referred, 4) if referred else None,
        reward_points=int(points or 0),
        revenue=Decimal(revenue).quantize(CENT),
        top_referrers=[
            Referrer(
                customer_id=customer_id,
                name=name,
                referred=n,
                converted=c,
                revenue=Decimal(r).quantize(CENT),
            )
            for customer_id, name, n, c, r in top
        ],
    )


def customer_view(session: Session, customer_id: uuid.UUID) -> CustomerLoyaltyView:
    """What a customer sees through their signed link: their own balance, tier, history, codes
    and the rewards they can spend on; no one else's data and nothing about the program."""
    points = customer_points(session, customer_id, limit=50)  # one snapshot for all of it
    customer = get_customer(session, customer_id)  # a deleted profile's link shows nothing
    redemptions = session.scalars(
        select(Redemption)
        .where(Redemption.customer_id == customer.id)
        .order_by(Redemption.created_at.desc())
        .limit(50)
    )
    return CustomerLoyaltyView(
        name=customer.name,
        balance=points.balance,
        tier=points.tier,
        tier_since=points.tier_since,
        history=[HistoryEntry.model_validate(e.model_dump()) for e in points.entries],
        redemptions=[RedemptionOut.model_validate(r, from_attributes=True) for r in redemptions],
        rewards=[reward_out(r) for r in list_rewards(session, active_only=True)],
    )
