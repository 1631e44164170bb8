"""``InquiryFollowUp``: one run per inquiry chases it from new to converted or lost."""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta
from typing import Any

from temporalio import workflow
from temporalio.exceptions import ActivityError, ApplicationError

with workflow.unsafe.imports_passed_through():
    from activities.inquiries import InquiryActivities
    from herald.inquiries.contracts import (
        ASSIGN_UPDATE,
        CLOSED,
        CONVERT_UPDATE,
        FOLLOW_UP_WORKFLOW,
        LEAD_RESPONSE_UPDATE,
        LOSE_UPDATE,
        REPLY_UPDATE,
        STATE_QUERY,
        ConvertRequest,
        EmailKind,
        EmailRequest,
        FollowUpInput,
        FollowUpOutcome,
        FollowUpState,
        InquiryStatus,
        Recorded,
        ReplyIn,
        SentEmail,
        Transition,
    )
    from herald.temporal import INQUIRY_STATUS
    from workflows.policies import (
        DB_RETRY,
        DB_TIMEOUT,
        DELIVERY_DEADLINE,
        DELIVERY_RETRY,
        DELIVERY_TIMEOUT,
    )
    from workflows.timing import changed_before

# The statuses each transition may start from; anything else is refused (HTTP 409).
ALLOWED_FROM: dict[str, frozenset[InquiryStatus]] = {
    "assign": frozenset({InquiryStatus.new, InquiryStatus.assigned, InquiryStatus.replied}),
    "reply": frozenset({InquiryStatus.assigned, InquiryStatus.replied}),
    "lead_response": frozenset({InquiryStatus.replied}),
    "convert": frozenset({InquiryStatus.assigned, InquiryStatus.replied}),
    "lose": frozenset({InquiryStatus.new, InquiryStatus.assigned, InquiryStatus.replied}),
}
_WHY_NOT = {
    "reply": "assign the inquiry before replying",
    "lead_response": "the lead can only answer a reply",
    "convert": "assign the inquiry before converting it",
}


def _refuse(transition: str, status: InquiryStatus) -> None:
    if status not in ALLOWED_FROM[transition]:
        reason = _WHY_NOT.get(transition, "") if status not in CLOSED else ""
        raise ApplicationError(
            f"cannot {transition.replace('_', ' ')} an inquiry that is {status.value}"
            + (f": {reason}" if reason else ""),
            type="IllegalTransition",
            non_retryable=True,
        )


