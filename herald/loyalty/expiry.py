"""Points expiry: points lapse a set time after they were earned, oldest first.

Spending is first-in, first-out: every debit (redemption, refund, negative adjustment) uses
the oldest points still there. So what is left of the points earned up to a cutoff is what
they add up to, less every debit and every earlier expiry, never less than zero — and that
is what expires when the cutoff is "earned a period ago". The ledger stays append-only:
an expiry is one more entry, and the balance is still the sum of them all.
"""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, and_, case, func, select
from sqlalchemy.orm import Session

from herald.db import insert_if_absent, utcnow
from herald.events.models import Event
from herald.loyalty.contracts import ExpiryOutcome, ExpiryPage, ExpiryQuery
from herald.loyalty.models import EntryKind, LedgerEntry, LoyaltySettings
from herald.loyalty.service import append_entry, lock_account

EXPIRY_SOURCE = "expiry"
POINTS_EXPIRING = "loyalty.points_expiring"

_CREDIT = and_(LedgerEntry.points > 0, LedgerEntry.kind.in_((EntryKind.earn, EntryKind.adjustment)))


def _left_of_credits_up_to(cutoff: datetime) -> ColumnElement[Any]:
    """SQL: what is left of the points earned up to ``cutoff``, per customer (may be < 0)."""
    earned = and_(_CREDIT, LedgerEntry.created_at <= cutoff)
    credits = func.sum(case((earned, LedgerEntry.points), else_=0))
    # Everything else (debits, gives-back, expiries) counts against the oldest points.
    others = func.sum(case((_CREDIT, 0), else_=LedgerEntry.points))
    return credits + others


def _expiring_by(session: Session, customer_id: uuid.UUID, cutoff: datetime) -> int:
    left = session.scalar(
        select(_left_of_credits_up_to(cutoff)).where(LedgerEntry.customer_id == customer_id)
    )
    return max(int(left or 0), 0)


def expiry_settings(session: Session) -> tuple[timedelta, timedelta] | None:
    """(how long points last, how long before the notice goes out), or None: they never expire."""
    row = session.scalar(select(LoyaltySettings))
    if row is None or row.points_expire_after_days is None:
        return None
    return timedelta(days=row.points_expire_after_days), timedelta(days=row.expiry_notice_days)


def find_expiring(session: Session, query: ExpiryQuery) -> ExpiryPage:
    """Customers of one organization with points to expire now or to hear about, from
    ``query.after`` (a page)."""
    settings = expiry_settings(session)
    if settings is None:
        return ExpiryPage(customer_ids=[], after=None)
    lasts, notice = settings
    soon = query.at + notice - lasts
    stmt = (
        select(LedgerEntry.customer_id)
        .group_by(LedgerEntry.customer_id)
        .having(_left_of_credits_up_to(soon) > 0)
        .order_by(LedgerEntry.customer_id)
        .limit(query.limit)
    )
    if query.after is not None:
        stmt = stmt.where(LedgerEntry.customer_id > query.after)
    ids = list(session.scalars(stmt))
    return ExpiryPage(customer_ids=ids, after=ids[-1] if len(ids) == query.limit else None)


def expire_customer(session: Session, customer_id: uuid.UUID, at: datetime) -> ExpiryOutcome:
    """Expire what is due at ``at`` (once per customer and day), and announce what expires in
    the notice period's last day (once per customer and date)."""
    settings = expiry_settings(session)
    if settings is None:
        session.rollback()
        return ExpiryOutcome(expired=0, announced=0)
    lasts, notice = settings
    account = lock_account(session, customer_id)
    due = min(_expiring_by(session, customer_id, at - lasts), account.balance)
    expired = 0
    if due > 0:
        entry = LedgerEntry(
            customer_id=customer_id,
            kind=EntryKind.expiry,
            points=-due,
            source=EXPIRY_SOURCE,
            source_id=f"{customer_id}/{at.date().isoformat()}",
            details={"earned_up_to": (at - lasts).isoformat()},
        )
        outcome = append_entry(session, account, entry, "expired")
        expired = -outcome.points if outcome else 0
        account = lock_account(session, customer_id)
    # Points that reach their end on the notice period's last day (not those before it).
    ends_on = at + notice
    announced = _expiring_by(session, customer_id, ends_on - lasts) - _expiring_by(
        session, customer_id, ends_on - lasts - timedelta(days=1)
    )
    if announced > 0:
        insert_if_absent(
            session,
            Event,
            {
                "id": uuid.uuid4(),
                "organization_id": account.organization_id,
                "type": POINTS_EXPIRING,
                "customer_id": customer_id,
                "occurred_at": at,
                "received_at": utcnow(),
                "idempotency_key": f"points-expiring/{customer_id}/{ends_on.date().isoformat()}",
                "properties": {"points": announced, "expires_on": ends_on.date().isoformat()},
            },
            ["organization_id", "idempotency_key"],
        )
    session.commit()
    return ExpiryOutcome(expired=expired, announced=max(announced, 0))


def organizations_with_expiry(session: Session) -> list[uuid.UUID]:
    return list(
        session.scalars(
            select(LoyaltySettings.organization_id).where(
                LoyaltySettings.points_expire_after_days.is_not(None)
            )
        )
    )
