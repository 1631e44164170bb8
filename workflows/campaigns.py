"""``CampaignSend``: one run per campaign, from the audience snapshot to the last batch.

An A/B campaign sends its variants to the test group, waits out the test window, picks the
winner, and sends it to the rest. Pause, resume and cancel are signals; the campaign's status
in the database follows the run's state. Very large audiences continue as new runs.
"""

from __future__ import annotations

import asyncio
from datetime import datetime
from typing import Any

from temporalio import workflow
from temporalio.exceptions import ActivityError, ApplicationError, FailureError

with workflow.unsafe.imports_passed_through():
    from activities.campaigns import CampaignActivities
    from herald.campaigns.contracts import (
        CAMPAIGN_WORKFLOW,
        CANCEL_SIGNAL,
        PAUSE_SIGNAL,
        PROGRESS_QUERY,
        RESUME_SIGNAL,
        BatchOutcome,
        CampaignBatch,
        CampaignRef,
        CampaignResult,
        CampaignSendInput,
        CampaignState,
        CampaignStatus,
        HeldRange,
        Phase,
        StatusChange,
    )
    from herald.campaigns.pacing import batch_size, pace
    from workflows.policies import (
        BATCH_HEARTBEAT,
        BATCH_TIMEOUT,
        DB_RETRY,
        DB_TIMEOUT,
        DELIVERY_DEADLINE,
        DELIVERY_RETRY,
    )
    from workflows.timing import changed_before

# Batches in flight at once: one renders while the other waits on the database or the
# provider. More only contend for the worker's interpreter lock (measured: 4 in flight sent
# 945 messages/s, 2 sent 1,076/s; bench/campaign.py).
PARALLEL_BATCHES = 2
# A run hands over this many batches at most before continuing as new (history stays small).
BATCHES_PER_RUN = 400
# Batches between refreshes of the database's statistics (and once early, after five).
STATISTICS_EVERY = 25


