"""Loyalty use cases that reach past the database (a redemption's run) or need the process's
signed links. The API and the console call these."""

from __future__ import annotations

import contextlib
import uuid
from dataclasses import dataclass

from sqlalchemy.orm import Session
from temporalio.service import RPCError

from herald.customers.service import get_customer
from herald.errors import Conflict, NotFound
from herald.loyalty import analytics, members, rewards, service, tiers
from herald.loyalty.contracts import SETTLED_SIGNAL, RedemptionStatus
from herald.loyalty.members import MemberOut
from herald.loyalty.models import Redemption
from herald.loyalty.schemas import (
    CustomerLoyaltyView,
    LoyaltyAnalytics,
    LoyaltyLinkOut,
    LoyaltySettingsIn,
    LoyaltySettingsOut,
    RedemptionOut,
    RewardCreate,
    RewardOut,
    RewardUpdate,
    TierLadderIn,
    TierLadderOut,
)
from herald.loyalty.triggers import redemption_workflow_id
from herald.messaging.unsubscribe import LOYALTY_VIEW
from herald.organizations.models import Organization
from herald.organizations.public import in_public_org
from herald.pagination import Page
from herald.runtime import Runtime


def redemption_out(redemption: Redemption) -> RedemptionOut:
    return RedemptionOut.model_validate(redemption, from_attributes=True)


async def redeem(
    runtime: Runtime, organization_id: uuid.UUID, customer_id: uuid.UUID, reward_id: uuid.UUID
) -> RedemptionOut:
    """Hold the reward's points and issue its code; the event it records starts the run that
    gives the points back if no order uses the code."""
    redemption, event_id = await runtime.in_org(
        organization_id, lambda s: rewards.reserve(s, customer_id, reward_id)
    )
    runtime.dispatch_soon([event_id])
    return redemption_out(redemption)


async def _end_hold(runtime: Runtime, redemption: Redemption) -> None:
    """Tell the redemption's run it can stop waiting. Best effort: if this is lost, the run's
    expiry finds the code settled and changes nothing."""
    client = await runtime.client()
    run = client.get_workflow_handle(
        redemption_workflow_id(redemption.organization_id, redemption.id)
    )
    with contextlib.suppress(RPCError):
        await run.signal(SETTLED_SIGNAL)


async def confirm_redemption(
    runtime: Runtime, organization_id: uuid.UUID, code: str, order_id: str
) -> RedemptionOut:
    """An order used the code (by code or redemption id); repeating it is harmless."""
    redemption = await runtime.in_org(organization_id, lambda s: rewards.confirm(s, code, order_id))
    await _end_hold(runtime, redemption)
    return redemption_out(redemption)


async def release_redemption(
    runtime: Runtime, organization_id: uuid.UUID, code: str, reason: str
) -> RedemptionOut:
    """Give an unused code back: its points return to the customer."""

    def release(session: Session) -> Redemption:
        redemption = rewards.release(session, code, reason)
        if redemption.status is RedemptionStatus.confirmed:
            raise Conflict(f"the code was used by order {redemption.order_id}")
        return redemption

    redemption = await runtime.in_org(organization_id, release)
    await _end_hold(runtime, redemption)
    return redemption_out(redemption)


async def loyalty_link(
    runtime: Runtime, organization_id: uuid.UUID, customer_id: uuid.UUID
) -> LoyaltyLinkOut:
    """The customer's own loyalty page, signed for them."""

    def slug(session: Session) -> str:
        get_customer(session, customer_id)
        org = session.get(Organization, organization_id)
        assert org is not None
        return org.slug

    url = runtime.links.loyalty_url(
        await runtime.in_org(organization_id, slug), organization_id, customer_id
    )
    return LoyaltyLinkOut(url=url)


async def customer_view(runtime: Runtime, slug: str, token: str) -> CustomerLoyaltyView:
    """A customer's own loyalty account through their signed link: theirs and nothing else."""

    def view(session: Session, org: Organization) -> CustomerLoyaltyView:
        customer_id = runtime.links.read_customer_token(LOYALTY_VIEW, org.id, token)
        if customer_id is None:
            raise NotFound("this link is not valid")
        return analytics.customer_view(session, customer_id)

    return await in_public_org(runtime, slug, view)


# --- what the console's loyalty page reads and changes -----------------------------------


@dataclass(frozen=True)
class Program:
    """The whole program as its page shows it."""

    settings: LoyaltySettingsOut
    ladder: TierLadderOut
    rewards: list[RewardOut]
    analytics: LoyaltyAnalytics


PROGRAM_MONTHS = 12


async def program(runtime: Runtime, organization_id: uuid.UUID) -> Program:
    def read(session: Session) -> Program:
        # The figures first: they read one snapshot, which must be the session's first query.
        figures = analytics.program_analytics(session, PROGRAM_MONTHS)
        return Program(
            settings=service.get_settings(session),
            ladder=tiers.get_ladder(session),
            rewards=[rewards.reward_out(r) for r in rewards.list_rewards(session)],
            analytics=figures,
        )

    return await runtime.in_org(organization_id, read)


async def put_settings(
    runtime: Runtime, organization_id: uuid.UUID, change: LoyaltySettingsIn
) -> LoyaltySettingsOut:
    return await runtime.in_org(organization_id, lambda s: service.put_settings(s, change))


async def put_ladder(
    runtime: Runtime, organization_id: uuid.UUID, ladder: TierLadderIn
) -> TierLadderOut:
    return await runtime.in_org(organization_id, lambda s: tiers.put_ladder(s, ladder))


async def create_reward(
    runtime: Runtime, organization_id: uuid.UUID, data: RewardCreate
) -> RewardOut:
    return await runtime.in_org(
        organization_id, lambda s: rewards.reward_out(rewards.create_reward(s, data))
    )


async def update_reward(
    runtime: Runtime, organization_id: uuid.UUID, reward_id: uuid.UUID, change: RewardUpdate
) -> RewardOut:
    return await runtime.in_org(
        organization_id,
        lambda s: rewards.reward_out(rewards.update_reward(s, reward_id, change)),
    )


async def member_page(
    runtime: Runtime,
    organization_id: uuid.UUID,
    q: str | None,
    tier: str | None,
    cursor: str | None,
    limit: int = 50,
) -> Page[MemberOut]:
    return await runtime.in_org(
        organization_id, lambda s: members.member_page(s, q, tier, limit=limit, cursor=cursor)
    )
