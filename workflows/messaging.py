from __future__ import annotations

from datetime import timedelta

from temporalio import workflow
from temporalio.common import RetryPolicy

with workflow.unsafe.imports_passed_through():
    from activities.messaging import MessagingActivities
    from herald.messaging.delivery import DeliveryOutcome, DeliveryRequest

# Providers throttle and fail transiently; keep trying for a day, never faster than they allow.
DELIVERY_TIMEOUT = timedelta(seconds=30)
DELIVERY_RETRY = RetryPolicy(
    initial_interval=timedelta(seconds=2),
    backoff_coefficient=2.0,
    maximum_interval=timedelta(minutes=5),
)
DELIVERY_DEADLINE = timedelta(days=1)


@workflow.defn
class SendMessage:
    """One message to one recipient, under a workflow id derived from the intent."""

    @workflow.run
    async def run(self, request: DeliveryRequest) -> DeliveryOutcome:
        while True:
            outcome = await workflow.execute_activity_method(
                MessagingActivities.deliver_message,
                request.model_copy(update={"workflow_time": workflow.now()}),
                start_to_close_timeout=DELIVERY_TIMEOUT,
                schedule_to_close_timeout=DELIVERY_DEADLINE,
                retry_policy=DELIVERY_RETRY,
            )
            if outcome.deferred_until is None:
                return outcome
            # Quiet hours: a durable timer holds the message; the rules are checked again after.
            await workflow.sleep(max(outcome.deferred_until - workflow.now(), timedelta(seconds=1)))
