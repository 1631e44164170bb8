"""The program's members: customers with a loyalty account, most points first, found by name,
email or phone and by tier."""

from __future__ import annotations

import uuid

from pydantic import BaseModel
from sqlalchemy import select, tuple_
from sqlalchemy.orm import Session

from herald.customers.models import Customer
from herald.customers.schemas import CustomerFilter
from herald.customers.service import filter_conditions
from herald.errors import InvalidInput
from herald.loyalty.analytics import NO_TIER
from herald.loyalty.models import LoyaltyAccount, LoyaltyTier
from herald.pagination import Page, decode_cursor, encode_cursor


class MemberOut(BaseModel):
    customer_id: uuid.UUID
    name: str | None
    email: str | None
    balance: int
    lifetime_earned: int
    tier: str | None


def member_page(
    session: Session, q: str | None, tier: str | None, *, limit: int, cursor: str | None
) -> Page[MemberOut]:
    """Members by balance, highest first; ``tier`` is a tier's name, or ``NO_TIER`` for members
    below the first rung (as the program's figures name them)."""
    stmt = (
        select(
            LoyaltyAccount.customer_id,
            Customer.name,
            Customer.primary_email,
            LoyaltyAccount.balance,
            LoyaltyAccount.lifetime_earned,
            LoyaltyTier.name,
        )
        .join(Customer, Customer.id == LoyaltyAccount.customer_id)
        .outerjoin(LoyaltyTier, LoyaltyTier.id == LoyaltyAccount.tier_id)
        .where(*filter_conditions(CustomerFilter(q=q)))
    )
    if tier == NO_TIER:
        stmt = stmt.where(LoyaltyAccount.tier_id.is_(None))
    elif tier:
        found = session.scalar(select(LoyaltyTier.id).where(LoyaltyTier.name == tier))
        if found is None:
            raise InvalidInput(f"no tier {tier!r}", field="tier")
        stmt = stmt.where(LoyaltyAccount.tier_id == found)
    if cursor:
        balance, after = decode_cursor(cursor, timestamp=False)
        stmt = stmt.where(
            tuple_(LoyaltyAccount.balance, LoyaltyAccount.customer_id) < (int(balance), after)
        )
    rows = session.execute(
        stmt.order_by(LoyaltyAccount.balance.desc(), LoyaltyAccount.customer_id.desc()).limit(
            limit + 1
        )
    ).all()
    items = [
        MemberOut(
            customer_id=r[0], name=r[1], email=r[2], balance=r[3], lifetime_earned=r[4], tier=r[5]
        )
        for r in rows[:limit]
    ]
    last = items[-1] if len(rows) > limit else None
    return Page(
        items=items,
        next_cursor=encode_cursor(last.balance, last.customer_id) if last else None,
    )
