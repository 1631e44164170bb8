from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

from temporalio import workflow
from temporalio.common import RetryPolicy

with workflow.unsafe.imports_passed_through():
    from activities.loyalty import LoyaltyActivities
    from herald.loyalty.schemas import (
        AwardOrderPointsInput,
        LedgerOutcome,
        ReverseOrderPointsInput,
    )

# A ledger write takes milliseconds; a stuck attempt is abandoned and retried. Retries go on
# (a database outage must not lose an award) but back off to one a minute.
LEDGER_WRITE_TIMEOUT = timedelta(seconds=10)
LEDGER_WRITE_RETRY = RetryPolicy(
    initial_interval=timedelta(seconds=1),
    backoff_coefficient=2.0,
    maximum_interval=timedelta(minutes=1),
)


async def _write_ledger(
    activity: Callable[[LoyaltyActivities, Any], LedgerOutcome], data: Any
) -> LedgerOutcome:
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
