"""Program analytics, and the one view a customer gets of their own loyalty account."""

from __future__ import annotations

import uuid
from datetime import timedelta

from sqlalchemy import ColumnElement, case, func, select
from sqlalchemy.orm import Session

from herald.customers.service import get_customer
from herald.db import read_snapshot, utcnow
from herald.loyalty.models import (
    EntryKind,
    LedgerEntry,
    LoyaltyAccount,
    LoyaltyTier,
    Redemption,
)
from herald.loyalty.rewards import list_rewards, reward_out
from herald.loyalty.schemas import (
    CustomerLoyaltyView,
    HistoryEntry,
    LoyaltyAnalytics,
    MonthFigures,
    RedemptionOut,
)
from herald.loyalty.service import customer_points

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
    outstanding = session.scalar(select(func.sum(LoyaltyAccount.balance))) or 0
    return LoyaltyAnalytics(
        members=sum(count for _, count in tiers),
        members_per_tier={name or NO_TIER: count for name, count in tiers},
        months=figures,
        issued=issued,
        redeemed=redeemed,
        expired=sum(f.expired for f in figures),
        redemption_rate=round(redeemed / issued, 4) if issued else None,
        outstanding_points=int(outstanding),
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
