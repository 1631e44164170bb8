from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Depends, Query
from sqlalchemy.orm import Session

from api.deps import PageCursor, PageLimit, get_runtime, org_session, require
from api.ratelimit import link_limit
from herald.access.permissions import Permission
from herald.access.service import Principal
from herald.loyalty import actions, analytics, members, referrals, rewards, service, tiers
from herald.loyalty.contracts import LedgerOutcome
from herald.loyalty.members import MemberOut
from herald.loyalty.schemas import (
    AdjustmentIn,
    ConfirmRedemptionIn,
    CustomerLoyaltyView,
    LoyaltyAnalytics,
    LoyaltyLinkOut,
    LoyaltySettingsIn,
    LoyaltySettingsOut,
    RedeemIn,
    RedemptionOut,
    ReferralCodeOut,
    ReferralOut,
    ReferredByIn,
    ReleaseRedemptionIn,
    RewardCreate,
    RewardOut,
    RewardUpdate,
    TierLadderIn,
    TierLadderOut,
)
from herald.pagination import Page
from herald.runtime import Runtime

router = APIRouter(prefix="/v1/loyalty", tags=["loyalty"])


@router.get("/settings", response_model=LoyaltySettingsOut)
def get_settings(
    _: Principal = Depends(require(Permission.loyalty_read)),
    session: Session = Depends(org_session),
) -> LoyaltySettingsOut:
    return service.get_settings(session)


@router.put("/settings", response_model=LoyaltySettingsOut, summary="Set the earning rate (owner)")
def put_settings(
    body: LoyaltySettingsIn,
    _: Principal = Depends(require(Permission.loyalty_configure)),
    session: Session = Depends(org_session),
) -> LoyaltySettingsOut:
    return service.put_settings(session, body)


@router.get(
    "/members",
    response_model=Page[MemberOut],
    summary="Members by balance, highest first; by name, email or phone (q) and tier "
    "(a tier's name, or (none))",
)
def list_members(
    q: str | None = Query(default=None, max_length=200),
    tier: str | None = Query(default=None, max_length=100),
    limit: PageLimit = 50,
    cursor: PageCursor = None,
    _: Principal = Depends(require(Permission.loyalty_read)),
    session: Session = Depends(org_session),
) -> Page[MemberOut]:
    return members.member_page(session, q, tier, limit=limit, cursor=cursor)


@router.get("/tiers", response_model=TierLadderOut)
def get_tiers(
    _: Principal = Depends(require(Permission.loyalty_read)),
    session: Session = Depends(org_session),
) -> TierLadderOut:
    return tiers.get_ladder(session)


@router.put(
    "/tiers",
    response_model=TierLadderOut,
    summary="Set the tier ladder (owner): what qualifies (points earned or amount spent in a "
    "rolling period) and each tier's earning multiplier. Upgrades are immediate, downgrades "
    "wait for the member's review at the end of each period",
)
def put_tiers(
    body: TierLadderIn,
    _: Principal = Depends(require(Permission.loyalty_configure)),
    session: Session = Depends(org_session),
) -> TierLadderOut:
    return tiers.put_ladder(session, body)


# -- rewards catalog ---------------------------------------------------------------------------


@router.get("/rewards", response_model=list[RewardOut])
def list_rewards(
    active: bool = False,
    _: Principal = Depends(require(Permission.loyalty_read)),
    session: Session = Depends(org_session),
) -> list[RewardOut]:
    return [rewards.reward_out(r) for r in rewards.list_rewards(session, active_only=active)]


@router.post("/rewards", status_code=201, response_model=RewardOut, summary="Add a reward (owner)")
def create_reward(
    body: RewardCreate,
    _: Principal = Depends(require(Permission.loyalty_configure)),
    session: Session = Depends(org_session),
) -> RewardOut:
    return rewards.reward_out(rewards.create_reward(session, body))


@router.patch(
    "/rewards/{reward_id}",
    response_model=RewardOut,
    summary="Change a reward's cost, stock, limit or availability (owner); issued codes keep "
    "what they cost",
)
def update_reward(
    reward_id: uuid.UUID,
    body: RewardUpdate,
    _: Principal = Depends(require(Permission.loyalty_configure)),
    session: Session = Depends(org_session),
) -> RewardOut:
    return rewards.reward_out(rewards.update_reward(session, reward_id, body))


# -- redemption and adjustments ----------------------------------------------------------------

customer_loyalty = APIRouter(prefix="/v1", tags=["loyalty"])


@customer_loyalty.post(
    "/customers/{customer_id}/redemptions",
    status_code=201,
    response_model=RedemptionOut,
    summary="Spend points on a reward: the points are held and a code issued; an order "
    "confirms the code, or the points come back when the hold runs out",
)
async def redeem(
    customer_id: uuid.UUID,
    body: RedeemIn,
    principal: Principal = Depends(require(Permission.loyalty_redeem)),
    runtime: Runtime = Depends(get_runtime),
) -> RedemptionOut:
    return await actions.redeem(runtime, principal.organization_id, customer_id, body.reward_id)


