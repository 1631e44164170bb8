from __future__ import annotations

import uuid
from decimal import ROUND_CEILING, ROUND_FLOOR, ROUND_HALF_UP, Decimal
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from herald.customers.service import get_customer
from herald.db import insert_if_absent, read_snapshot, session_organization, utcnow
from herald.errors import InvalidInput
from herald.events.models import ORDER_PAID, ORDER_REFUNDED
from herald.loyalty import tiers
from herald.loyalty.contracts import (
    AwardOrderPointsInput,
    LedgerOutcome,
    OutcomeStatus,
    ReverseOrderPointsInput,
)
from herald.loyalty.models import (
    EntryKind,
    LedgerEntry,
    LoyaltyAccount,
    LoyaltySettings,
    Reward,
    Rounding,
)
from herald.loyalty.schemas import (
    LedgerEntryOut,
    LoyaltySettingsIn,
    LoyaltySettingsOut,
    PointsOut,
    plain_decimal,
)
from herald.metrics import POINTS_AWARDED
from herald.orders import service as orders
from herald.orders.models import Order, OrderRefund
from herald.pagination import keyset_page

_ROUNDING = {
    Rounding.down: ROUND_FLOOR,
    Rounding.half_up: ROUND_HALF_UP,
    Rounding.up: ROUND_CEILING,
}
EARNING = (EntryKind.earn, EntryKind.adjustment)
DEFAULT_RULE = LoyaltySettingsIn(points_per_unit=Decimal(1), rounding=Rounding.down)


def get_settings(session: Session) -> LoyaltySettingsOut:
    row = session.scalar(select(LoyaltySettings))
    if row is None:
        return LoyaltySettingsOut(
            points_per_unit=DEFAULT_RULE.points_per_unit,
            rounding=DEFAULT_RULE.rounding,
            updated_at=None,
        )
    return LoyaltySettingsOut.model_validate(row, from_attributes=True)


def put_settings(session: Session, data: LoyaltySettingsIn) -> LoyaltySettingsOut:
    row = session.scalar(select(LoyaltySettings))
    if row is None:
        row = LoyaltySettings()
        session.add(row)
    row.points_per_unit = data.points_per_unit
    row.rounding = data.rounding
    for optional in (
        "birthday_enabled",
        "birthday_points",
        "redemption_hold_minutes",
        "referral_points_referrer",
        "referral_points_referred",
        "journey_points_per_run",
        "expiry_notice_days",
    ):
        if (value := getattr(data, optional)) is not None:  # left out: unchanged
            setattr(row, optional, value)
    if "birthday_reward_id" in data.model_fields_set:
        if (
            data.birthday_reward_id is not None
            and session.get(Reward, data.birthday_reward_id) is None
        ):
            raise InvalidInput("no such reward", field="birthday_reward_id")
        row.birthday_reward_id = data.birthday_reward_id
    if data.points_expire_after_days is not None:
        row.points_expire_after_days = data.points_expire_after_days or None
    row.updated_at = utcnow()
    session.commit()
    return get_settings(session)


def points_for(amount: Decimal, rule: LoyaltySettingsOut) -> int:
    return int((amount * rule.points_per_unit).to_integral_value(rounding=_ROUNDING[rule.rounding]))


def lock_account(session: Session, customer_id: uuid.UUID) -> LoyaltyAccount:
    """Create the account row if needed and lock it: awards and reversals of one customer queue up."""
    insert_if_absent(
        session,
        LoyaltyAccount,
        {
            "organization_id": session_organization(session),
            "customer_id": customer_id,
            "balance": 0,
            "lifetime_earned": 0,
            "updated_at": utcnow(),
        },
        ["customer_id"],
    )
    return session.scalars(
        select(LoyaltyAccount).where(LoyaltyAccount.customer_id == customer_id).with_for_update()
    ).one()


def _entry(session: Session, source: str, source_id: str) -> LedgerEntry | None:
    return session.scalar(
        select(LedgerEntry).where(LedgerEntry.source == source, LedgerEntry.source_id == source_id)
    )