@workflow.defn(name=CAMPAIGN_WORKFLOW)
class CampaignSend:
    @workflow.init
    def __init__(self, input: CampaignSendInput) -> None:
        self._input = input
        self._state = input.state or CampaignState()
        self._batches_this_run = 0
        self._batches_in_flight = 0

    # -- signals and query ------------------------------------------------------------------

    @workflow.signal(name=PAUSE_SIGNAL)
    def pause(self) -> None:
        self._state.paused = True

    @workflow.signal(name=RESUME_SIGNAL)
    def resume(self) -> None:
        self._state.paused = False

    @workflow.signal(name=CANCEL_SIGNAL)
    def cancel(self) -> None:
        self._state.cancelled = True

    @workflow.query(name=PROGRESS_QUERY)
    def progress(self) -> CampaignState:
        return self._state

    # -- the run ----------------------------------------------------------------------------

    @workflow.run
    async def run(self, input: CampaignSendInput) -> CampaignResult:
        publisher = asyncio.create_task(self._publish_statuses())
        try:
            return await self._carry_out(publisher)
        except ActivityError as failure:
            # A step failed for good (a domain error, or retries ran out): the campaign says
            # so, and the run fails visibly instead of waiting on a send that cannot go on.
            s = self._state
            cause = failure.cause
            s.failure = cause.message if isinstance(cause, FailureError) else failure.message
            self._show_progress()
            await workflow.wait_condition(
                lambda: s.published is CampaignStatus.failed or publisher.done()
            )
            if s.published is not CampaignStatus.failed:  # the status writer itself failed
                await self._db(CampaignActivities.set_campaign_status, self._status_change())
            raise ApplicationError(
                f"the campaign's send failed: {s.failure}",
                type="CampaignFailed",
                non_retryable=True,
            ) from failure

    async def _carry_out(self, publisher: asyncio.Task[None]) -> CampaignResult:
        s = self._state
        if s.plan is None:
            s.plan = await self._db(CampaignActivities.load_campaign_plan, self._ref())
        plan = s.plan
        if s.phase is Phase.begin:
            if plan.send_at is not None and plan.send_at > workflow.now():
                await self._wait(plan.send_at)
            await self._while_paused()
            if not s.cancelled:
                snapshot = await self._db(
                    CampaignActivities.snapshot_campaign_audience, self._ref()
                )
                s.recipients, s.test_size = snapshot.recipients, snapshot.test_size
                self._show_progress()
                s.phase = Phase.test if s.test_size else Phase.send
        if s.phase is Phase.test:
            await self._send_until(s.test_size)
            s.phase = Phase.window
        if s.phase is Phase.window and not s.cancelled:
            assert plan.ab is not None
            s.window_ends = s.window_ends or workflow.now() + plan.ab.window
            await self._wait(s.window_ends)
            await self._while_paused()
            if not s.cancelled:
                s.winner = await self._db(
                    CampaignActivities.pick_campaign_winner, self._ref(at=workflow.now())
                )
                s.phase = Phase.remainder
        if s.phase in (Phase.remainder, Phase.send):
            await self._send_until(s.recipients)
        s.phase = Phase.done
        self._show_progress()
        final = CampaignStatus.cancelled if s.cancelled else CampaignStatus.completed
        await workflow.wait_condition(lambda: s.published is final)
        publisher.cancel()
        return CampaignResult(
            status=final, recipients=s.recipients, winner=s.winner, by_status=s.by_status
        )

    def _status(self) -> CampaignStatus:
        """The campaign's status as the run's state says it is."""
        s = self._state
        if s.failure is not None:
            return CampaignStatus.failed
        if s.phase is Phase.done:
            return CampaignStatus.cancelled if s.cancelled else CampaignStatus.completed
        if s.cancelled:
            return CampaignStatus.cancelled
        if s.paused and not self._batches_in_flight:  # paused once nothing more goes out
            return CampaignStatus.paused
        if s.phase is Phase.begin:
            send_at = s.plan.send_at if s.plan else None
            later = send_at is not None and send_at > workflow.now()
            return CampaignStatus.scheduled if later else CampaignStatus.running
        return {
            Phase.test: CampaignStatus.running,
            Phase.window: CampaignStatus.testing,
            Phase.remainder: CampaignStatus.sending_winner,
            Phase.send: CampaignStatus.running,
        }[s.phase]

    async def _publish_statuses(self) -> None:
        """The one writer of the campaign's status: records each change of state in order."""
        s = self._state
        await workflow.wait_condition(lambda: s.plan is not None)  # scheduled or running?
        while True:
            await workflow.wait_condition(lambda: self._status() is not s.published)
            change = self._status_change()
            await self._db(CampaignActivities.set_campaign_status, change)
            s.published = change.status
            self._show_progress()

    def _status_change(self) -> StatusChange:
        return StatusChange(
            organization_id=self._input.organization_id,
            campaign_id=self._input.campaign_id,
            status=self._status(),
            reason=self._state.failure,
        )

    async def _wait(self, until: datetime) -> None:
        """Sleep until ``until``; a cancel wakes the run at once."""
        await changed_before(until, lambda: self._state.cancelled)

    async def _while_paused(self) -> None:
        s = self._state
        if s.paused:
            await workflow.wait_condition(lambda: not s.paused or s.cancelled)
            s.paced_since, s.paced_count = None, 0  # resume at the limit, with no burst

    async def _send_until(self, end: int) -> None:
        """Hand positions up to ``end`` over in batches, a few at once, then what quiet hours held."""
        s = self._state
        assert s.plan is not None
        size = batch_size(s.plan.rate_limit_per_s)
        in_flight: set[asyncio.Task[None]] = set()
        while s.next_position < end and not s.cancelled:
            await self._keep_pace()
            await self._while_paused()
            if s.cancelled:
                break
            start, stop = s.next_position, min(end, s.next_position + size)
            s.next_position = stop
            in_flight.add(asyncio.create_task(self._send(start, stop)))
            s.batches += 1
            if s.batches == 5 or s.batches % STATISTICS_EVERY == 0:
                await self._db(CampaignActivities.refresh_send_statistics, self._ref())
            if len(in_flight) >= PARALLEL_BATCHES:
                done, pending = await workflow.wait(in_flight, return_when=asyncio.FIRST_COMPLETED)
                for task in done:
                    task.result()  # a batch that failed for good fails the run
                in_flight = set(pending)
            if self._batches_this_run >= (self._input.batches_per_run or BATCHES_PER_RUN) or (
                workflow.info().is_continue_as_new_suggested()
            ):
                await self._drain(in_flight)
                workflow.continue_as_new(self._input.model_copy(update={"state": s}))
        await self._drain(in_flight)
        while s.held and not s.cancelled:
            s.held.sort(key=lambda h: h.until)
            held = s.held[0]  # listed in the progress while it waits
            await self._wait(held.until)
            await self._while_paused()
            if not s.cancelled:
                s.held.pop(0)
                self._count(held.counted, -1)
                await self._send(held.start, held.end)

    async def _drain(self, in_flight: set[asyncio.Task[None]]) -> None:
        if in_flight:
            await workflow.wait(in_flight)
            for task in in_flight:
                task.result()

    async def _keep_pace(self) -> None:
        s = self._state
        assert s.plan is not None
        if s.plan.rate_limit_per_s is None:
            return
        s.paced_since = s.paced_since or workflow.now()
        due = s.paced_since + pace(s.paced_count, s.plan.rate_limit_per_s)
        if due > workflow.now():
            await workflow.sleep(due - workflow.now())
        s.paced_count += batch_size(s.plan.rate_limit_per_s)

    async def _send(self, start: int, stop: int) -> None:
        s = self._state
        self._batches_this_run += 1
        self._batches_in_flight += 1
        try:
            outcome = await self._send_batch(start, stop)
        finally:
            self._batches_in_flight -= 1
        self._count(outcome.by_status, 1)
        if outcome.held_until is not None:
            s.held.append(
                HeldRange(
                    start=start, end=stop, until=outcome.held_until, counted=outcome.by_status
                )
            )

    async def _send_batch(self, start: int, stop: int) -> BatchOutcome:
        s = self._state
        return await workflow.execute_activity_method(
            CampaignActivities.send_campaign_batch,
            CampaignBatch(
                organization_id=self._input.organization_id,
                campaign_id=self._input.campaign_id,
                start=start,
                end=stop,
                winner=s.winner if s.phase is Phase.remainder else None,
                workflow_time=workflow.now(),
            ),
            start_to_close_timeout=BATCH_TIMEOUT,
            heartbeat_timeout=BATCH_HEARTBEAT,
            summary=f"recipients at positions {start}-{stop - 1}",
            schedule_to_close_timeout=DELIVERY_DEADLINE,
            retry_policy=DELIVERY_RETRY,
        )

    def _count(self, by_status: dict[str, int], sign: int) -> None:
        totals = self._state.by_status
        for status, count in by_status.items():
            totals[status] = totals.get(status, 0) + sign * count
            if not totals[status]:  # a hold that was sent in the end
                del totals[status]
        self._show_progress()

    def _show_progress(self) -> None:
        """Where the send stands, on the run's page in the Temporal UI: counts only."""
        s = self._state
        lines = [
            f"{self._status().value}: {sum(s.by_status.values())} of {s.recipients} "
            "recipients handed over"
        ]
        if s.test_size:
            lines.append(f"test group: {s.test_size}")
        if s.winner:
            lines.append(f"winner: {s.winner}")
        if s.held:
            lines.append(f"held by quiet hours: {sum(h.end - h.start for h in s.held)} positions")
        workflow.set_current_details("\n\n".join(lines))

    def _ref(self, at: datetime | None = None) -> CampaignRef:
        return CampaignRef(
            organization_id=self._input.organization_id,
            campaign_id=self._input.campaign_id,
            at=at,
        )

    async def _db(self, activity: Any, arg: Any) -> Any:
        return await workflow.execute_activity_method(
            activity, arg, start_to_close_timeout=DB_TIMEOUT, retry_policy=DB_RETRY
        )