@customer_loyalty.get(
    "/customers/{customer_id}/redemptions",
    response_model=Page[RedemptionOut],
    summary="Newest first",
)
def list_redemptions(
    customer_id: uuid.UUID,
    limit: PageLimit = 50,
    cursor: PageCursor = None,
    _: Principal = Depends(require(Permission.loyalty_read)),
    session: Session = Depends(org_session),
) -> Page[RedemptionOut]:
    rows, next_cursor = rewards.list_redemptions(session, customer_id, limit=limit, cursor=cursor)
    return Page(items=[actions.redemption_out(r) for r in rows], next_cursor=next_cursor)


@customer_loyalty.post(
    "/redemptions/{code}/confirm",
    response_model=RedemptionOut,
    summary="An order used the code (by code or redemption id); repeating it is harmless",
)
async def confirm_redemption(
    code: str,
    body: ConfirmRedemptionIn,
    principal: Principal = Depends(require(Permission.loyalty_redeem)),
    runtime: Runtime = Depends(get_runtime),
) -> RedemptionOut:
    return await actions.confirm_redemption(runtime, principal.organization_id, code, body.order_id)


@customer_loyalty.post(
    "/redemptions/{code}/release",
    response_model=RedemptionOut,
    summary="Give an unused code back: its points return to the customer",
)
async def release_redemption(
    code: str,
    body: ReleaseRedemptionIn,
    principal: Principal = Depends(require(Permission.loyalty_redeem)),
    runtime: Runtime = Depends(get_runtime),
) -> RedemptionOut:
    return await actions.release_redemption(runtime, principal.organization_id, code, body.reason)


@customer_loyalty.post(
    "/customers/{customer_id}/points/adjustments",
    status_code=201,
    response_model=LedgerOutcome,
    summary="Correct a balance by hand (owner): a ledger entry with the reason and the key "
    "that made it; the balance cannot go below zero",
)
def adjust_points(
    customer_id: uuid.UUID,
    body: AdjustmentIn,
    principal: Principal = Depends(require(Permission.loyalty_adjust)),
    session: Session = Depends(org_session),
) -> LedgerOutcome:
    return rewards.adjust(session, customer_id, body, principal.actor)


@customer_loyalty.get(
    "/customers/{customer_id}/referral-code",
    response_model=ReferralCodeOut,
    summary="The customer's code to hand to friends (made on first request)",
)
def get_referral_code(
    customer_id: uuid.UUID,
    _: Principal = Depends(require(Permission.loyalty_read)),
    session: Session = Depends(org_session),
) -> ReferralCodeOut:
    code = referrals.referral_code(session, customer_id)
    return ReferralCodeOut(customer_id=code.customer_id, code=code.code)


@customer_loyalty.post(
    "/customers/{customer_id}/referred-by",
    status_code=201,
    response_model=ReferralOut,
    summary="A new customer came with a friend's code: both earn the referral points when "
    "this customer's first order is paid. Oneself, circles and customers who have ordered "
    "already are refused",
)
def referred_by(
    customer_id: uuid.UUID,
    body: ReferredByIn,
    _: Principal = Depends(require(Permission.events_write)),
    session: Session = Depends(org_session),
) -> ReferralOut:
    referral = referrals.refer(session, customer_id, body.code)
    return ReferralOut.model_validate(referral, from_attributes=True)


@router.get(
    "/analytics",
    response_model=LoyaltyAnalytics,
    summary="Members per tier; points issued, redeemed and expired per month; the redemption "
    "rate; the points outstanding",
)
def get_analytics(
    months: Annotated[int, Query(ge=1, le=36)] = 12,
    _: Principal = Depends(require(Permission.loyalty_read)),
    session: Session = Depends(org_session),
) -> LoyaltyAnalytics:
    return analytics.program_analytics(session, months)


@customer_loyalty.get(
    "/customers/{customer_id}/loyalty-link",
    response_model=LoyaltyLinkOut,
    summary="The customer's own loyalty page, signed for them (for an email or the shop's "
    "account page): their balance, tier, history, codes and rewards, nothing else",
)
async def get_loyalty_link(
    customer_id: uuid.UUID,
    principal: Principal = Depends(require(Permission.loyalty_read)),
    runtime: Runtime = Depends(get_runtime),
) -> LoyaltyLinkOut:
    return await actions.loyalty_link(runtime, principal.organization_id, customer_id)


@customer_loyalty.get(
    "/public/{slug}/loyalty/{token}",
    response_model=CustomerLoyaltyView,
    dependencies=[Depends(link_limit)],
    tags=["public"],
    summary="A customer's own loyalty account, through their signed link (public)",
)
async def customer_loyalty_view(
    slug: str, token: str, runtime: Runtime = Depends(get_runtime)
) -> CustomerLoyaltyView:
    return await actions.customer_view(runtime, slug, token)
