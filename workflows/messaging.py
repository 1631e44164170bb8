from __future__ import annotations

from datetime import timedelta

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from activities.messaging import MessagingActivities
    from herald.messaging.contracts import SEND_WORKFLOW, DeliveryOutcome, DeliveryRequest
    from workflows.policies import DELIVERY_DEADLINE, DELIVERY_RETRY, DELIVERY_TIMEOUT


@workflow.defn(name=SEND_WORKFLOW)
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
