"""Referral: each customer's code, who brought whom (never oneself, never in a circle), and
the points both get, once, when the new customer's first order is paid."""

from __future__ import annotations

import secrets
import uuid

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from herald.customers.service import get_customer
from herald.db import commit_or_conflict, utcnow
from herald.errors import Conflict, InvalidInput, NotFound
from herald.events.models import ORDER_PAID
from herald.loyalty.contracts import ReferralRewardInput
from herald.loyalty.models import LedgerEntry, Referral, ReferralCode
from herald.loyalty.rewards import CODE_ALPHABET
from herald.loyalty.service import award_points, get_settings

REFERRAL_SOURCE = "referral"


def referral_code(session: Session, customer_id: uuid.UUID) -> ReferralCode:
    """The customer's code, made on first request."""
    get_customer(session, customer_id)
    found = session.get(ReferralCode, customer_id)
    if found is not None:
        return found
    code = ReferralCode(
        customer_id=customer_id, code="".join(secrets.choice(CODE_ALPHABET) for _ in range(8))
    )
    session.add(code)
    try:
        session.commit()
    except IntegrityError:  # asked twice at once (or, rarely, the same code): read it back
        session.rollback()
        return referral_code(session, customer_id)
    return code


def refer(session: Session, referred_id: uuid.UUID, code: str) -> Referral:
    """Record that ``code``'s owner brought this customer."""
    get_customer(session, referred_id)
    owner = session.scalar(
        select(ReferralCode.customer_id).where(ReferralCode.code == code.strip().upper())
    )
    if owner is None:
        raise InvalidInput("no such referral code", field="code")
    if owner == referred_id:
        raise InvalidInput("a customer cannot refer themselves", field="code")
    # Up the referrer's chain: finding the new customer there would close a circle.
    ancestor: uuid.UUID | None = owner
    while ancestor is not None:
        ancestor = session.scalar(
            select(Referral.referrer_id).where(Referral.referred_id == ancestor)
        )
        if ancestor == referred_id:
            raise InvalidInput("this customer brought the code's owner: no circles", field="code")
    if session.scalar(select(Referral.id).where(Referral.referred_id == referred_id)):
        raise Conflict("this customer was referred already")
    ordered = session.scalar(
        select(LedgerEntry.id).where(
            LedgerEntry.customer_id == referred_id, LedgerEntry.source == ORDER_PAID
        )
    )
    if ordered is not None:
        raise Conflict("this customer has ordered already: referral is for new customers")
    referral = Referral(referrer_id=owner, referred_id=referred_id)
    session.add(referral)
    # Referred at the same moment by someone else: the second is refused.
    commit_or_conflict(session, "this customer was referred already")
    return referral


def pending_referral(
    session: Session, organization_id: uuid.UUID, customer_id: uuid.UUID
) -> Referral | None:
    """The customer's referral still waiting for their first order (a system session)."""
    return session.scalar(
        select(Referral).where(
            Referral.organization_id == organization_id,
            Referral.referred_id == customer_id,
            Referral.rewarded_at.is_(None),
        )
    )


def reward_referral(session: Session, request: ReferralRewardInput) -> Referral:
    """Both customers' points, once each (the ledger's keys), then the referral closed."""
    referral = session.get(Referral, request.referral_id)
    if referral is None:
        raise NotFound("no such referral")
    if referral.rewarded_at is not None:
        return referral
    settings = get_settings(session)
    for customer_id, points, role in (
        (referral.referrer_id, settings.referral_points_referrer, "referrer"),
        (referral.referred_id, settings.referral_points_referred, "referred"),
    ):
        if points > 0:
            award_points(
                session,
                customer_id,
                points,
                REFERRAL_SOURCE,
                f"{referral.id}/{role}",
                {"referral_id": str(referral.id), "as": role, "order_id": request.order_id},
            )
    referral = session.get(Referral, request.referral_id)
    assert referral is not None
    referral.rewarded_at = utcnow()
    referral.order_id = request.order_id
    session.commit()
    return referral
