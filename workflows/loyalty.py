from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from activities.loyalty import ExpiryActivities, LoyaltyActivities
    from herald.loyalty.contracts import (
        AWARD_WORKFLOW,
        EXPIRY_SWEEP_WORKFLOW,
        REDEMPTION_WORKFLOW,
        REFERRAL_WORKFLOW,
        REVERSE_WORKFLOW,
        SETTLED_SIGNAL,
        TIER_CHANGED_SIGNAL,
        TIER_REVIEW_WORKFLOW,
        AwardOrderPointsInput,
        ExpiryBatch,
        ExpiryQuery,
        ExpirySweepInput,
        ExpirySweepOutcome,
        LedgerOutcome,
        RedemptionExpiry,
        RedemptionHold,
        RedemptionStatus,
        ReferralRewardInput,
        ReverseOrderPointsInput,
        TierMember,
        TierReviewRequest,
    )
    from workflows.policies import (
        DB_RETRY,
        DB_TIMEOUT,
        LEDGER_WRITE_TIMEOUT,
        SWEEP_HEARTBEAT,
        SWEEP_TIMEOUT,
    )
    from workflows.timing import changed_before, scheduled_or_now

In = TypeVar("In")
Out = TypeVar("Out")


async def _write_ledger(activity: Callable[[LoyaltyActivities, In], Out], data: In) -> Out:
    return await workflow.execute_activity_method(
        activity, data, start_to_close_timeout=LEDGER_WRITE_TIMEOUT, retry_policy=DB_RETRY
    )


@workflow.defn(name=AWARD_WORKFLOW)
class AwardOrderPoints:
    """Points for one paid order. The workflow id is derived from the order, so it runs once."""

    @workflow.run
    async def run(self, data: AwardOrderPointsInput) -> LedgerOutcome:
        return await _write_ledger(LoyaltyActivities.award_order_points, data)


@workflow.defn(name=REVERSE_WORKFLOW)
class ReverseOrderPoints:
    """Takes back the points of a refunded order, once."""

    @workflow.run
    async def run(self, data: ReverseOrderPointsInput) -> LedgerOutcome:
        return await _write_ledger(LoyaltyActivities.reverse_order_points, data)


@workflow.defn(name=REFERRAL_WORKFLOW)
class ReferralReward:
    """A referred customer's first paid order: points for both, once (the id is the
    referral's)."""

    @workflow.run
    async def run(self, request: ReferralRewardInput) -> None:
        await _write_ledger(LoyaltyActivities.reward_referral, request)


@workflow.defn(name=REDEMPTION_WORKFLOW)
class RewardRedemption:
    """Holds a redeemed reward's points while its code waits for an order. When the code is
    used or given back (through the API, which signals ``settled``) the run ends; when the hold
    runs out first, the points come back."""

    def __init__(self) -> None:
        self._settled = False

    @workflow.run
    async def run(self, hold: RedemptionHold) -> RedemptionStatus | None:
        # The signal may have come with the start, before this line.
        if self._settled or await changed_before(hold.expires_at, lambda: self._settled):
            return None  # used or given back: nothing left to hold
        expiry = RedemptionExpiry(
            organization_id=hold.organization_id,
            redemption_id=hold.redemption_id,
            due=workflow.now(),
        )
        return await _write_ledger(LoyaltyActivities.expire_redemption, expiry)

    @workflow.signal(name=SETTLED_SIGNAL)
    def settled(self) -> None:
        self._settled = True


@workflow.defn(name=TIER_REVIEW_WORKFLOW)
class TierReview:
    """One per member with a tier: sleeps until the end of the member's period in it, then
    reviews (keep, or move down to what they still reach). A new tier (an upgrade) signals it,
    starting the period over."""

    def __init__(self) -> None:
        self._changes = 0

    @workflow.run
    async def run(self, member: TierMember) -> str | None:
        while True:
            outcome = await _write_ledger(
                LoyaltyActivities.review_tier,
                TierReviewRequest(**member.model_dump(), at=workflow.now()),
            )
            if outcome.next_review is None:
                return outcome.tier  # no tier left to review
            # An upgrade in the meantime starts a new period: the review date is asked again.
            await changed_before(outcome.next_review, lambda: self._changes)
            if workflow.info().is_continue_as_new_suggested():
                workflow.continue_as_new(member)

    @workflow.signal(name=TIER_CHANGED_SIGNAL)
    def tier_changed(self) -> None:
        self._changes += 1


@workflow.defn(name=EXPIRY_SWEEP_WORKFLOW)
class ExpirePoints:
    """The daily expiry sweep: for each organization whose points expire, the customers with
    points due (or due soon), a page at a time; each page expires and announces in one
    heartbeating activity."""

    @workflow.run
    async def run(self, sweep: ExpirySweepInput) -> ExpirySweepOutcome:
        at = sweep.at or scheduled_or_now()
        if sweep.organization_id is not None:
            organizations = [sweep.organization_id]
        else:
            organizations = await workflow.execute_activity_method(
                ExpiryActivities.organizations_with_expiry,
                start_to_close_timeout=DB_TIMEOUT,
                retry_policy=DB_RETRY,
            )
        total = ExpirySweepOutcome(at=at, customers=0, expired=0, announced=0)
        for organization_id in organizations:
            after = None
            while True:
                page = await workflow.execute_activity_method(
                    ExpiryActivities.find_expiring,
                    args=[organization_id, ExpiryQuery(at=at, after=after)],
                    start_to_close_timeout=DB_TIMEOUT,
                    retry_policy=DB_RETRY,
                )
                if page.customer_ids:
                    done = await workflow.execute_activity_method(
                        ExpiryActivities.expire_points,
                        ExpiryBatch(
                            organization_id=organization_id, customer_ids=page.customer_ids, at=at
                        ),
                        start_to_close_timeout=SWEEP_TIMEOUT,
                        heartbeat_timeout=SWEEP_HEARTBEAT,
                        retry_policy=DB_RETRY,
                    )
                    total.customers += len(page.customer_ids)
                    total.expired += done.expired
                    total.announced += done.announced
                if page.after is None:
                    break
                after = page.after
        return total
