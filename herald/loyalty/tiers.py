"""Tiers: the ladder a merchant defines, upgrades the moment a member qualifies, and the
once-a-period review that is the only time a member moves down."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.orm import Session

from herald.db import utcnow
from herald.events.models import ORDER_PAID, Event
from herald.loyalty.contracts import TierReviewOutcome, TierReviewRequest
from herald.loyalty.models import (
    EntryKind,
    LedgerEntry,
    LoyaltyAccount,
    LoyaltySettings,
    LoyaltyTier,
    TierBasis,
)
from herald.loyalty.schemas import TierLadderIn, TierLadderOut, TierOut

TIER_CHANGED = "loyalty.tier_changed"


def ladder(session: Session) -> list[LoyaltyTier]:
    return list(session.scalars(select(LoyaltyTier).order_by(LoyaltyTier.threshold)))


def _program(session: Session) -> tuple[TierBasis, timedelta]:
    row = session.scalar(select(LoyaltySettings))
    if row is None:
        return TierBasis.points_earned, timedelta(days=365)
    return row.tier_basis, timedelta(days=row.tier_period_days)


def get_ladder(session: Session) -> TierLadderOut:
    basis, period = _program(session)
    return TierLadderOut(
        basis=basis,
        period_days=period.days,
        tiers=[TierOut.model_validate(t, from_attributes=True) for t in ladder(session)],
    )


def put_ladder(session: Session, data: TierLadderIn) -> TierLadderOut:
    """Replace the ladder. Tiers are matched by name, so members keep a tier that stays;
    members of a removed tier have none until their next upgrade or review."""
    settings = session.scalar(select(LoyaltySettings))
    if settings is None:
        settings = LoyaltySettings()
        session.add(settings)
    settings.tier_basis = data.basis
    settings.tier_period_days = data.period_days
    current = {t.name.casefold(): t for t in ladder(session)}
    for wanted in data.tiers:
        tier = current.pop(wanted.name.casefold(), None) or LoyaltyTier()
        tier.name, tier.threshold, tier.multiplier = (
            wanted.name,
            wanted.threshold,
            wanted.multiplier,
        )
        session.add(tier)
    for removed in current.values():
        session.delete(removed)
    session.commit()
    return get_ladder(session)


def qualifying_value(
    session: Session, customer_id: uuid.UUID, basis: TierBasis, since: datetime, until: datetime
) -> Decimal:
    """Points earned (net of refunds), or amounts paid (net of refunds), in (since, until]."""
    entries = list(
        session.scalars(
            select(LedgerEntry).where(
                LedgerEntry.customer_id == customer_id,
                LedgerEntry.kind.in_((EntryKind.earn, EntryKind.reversal)),
                LedgerEntry.created_at > since,
                LedgerEntry.created_at <= until,
            )
        )
    )
    if basis is TierBasis.points_earned:
        return Decimal(sum(e.points for e in entries))
    paid = {e.id: Decimal(e.details["amount"]) for e in entries if e.source == ORDER_PAID}
    refunded = [e.reverses_entry_id for e in entries if e.reverses_entry_id is not None]
    return sum(paid.values(), Decimal(0)) - sum(
        (paid.get(r, Decimal(0)) for r in refunded), Decimal(0)
    )


def _tier_for(tiers: list[LoyaltyTier], value: Decimal) -> LoyaltyTier | None:
    reached = [t for t in tiers if t.threshold <= value]
    return reached[-1] if reached else None


def _rank(tiers: list[LoyaltyTier], tier_id: uuid.UUID | None) -> int:
    return next((i for i, t in enumerate(tiers) if t.id == tier_id), -1)


def _move(
    session: Session,
    account: LoyaltyAccount,
    tiers: list[LoyaltyTier],
    to: LoyaltyTier | None,
    at: datetime,
) -> None:
    """Change the member's tier and record the ``loyalty.tier_changed`` event journeys see."""
    before = tiers[_rank(tiers, account.tier_id)] if account.tier_id else None
    up = _rank(tiers, to.id if to else None) > _rank(tiers, account.tier_id)
    account.tier_id = to.id if to else None
    account.tier_since = at
    account.tier_reviewed_at = None
    session.add(
        Event(
            id=uuid.uuid4(),
            type=TIER_CHANGED,
            customer_id=account.customer_id,
            occurred_at=at,
            received_at=utcnow(),
            properties={
                "from": before.name if before else None,
                "to": to.name if to else None,
                "direction": "up" if up else "down",
            },
        )
    )


def upgrade_if_qualified(session: Session, account: LoyaltyAccount) -> None:
    """Called under the account lock after points were earned: a member who now reaches a
    higher tier gets it at once (never a lower one: that waits for the review)."""
    tiers = ladder(session)
    if not tiers:
        return
    basis, period = _program(session)
    now = utcnow()
    value = qualifying_value(session, account.customer_id, basis, now - period, now)
    best = _tier_for(tiers, value)
    if best is not None and _rank(tiers, best.id) > _rank(tiers, account.tier_id):
        _move(session, account, tiers, best, now)


def next_review(account: LoyaltyAccount, period: timedelta) -> datetime | None:
    if account.tier_id is None or account.tier_since is None:
        return None
    return max(account.tier_since, account.tier_reviewed_at or account.tier_since) + period


def review(
    session: Session, account: LoyaltyAccount, request: TierReviewRequest
) -> TierReviewOutcome:
    """At the end of each period in a tier: keep it if the member still qualifies, else move
    to the tier they do reach (or none). Before its time it only says when that is."""
    tiers = ladder(session)
    basis, period = _program(session)
    due = next_review(account, period)
    current = tiers[_rank(tiers, account.tier_id)] if account.tier_id else None
    if due is None or request.at < due:
        session.rollback()
        return TierReviewOutcome(
            tier=current.name if current else None, changed=False, next_review=due
        )
    value = qualifying_value(session, account.customer_id, basis, request.at - period, request.at)
    reached = _tier_for(tiers, value)
    if reached is not None and current is not None and reached.id == current.id:
        account.tier_reviewed_at = request.at
        changed = False
    else:
        _move(session, account, tiers, reached, request.at)
        changed = True
    session.commit()
    return TierReviewOutcome(
        tier=reached.name if reached else None,
        changed=changed,
        next_review=next_review(account, period),
    )


def multiplier(session: Session, account: LoyaltyAccount) -> tuple[Decimal, str | None]:
    """The member's earning multiplier and tier name (1 and none without a tier)."""
    if account.tier_id is None:
        return Decimal(1), None
    tier = session.get(LoyaltyTier, account.tier_id)
    return (tier.multiplier, tier.name) if tier else (Decimal(1), None)