@workflow.defn(name=FOLLOW_UP_WORKFLOW)
class InquiryFollowUp:
    """Notifies sales, then waits. Timers remind owners of an unassigned lead, escalate a lead
    nobody answers, nudge a lead who went quiet, and close it as lost when nothing comes of
    it. People move it on through updates, each validated here against the current status."""

    @workflow.init
    def __init__(self, request: FollowUpInput) -> None:
        self._input = request
        self._state = FollowUpState(status=InquiryStatus.new)
        # Timers and updates take turns: each change runs to its end before the next one.
        self._lock = asyncio.Lock()
        self._changes = 0
        # How many times the lead became ours to answer, or theirs: one escalation or nudge each.
        self._turns = 0
        self._records = 0  # numbers the timeline writes, so each is made once

    @workflow.run
    async def run(self, request: FollowUpInput) -> FollowUpOutcome:
        self._show_status()
        async with self._lock:
            sent = await self._email(EmailKind.new_inquiry, "new")
            await self._record("notified", "herald", {"to": [s.to for s in sent]})
        while self._state.status not in CLOSED:
            name, due = self._next_timer()
            self._state.next_timer, self._state.next_timer_at = name, due
            seen = self._changes
            if await changed_before(due, lambda: self._changes):
                continue  # the timers are worked out again for the new status
            async with self._lock:
                # An update may have taken the lock first and made this timer moot.
                if self._changes == seen:
                    await self._fire(name)
        self._state.next_timer = self._state.next_timer_at = None
        await workflow.wait_condition(workflow.all_handlers_finished)
        return FollowUpOutcome(
            status=self._state.status,
            customer_id=self._state.customer_id,
            lost_reason=self._state.lost_reason,
        )

    # -- timers --------------------------------------------------------------------------------

    def _next_timer(self) -> tuple[str, datetime]:
        state, timers, received = self._state, self._input.timers, self._input.received_at
        due = [("lost", received + timers.lost_after)]
        if state.status is InquiryStatus.new and not state.reminded:
            due.append(("unassigned", received + timers.unassigned_reminder))
        if state.status is InquiryStatus.assigned and not state.escalated:
            assert state.sales_owes_since is not None
            due.append(("no_reply", state.sales_owes_since + timers.reply_escalation))
        if state.status is InquiryStatus.replied and not state.nudged:
            assert state.lead_owes_since is not None
            due.append(("nudge", state.lead_owes_since + timers.nudge_after))
        return min(due, key=lambda timer: timer[1])

    async def _fire(self, name: str) -> None:
        timers = self._input.timers
        if name == "unassigned":
            self._state.reminded = True
            sent = await self._email(
                EmailKind.unassigned, "unassigned", waited=timers.unassigned_reminder
            )
            await self._record("reminder", "herald", {"to": [s.to for s in sent]})
        elif name == "no_reply":
            self._state.escalated = True
            sent = await self._email(
                EmailKind.no_reply, f"no-reply-{self._turns}", waited=timers.reply_escalation
            )
            await self._record("escalation", "herald", {"to": [s.to for s in sent]})
        elif name == "nudge":
            self._state.nudged = True
            sent = await self._email(EmailKind.nudge, f"nudge-{self._turns}")
            await self._record("nudge", "herald", {"messages": [str(s.message_id) for s in sent]})
        else:
            days = timers.lost_after.days
            self._state.status = InquiryStatus.lost
            self._state.lost_reason = f"no outcome within {days} day{'s' if days != 1 else ''}"
            await self._record("lost", "herald", {"reason": self._state.lost_reason})

    # -- updates -------------------------------------------------------------------------------

    @workflow.update(name=ASSIGN_UPDATE)
    async def assign(self, change: Transition) -> FollowUpState:
        async with self._lock:
            _refuse("assign", self._state.status)
            assert change.assign is not None
            state = self._state
            state.assignee_id = change.assign.assignee_id
            if state.status is InquiryStatus.new or state.status is InquiryStatus.assigned:
                # A new owner gets a full window before the escalation.
                self._ours()
            await self._record(
                "assigned", change.actor, {"assignee_id": str(change.assign.assignee_id)}
            )
            return self._moved()

    @workflow.update(name=REPLY_UPDATE)
    async def reply(self, change: Transition) -> FollowUpState:
        async with self._lock:
            _refuse("reply", self._state.status)
            assert change.reply is not None
            update = workflow.current_update_info()
            intent = f"reply-{update.id}" if update else f"reply-{self._changes}"
            sent = await self._email(EmailKind.reply, intent, reply=change.reply)
            self._theirs()
            details: dict[str, Any] = {"subject": change.reply.subject}
            if sent:
                details |= {"message_id": str(sent[0].message_id), "status": sent[0].status}
            await self._record("replied", change.actor, details)
            return self._moved()

    @workflow.update(name=LEAD_RESPONSE_UPDATE)
    async def lead_response(self, change: Transition) -> FollowUpState:
        async with self._lock:
            _refuse("lead_response", self._state.status)
            assert change.lead_response is not None
            self._ours()
            await self._record("lead_responded", change.actor, {"note": change.lead_response.note})
            return self._moved()

    @workflow.update(name=CONVERT_UPDATE)
    async def convert(self, change: Transition) -> FollowUpState:
        async with self._lock:
            _refuse("convert", self._state.status)
            assert change.convert is not None
            try:
                customer_id = await workflow.execute_activity_method(
                    InquiryActivities.convert_inquiry,
                    ConvertRequest(
                        organization_id=self._input.organization_id,
                        inquiry_id=self._input.inquiry_id,
                        convert=change.convert,
                    ),
                    start_to_close_timeout=DB_TIMEOUT,
                    retry_policy=DB_RETRY,
                )
            except ActivityError as exc:  # the customer named is gone: the update fails
                raise ApplicationError(str(exc.cause or exc), type="InvalidInput") from exc
            self._state.status = InquiryStatus.converted
            self._state.customer_id = customer_id
            details = {"customer_id": str(customer_id) if customer_id else None}
            await self._record("converted", change.actor, details | {"note": change.convert.note})
            return self._moved()

    @workflow.update(name=LOSE_UPDATE)
    async def lose(self, change: Transition) -> FollowUpState:
        async with self._lock:
            _refuse("lose", self._state.status)
            assert change.lose is not None
            self._state.status = InquiryStatus.lost
            self._state.lost_reason = change.lose.reason
            await self._record("lost", change.actor, {"reason": change.lose.reason})
            return self._moved()

    # Refuse early, before the update enters the history; the handlers check again under the
    # lock, since a timer may have moved the inquiry on in between.
    @assign.validator
    def _may_assign(self, change: Transition) -> None:
        _refuse("assign", self._state.status)

    @reply.validator
    def _may_reply(self, change: Transition) -> None:
        _refuse("reply", self._state.status)

    @lead_response.validator
    def _may_record_response(self, change: Transition) -> None:
        _refuse("lead_response", self._state.status)

    @convert.validator
    def _may_convert(self, change: Transition) -> None:
        _refuse("convert", self._state.status)

    @lose.validator
    def _may_lose(self, change: Transition) -> None:
        _refuse("lose", self._state.status)

    @workflow.query(name=STATE_QUERY)
    def state(self) -> FollowUpState:
        return self._state

    # -- helpers -------------------------------------------------------------------------------

    def _ours(self) -> None:
        """Sales owes the lead an answer from now on."""
        self._state.status = InquiryStatus.assigned
        self._state.sales_owes_since = workflow.now()
        self._state.escalated = False
        self._turns += 1

    def _theirs(self) -> None:
        """The lead has our answer; a nudge follows if they stay quiet."""
        self._state.status = InquiryStatus.replied
        self._state.lead_owes_since = workflow.now()
        self._state.nudged = False
        self._turns += 1

    def _moved(self) -> FollowUpState:
        self._changes += 1
        return self._state.model_copy()

    def _show_status(self) -> None:
        # The Temporal UI lists "every inquiry still new" by this.
        workflow.upsert_search_attributes([INQUIRY_STATUS.value_set(self._state.status.value)])
        workflow.set_current_details(f"Inquiry {self._state.status.value}")

    async def _record(self, kind: str, actor: str, details: dict[str, Any]) -> None:
        self._show_status()
        self._records += 1
        await workflow.execute_activity_method(
            InquiryActivities.record_inquiry,
            Recorded(
                organization_id=self._input.organization_id,
                inquiry_id=self._input.inquiry_id,
                key=f"{self._records:04d}-{kind}",
                at=workflow.now(),
                kind=kind,
                actor=actor,
                state=self._state,
                details=details,
            ),
            start_to_close_timeout=DB_TIMEOUT,
            retry_policy=DB_RETRY,
        )

    async def _email(
        self,
        kind: EmailKind,
        intent: str,
        *,
        waited: timedelta | None = None,
        reply: ReplyIn | None = None,
    ) -> list[SentEmail]:
        return await workflow.execute_activity_method(
            InquiryActivities.send_inquiry_email,
            EmailRequest(
                organization_id=self._input.organization_id,
                inquiry_id=self._input.inquiry_id,
                kind=kind,
                intent=intent,
                assignee_id=self._state.assignee_id,
                reply=reply,
                waited=waited,
                workflow_time=workflow.now(),
            ),
            start_to_close_timeout=DELIVERY_TIMEOUT,
            schedule_to_close_timeout=DELIVERY_DEADLINE,
            retry_policy=DELIVERY_RETRY,
        )