def _award_of(session: Session, order_id: str) -> LedgerEntry | None:
    return _entry(session, ORDER_PAID, order_id)


def _refunds_taken(session: Session, order_id: str) -> list[tuple[OrderRefund, LedgerEntry]]:
    """An order's refunds that have their ledger entry (keyed by the refund's id), each with it."""
    refunds = {str(r.id): r for r in orders.refunds_of(session, order_id)}
    if not refunds:
        return []
    entries = session.scalars(
        select(LedgerEntry).where(
            LedgerEntry.source == ORDER_REFUNDED, LedgerEntry.source_id.in_(refunds)
        )
    )
    return [(refunds[e.source_id], e) for e in entries]


def _unchanged(
    session: Session, account: LoyaltyAccount, status: OutcomeStatus, entry: LedgerEntry | None
) -> LedgerOutcome:
    """Nothing to write: report what is there, then release the account lock."""
    outcome = LedgerOutcome(
        status=status,
        points=entry.points if entry else 0,
        balance=account.balance,
        entry_id=entry.id if entry else None,
    )
    session.rollback()
    return outcome


def append_entry(
    session: Session, account: LoyaltyAccount, entry: LedgerEntry, status: OutcomeStatus
) -> LedgerOutcome | None:
    """Write the entry and the balance in one transaction.

    Returns None when a concurrent writer (another customer's lock) stored the same source first.
    """
    session.add(entry)
    account.balance += entry.points
    if entry.kind in EARNING and entry.points > 0:  # a release only gives back what was held
        account.lifetime_earned += entry.points
    if entry.kind is EntryKind.earn:  # in the same transaction: the upgrade cannot be lost
        tiers.upgrade_if_qualified(session, account)
    account.updated_at = utcnow()
    try:
        session.commit()
    except IntegrityError:
        session.rollback()
        if _entry(session, entry.source, entry.source_id) is None:
            raise
        return None
    return LedgerOutcome(
        status=status, points=entry.points, balance=account.balance, entry_id=entry.id
    )


def award_order_points(session: Session, data: AwardOrderPointsInput) -> LedgerOutcome:
    """Award points for a paid order, exactly once per (organization, order).

    Refunds recorded before the award are taken off at once (their own entries, written
    before there was anything to take back, hold no points); the award's details keep the
    full figure, which later refunds take their share of. The customer id comes from a stored
    event of this organization, so it is not looked up again.
    """
    account = lock_account(session, data.customer_id)
    if (award := _award_of(session, data.order_id)) is not None:
        return _unchanged(session, account, "already_awarded", award)
    rule = get_settings(session)
    multiplier, tier = tiers.multiplier(session, account)
    gross = points_for(data.amount * multiplier, rule)
    earlier = _refunds_taken(session, data.order_id)
    order = orders.find_order(session, data.order_id)
    if order is not None and order.refunded_amount >= order.amount and earlier:
        return _unchanged(session, account, "order_refunded", None)
    taken = sum(_refund_share(gross, order, refund) for refund, _ in earlier)
    entry = LedgerEntry(
        customer_id=data.customer_id,
        kind=EntryKind.earn,
        points=max(gross - taken, 0),
        source=ORDER_PAID,
        source_id=data.order_id,
        event_id=data.event_id,
        details={
            "amount": str(data.amount),
            "currency": data.currency,
            "points_per_unit": plain_decimal(rule.points_per_unit),
            "rounding": rule.rounding.value,
            "gross_points": gross,
        }
        | ({"tier": tier, "multiplier": plain_decimal(multiplier)} if tier else {})
        | ({"refunds_before": [r.refund_id for r, _ in earlier]} if earlier else {}),
    )
    outcome = append_entry(session, account, entry, "awarded")
    if outcome is None:  # another award of this order won the race: read what it did
        return award_order_points(session, data)
    POINTS_AWARDED.inc(entry.points)
    return outcome


