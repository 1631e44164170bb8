from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import TypeVar

from temporalio import workflow
from temporalio.common import RetryPolicy

with workflow.unsafe.imports_passed_through():
    from activities.loyalty import LoyaltyActivities
    from herald.loyalty.models import RedemptionStatus
    from herald.loyalty.schemas import (
        AwardOrderPointsInput,
        LedgerOutcome,
        RedemptionExpiry,
        RedemptionHold,
        ReverseOrderPointsInput,
    )

In = TypeVar("In")
Out = TypeVar("Out")

# A ledger write takes milliseconds; a stuck attempt is abandoned and retried. Retries go on
# (a database outage must not lose an award) but back off to one a minute.
LEDGER_WRITE_TIMEOUT = timedelta(seconds=10)
LEDGER_WRITE_RETRY = RetryPolicy(
    initial_interval=timedelta(seconds=1),
    backoff_coefficient=2.0,
    maximum_interval=timedelta(minutes=1),
)


async def _write_ledger(activity: Callable[[LoyaltyActivities, In], Out], data: In) -> Out:
    return await workflow.execute_activity_method(
        activity, data, start_to_close_timeout=LEDGER_WRITE_TIMEOUT, retry_policy=LEDGER_WRITE_RETRY
    )


@workflow.defn
class AwardOrderPoints:
    """Points for one paid order. The workflow id is derived from the order, so it runs once."""

    @workflow.run
    async def run(self, data: AwardOrderPointsInput) -> LedgerOutcome:
        return await _write_ledger(LoyaltyActivities.award_order_points, data)


@workflow.defn
class ReverseOrderPoints:
    """Takes back the points of a refunded order, once."""

    @workflow.run
    async def run(self, data: ReverseOrderPointsInput) -> LedgerOutcome:
        return await _write_ledger(LoyaltyActivities.reverse_order_points, data)


@workflow.defn
class RewardRedemption:
    """Holds a redeemed reward's points while its code waits for an order. When the code is
    used or given back (through the API, which signals ``settled``) the run ends; when the hold
    runs out first, the points come back."""

    def __init__(self) -> None:
        self._settled = False

    @workflow.run
    async def run(self, hold: RedemptionHold) -> RedemptionStatus | None:
        wait = hold.expires_at - workflow.now()
        if wait > timedelta(0):
            try:
                await workflow.wait_condition(lambda: self._settled, timeout=wait)
                return None  # used or given back: nothing left to hold
            except TimeoutError:
                pass
        expiry = RedemptionExpiry(
            organization_id=hold.organization_id,
            redemption_id=hold.redemption_id,
            due=workflow.now(),
        )
        return await _write_ledger(LoyaltyActivities.expire_redemption, expiry)

    @workflow.signal
    def settled(self) -> None:
        self._settled = True
