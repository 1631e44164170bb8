"""Birthday rewards: a daily sweep (started by a Temporal Schedule) and one run per customer
and year."""

from __future__ import annotations

from temporalio import workflow
from temporalio.common import WorkflowIDReusePolicy

with workflow.unsafe.imports_passed_through():
    from activities.loyalty import BirthdayActivities
    from herald.loyalty.contracts import (
        BIRTHDAY_SWEEP_WORKFLOW,
        BIRTHDAY_WORKFLOW,
        BirthdayQuery,
        BirthdayRewardInput,
        BirthdayRewardOutcome,
        BirthdaySweepInput,
        BirthdaySweepOutcome,
        birthday_message_key,
        birthday_workflow_id,
    )
    from herald.messaging.contracts import SEND_WORKFLOW, DeliveryRequest, send_workflow_id
    from herald.temporal import run_search_attributes
    from workflows.fanout import start_abandoned, start_each
    from workflows.messaging import SendMessage
    from workflows.policies import DB_RETRY, DB_TIMEOUT
    from workflows.timing import scheduled_or_now

# Reward runs started at once; a page of the lookup is several of these.
START_CONCURRENCY = 100


@workflow.defn(name=BIRTHDAY_SWEEP_WORKFLOW)
class BirthdayRewards:
    """Finds whose birthday it is (each in their own time zone) and starts one
    ``BirthdayReward`` per customer and year. A second sweep of the same day starts nothing
    new: the reward's workflow id (and the ledger's key) is customer and year."""

    @workflow.run
    async def run(self, sweep: BirthdaySweepInput) -> BirthdaySweepOutcome:
        at = sweep.at or scheduled_or_now()
        after, found, started = sweep.after, sweep.found, sweep.started
        while True:
            page = await workflow.execute_activity_method(
                BirthdayActivities.find_birthdays,
                BirthdayQuery(at=at, organization_id=sweep.organization_id, after=after),
                start_to_close_timeout=DB_TIMEOUT,
                retry_policy=DB_RETRY,
            )
            found += len(page.rewards)
            started += await start_each(page.rewards, self._start, START_CONCURRENCY)
            if page.after is None:
                return BirthdaySweepOutcome(at=at, found=found, started=started)
            after = page.after
            if workflow.info().is_continue_as_new_suggested():
                workflow.continue_as_new(
                    sweep.model_copy(
                        update={"at": at, "after": after, "found": found, "started": started}
                    )
                )

    @staticmethod
    async def _start(reward: BirthdayRewardInput) -> int:
        # Skipped (0) when rewarded already this year, or being rewarded now. The sweep spans
        # organizations: each reward is queued under its own.
        return await start_abandoned(
            BirthdayReward.run,
            reward,
            workflow_id=birthday_workflow_id(reward),
            id_reuse_policy=WorkflowIDReusePolicy.REJECT_DUPLICATE,
            search_attributes=run_search_attributes(
                BIRTHDAY_WORKFLOW, str(reward.organization_id), str(reward.customer_id)
            ),
            summary=f"Birthday reward of {reward.year} for one customer",
            organization_id=reward.organization_id,
        )


@workflow.defn(name=BIRTHDAY_WORKFLOW)
class BirthdayReward:
    """One customer's birthday of one year: the points, then the message (which waits out
    quiet hours in its own ``SendMessage`` run)."""

    @workflow.run
    async def run(self, reward: BirthdayRewardInput) -> BirthdayRewardOutcome:
        prepared = await workflow.execute_activity_method(
            BirthdayActivities.prepare_birthday,
            reward,
            start_to_close_timeout=DB_TIMEOUT,
            retry_policy=DB_RETRY,
        )
        key = birthday_message_key(reward)
        sent = await workflow.execute_child_workflow(
            SendMessage.run,
            DeliveryRequest(
                idempotency_key=key,
                customer_id=reward.customer_id,
                organization_id=reward.organization_id,
                template_id=prepared.template_id,
                event={
                    "points": prepared.points,
                    "year": reward.year,
                    "code": prepared.code,
                    "reward": prepared.reward,
                },
            ),
            id=send_workflow_id(reward.organization_id, key),
            search_attributes=run_search_attributes(
                SEND_WORKFLOW, str(reward.organization_id), str(reward.customer_id)
            ),
            static_summary=f"Birthday message of {reward.year}",
        )
        return BirthdayRewardOutcome(
            points=prepared.points,
            balance=prepared.balance,
            message_status=sent.status.value,
            message_reason=sent.reason,
        )