def _refund_share(gross: int, order: Order | None, refund: OrderRefund) -> int:
    """The points one refund takes back of an award of ``gross``: its part of the order's
    amount, rounded half up (the whole, for a refund without an amount)."""
    if order is None or refund.amount is None or order.amount == 0:
        return gross
    share = Decimal(gross) * min(refund.amount / order.amount, Decimal(1))
    return int(share.to_integral_value(rounding=ROUND_HALF_UP))


def award_points(
    session: Session,
    customer_id: uuid.UUID,
    points: int,
    source: str,
    source_id: str,
    details: dict[str, Any],
) -> LedgerOutcome:
    """Award a fixed number of points once per (source, source id): a journey step, a
    campaign, a birthday."""
    account = lock_account(session, customer_id)
    recorded = _entry(session, source, source_id)
    if recorded is not None:
        return _unchanged(session, account, "already_awarded", recorded)
    entry = LedgerEntry(
        customer_id=customer_id,
        kind=EntryKind.earn,
        points=points,
        source=source,
        source_id=source_id,
        details=details,
    )
    return append_entry(session, account, entry, "awarded") or award_points(
        session, customer_id, points, source, source_id, details
    )


def reverse_order_points(session: Session, data: ReverseOrderPointsInput) -> LedgerOutcome:
    """Take back a refund's share of what its order earned, once per refund. The refund that
    completes the order's refund takes back all that is left, so shares never round to less
    (or more) than the award. A refund recorded before the award holds no points: the award
    takes it off."""
    account = lock_account(session, data.customer_id)
    refund = orders.refund_of_event(session, data.event_id)
    if refund is None:  # its event repeated an earlier refund: that one's run reverses
        return _unchanged(session, account, "already_reversed", None)
    if (recorded := _entry(session, ORDER_REFUNDED, str(refund.id))) is not None:
        return _unchanged(session, account, "already_reversed", recorded)
    award = _award_of(session, data.order_id)
    points = 0
    if award is not None:
        left = award.points + sum(e.points for _, e in _refunds_taken(session, data.order_id))
        order = orders.find_order(session, data.order_id)
        if order is not None and order.refunded_amount >= order.amount:
            points = left
        else:
            gross = int(award.details.get("gross_points", award.points))
            points = min(left, _refund_share(gross, order, refund))
    entry = LedgerEntry(
        customer_id=data.customer_id,
        kind=EntryKind.reversal,
        points=-points,
        source=ORDER_REFUNDED,
        source_id=str(refund.id),
        event_id=data.event_id,
        reverses_entry_id=award.id if award is not None else None,
        details={
            "order_id": data.order_id,
            "refund_id": refund.refund_id,
            "amount": str(refund.amount) if refund.amount is not None else "the rest",
        }
        | ({"reverses": str(award.id)} if award is not None else {"award": "none yet"}),
    )
    status: OutcomeStatus = "reversed" if award is not None else "refund_recorded"
    return append_entry(session, account, entry, status) or reverse_order_points(session, data)


def customer_points(
    session: Session, customer_id: uuid.UUID, *, limit: int = 50, cursor: str | None = None
) -> PointsOut:
    read_snapshot(session)  # the balance and the entries beside it agree
    get_customer(session, customer_id, include_deleted=True)
    account = session.get(LoyaltyAccount, customer_id)
    stmt = select(LedgerEntry).where(LedgerEntry.customer_id == customer_id)
    rows, next_cursor = keyset_page(
        session, stmt, LedgerEntry.created_at, LedgerEntry.id, limit=limit, cursor=cursor
    )
    return PointsOut(
        customer_id=customer_id,
        balance=account.balance if account else 0,
        lifetime_earned=account.lifetime_earned if account else 0,
        tier=tiers.multiplier(session, account)[1] if account else None,
        tier_since=account.tier_since if account and account.tier_id else None,
        entries=[LedgerEntryOut.model_validate(r, from_attributes=True) for r in rows],
        next_cursor=next_cursor,
    )
