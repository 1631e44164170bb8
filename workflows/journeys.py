"""JourneyRun: one customer's pass through one journey, interpreted step by step.

The workflow holds no business rules of its own: the definition comes from the version the
customer entered on (recorded in history by the entry activity), every side effect is an
activity, and events arrive as signals. Operators find runs by the search attributes upserted
as the run moves (journey, version, current step).
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any, TypeVar

from temporalio import workflow
from temporalio.exceptions import ActivityError, ApplicationError

with workflow.unsafe.imports_passed_through():
    from activities.journeys import JourneyActivities
    from herald.journeys.contracts import (
        EVENT_SIGNAL,
        EXIT_UPDATE,
        JOURNEY_WORKFLOW,
        MIGRATE_UPDATE,
        PROGRESS_QUERY,
        SKIP_WAIT_UPDATE,
        ConditionRequest,
        EnrollmentStatus,
        EnterRequest,
        FinishRequest,
        JourneyEvent,
        JourneyProgress,
        JourneyRunInput,
        JourneyRunResult,
        PointsRequest,
        ProfileUpdate,
        RateSlotRequest,
        ResumeState,
        RunState,
        SendRequest,
        TimelineEntry,
        VersionRequest,
        WaitRequest,
        WebhookRequest,
        message_intent,
    )
    from herald.journeys.definition import (
        AwardPointsStep,
        BranchStep,
        ExitStep,
        JourneyDefinition,
        RandomSplitStep,
        RateLimitStep,
        SendStep,
        Step,
        UpdateStep,
        WaitForEventStep,
        WaitStep,
        WebhookStep,
        same_shape,
        target,
    )
    from herald.temporal import JOURNEY, JOURNEY_STEP, JOURNEY_VERSION
    from workflows.policies import (
        DB_RETRY,
        DB_TIMEOUT,
        DELIVERY_DEADLINE,
        DELIVERY_RETRY,
        DELIVERY_TIMEOUT,
        WEBHOOK_RETRY,
    )

# Continue as new well before Temporal's limits, at a step boundary.
MAX_HISTORY_EVENTS = 5_000
TIMELINE_KEPT = 100
# workflow.patched ids: each marks an interpreter generation that recorded runs must not see.
# 2: quick database work as local activities; the search attributes show where a run rests
# (upserted before each wait, not at every step), journey key and memo are given at start.
INTERPRETER_2 = "interpreter-2"
In = TypeVar("In")
Out = TypeVar("Out")
SEEN_EVENTS_KEPT = 200


@workflow.defn(name=JOURNEY_WORKFLOW)
class JourneyRun:
    def __init__(self) -> None:
        self._input: JourneyRunInput | None = None
        self._definition: JourneyDefinition | None = None
        self._enrollment_id: uuid.UUID | None = None
        self._version = 0
        self._entered_at: datetime | None = None
        self._step: str | None = None
        self._status: RunState = "entering"
        self._visits: dict[str, int] = {}
        self._timeline: list[TimelineEntry] = []
        self._events: list[JourneyEvent] = []
        self._seen: list[uuid.UUID] = []
        self._exit_reason: str | None = None
        self._skip = False
        self._waiting_until: datetime | None = None
        self._converted_at: datetime | None = None
        self._v2 = False
        # The (step, version) last shown in search attributes.
        self._shown: tuple[str | None, int] | None = None

    # -- what comes in ---------------------------------------------------------------------

    @workflow.signal(name=EVENT_SIGNAL)
    def on_event(self, event: JourneyEvent) -> None:
        if event.id in self._seen:
            return  # the trigger comes as the input and as the start signal; dispatch may repeat
        self._seen = [*self._seen[-SEEN_EVENTS_KEPT:], event.id]
        self._events.append(event)
        self._react(event)

    @workflow.update(name=SKIP_WAIT_UPDATE)
    def skip_wait(self) -> str:
        self._skip = True
        return self._step or ""

    @skip_wait.validator
    def _can_skip(self) -> None:
        if self._waiting_until is None and not self._waiting_for_event():
            raise ApplicationError("the run is not waiting", type="NotWaiting")

    @workflow.update(name=EXIT_UPDATE)
    def exit(self, reason: str) -> str:
        self._exit_reason = self._exit_reason or f"by hand: {reason}"
        return self._exit_reason

    @exit.validator
    def _can_exit(self, reason: str) -> None:
        if self._status not in ("entering", "active"):
            raise ApplicationError(f"the run is {self._status}", type="NotActive")

    @workflow.update(name=MIGRATE_UPDATE)
    async def migrate(self, version: int) -> int:
        """Carry on in ``version`` from the step the run waits in, if that step is there."""
        definition = await self._activity(
            JourneyActivities.load_journey_version,
            VersionRequest(
                organization_id=self._run.organization_id,
                journey_id=self._run.journey_id,
                version=version,
            ),
        )
        assert self._definition is not None and self._step is not None
        here = self._definition.step(self._step)
        there = next((s for s in definition.steps if s.id == self._step), None)
        if there is None or not same_shape(here, there):
            raise ApplicationError(
                f"step {self._step!r} is not in version {version} in the same form",
                type="StepMissing",
            )
        self._definition, self._version = definition, version
        workflow.upsert_search_attributes([JOURNEY_VERSION.value_set(version)])
        self._shown = (self._step, version)
        self._note(f"migrated to version {version}")
        return version

    @migrate.validator
    def _can_migrate(self, version: int) -> None:
        if self._waiting_until is None and not self._waiting_for_event():
            raise ApplicationError("only a waiting run can move", type="NotWaiting")
        if version <= self._version:
            raise ApplicationError(f"the run is on version {self._version}", type="NotNewer")

    @workflow.query(name=PROGRESS_QUERY)
    def progress(self) -> JourneyProgress:
        return JourneyProgress(
            journey=self._input.journey_key if self._input else "",
            version=self._version,
            step=self._step,
            status=self._status,
            waiting_until=self._waiting_until,
            converted_at=self._converted_at,
            timeline=self._timeline,
        )

    def _waiting_for_event(self) -> bool:
        if self._definition is None or self._step is None:
            return False
        return isinstance(self._definition.step(self._step), WaitForEventStep)

    def _react(self, event: JourneyEvent) -> None:
        """Goal and exit events, checked as they arrive."""
        definition = self._definition
        if definition is None or self._entered_at is None:
            return  # still entering: checked once the run knows its version
        goal = definition.goal
        if (
            goal is not None
            and self._converted_at is None
            and goal.matches(event.type, event.properties)
            and event.occurred_at <= self._entered_at + goal.within
        ):
            self._converted_at = event.occurred_at
            self._note(f"converted: {event.type}")
            if goal.exit_on_conversion:
                self._exit_reason = self._exit_reason or f"converted: {event.type}"
        for match in definition.exit_on:
            if match.matches(event.type, event.properties):
                self._exit_reason = self._exit_reason or f"exit event: {event.type}"

    # -- the run ---------------------------------------------------------------------------

    @workflow.run
    async def run(self, run: JourneyRunInput) -> JourneyRunResult:
        self._input = run
        self._v2 = workflow.patched(INTERPRETER_2)
        if run.resume is not None:
            step: str | None = self._restore(run.resume)
        else:
            if run.trigger is not None:
                self._seen.append(run.trigger.id)
            if not await self._enter(run):
                return JourneyRunResult(
                    status="not_entered", reason=self._exit_reason, version=0, converted=False
                )
            assert self._definition is not None
            step = self._definition.steps[0].id
        assert self._definition is not None
        if not self._v2:
            workflow.upsert_search_attributes(
                [JOURNEY.value_set(run.journey_key), JOURNEY_VERSION.value_set(self._version)]
            )
            workflow.upsert_memo({"journey": self._definition.name})
        while step is not None and self._exit_reason is None:
            if self._history_is_long():
                await workflow.wait_condition(workflow.all_handlers_finished)
                workflow.continue_as_new(run.model_copy(update={"resume": self._state(step)}))
            self._at_step(step)
            # Steps report an outcome; where it leads is read from the definition after the
            # step, so a run migrated to a new version mid-wait follows the new graph.
            outcome = await self._run_step(self._definition.step(step))
            step = target(self._definition.step(step), outcome) if outcome else None
        return await self._finish(run)

    async def _enter(self, run: JourneyRunInput) -> bool:
        info = workflow.info()
        entered = await self._activity(
            JourneyActivities.enter_journey,
            EnterRequest(
                organization_id=run.organization_id,
                journey_id=run.journey_id,
                customer_id=run.customer_id,
                workflow_id=info.workflow_id,
                run_id=info.run_id,
                at=workflow.now(),
            ),
        )
        if entered.enrollment_id is None or entered.definition is None:
            self._status = "not_entered"
            self._exit_reason = entered.reason
            self._note(f"not entered: {entered.reason}")
            return False
        self._enrollment_id = entered.enrollment_id
        self._definition = entered.definition
        self._version = entered.version
        self._entered_at = workflow.now()
        self._status = "active"
        self._note(f"entered on version {entered.version}")
        for event in list(self._events):  # arrived while entering
            self._react(event)
        return True

    def _restore(self, state: ResumeState) -> str:
        self._enrollment_id = state.enrollment_id
        self._definition = state.definition
        self._version = state.version
        self._entered_at = state.entered_at
        self._visits = dict(state.visits)
        self._timeline = list(state.timeline)
        self._seen = list(state.seen)
        self._converted_at = state.converted_at
        self._status = "active"
        return state.step

    def _state(self, step: str) -> ResumeState:
        assert self._enrollment_id and self._definition and self._entered_at
        return ResumeState(
            enrollment_id=self._enrollment_id,
            version=self._version,
            definition=self._definition,
            entered_at=self._entered_at,
            step=step,
            visits=self._visits,
            timeline=self._timeline,
            seen=self._seen,
            converted_at=self._converted_at,
        )

    def _history_is_long(self) -> bool:
        info = workflow.info()
        return (
            info.is_continue_as_new_suggested()
            or info.get_current_history_length() > MAX_HISTORY_EVENTS
        )

    async def _finish(self, run: JourneyRunInput) -> JourneyRunResult:
        assert self._enrollment_id is not None
        exited = self._exit_reason is not None
        self._status = "exited" if exited else "completed"
        self._note(self._exit_reason or "completed")
        self._waiting_until = None
        await self._activity(
            JourneyActivities.finish_journey,
            FinishRequest(
                organization_id=run.organization_id,
                enrollment_id=self._enrollment_id,
                status=EnrollmentStatus.exited if exited else EnrollmentStatus.completed,
                reason=self._exit_reason,
                at=workflow.now(),
                converted_at=self._converted_at,
            ),
        )
        return JourneyRunResult(
            status="exited" if exited else "completed",
            reason=self._exit_reason,
            version=self._version,
            converted=self._converted_at is not None,
        )

    def _note(self, what: str) -> None:
        entry = TimelineEntry(at=workflow.now(), step=self._step, what=what)
        self._timeline = [*self._timeline[-(TIMELINE_KEPT - 1) :], entry]

    def _at_step(self, step: str) -> None:
        self._step = step
        self._visits[step] = self._visits.get(step, 0) + 1
        workflow.set_current_details(f"Step '{step}' of version {self._version}")
        if not self._v2:
            workflow.upsert_search_attributes([JOURNEY_STEP.value_set(step)])

    def _show_position(self) -> None:
        """Before a durable wait: let visibility show the step and version the run rests in
        (one upsert per rest, not per step: each is a visibility write on the server)."""
        position = (self._step, self._version)
        if not self._v2 or self._step is None or position == self._shown:
            return
        self._shown = position
        workflow.upsert_search_attributes(
            [
                JOURNEY.value_set(self._run.journey_key),
                JOURNEY_VERSION.value_set(self._version),
                JOURNEY_STEP.value_set(self._step),
            ]
        )

    def _intent(self, step: Step) -> str:
        """Unique per enrollment, step and visit: what makes a send or an award happen once."""
        return message_intent(
            self._run.journey_key, self._enrollment_id, step.id, self._visits[step.id]
        )

    async def _rest(self, until: datetime, *, wake: bool = True) -> None:
        """A durable timer that an exit, or a skip (``wake``), ends early."""
        self._show_position()
        self._waiting_until = until
        workflow.set_current_details(
            f"Step '{self._step}' of version {self._version}: waiting until "
            f"{until:%Y-%m-%d %H:%M} UTC"
        )
        try:
            await workflow.wait_condition(
                lambda: self._exit_reason is not None or (wake and self._skip),
                timeout=max(until - workflow.now(), timedelta(seconds=1)),
            )
        except TimeoutError:
            pass
        finally:
            self._waiting_until = None
        if self._skip:
            self._skip = False
            self._note("wait skipped by hand")

    # -- the steps -------------------------------------------------------------------------

    async def _run_step(self, step: Step) -> str | None:
        """Do the step; its outcome (``next``, ``then``, ``on_timeout``...), None to end."""
        if isinstance(step, SendStep):
            await self._send(step)
            return "next"
        if isinstance(step, WaitStep):
            await self._wait(step)
            return "next"
        if isinstance(step, WaitForEventStep):
            return await self._wait_for_event(step)
        if isinstance(step, BranchStep):
            matched = await self._activity(
                JourneyActivities.check_condition,
                ConditionRequest(
                    organization_id=self._run.organization_id,
                    customer_id=self._run.customer_id,
                    condition=step.condition,
                    at=workflow.now(),
                ),
            )
            self._note("condition met" if matched else "condition not met")
            return "then" if matched else "else"
        if isinstance(step, RandomSplitStep):
            weights = [p.weight for p in step.paths]
            chosen = workflow.random().choices(range(len(step.paths)), weights=weights)[0]
            self._note(f"split: path {chosen + 1} of {len(step.paths)}")
            return f"paths.{chosen}.next"
        if isinstance(step, UpdateStep):
            await self._activity(
                JourneyActivities.update_journey_profile,
                ProfileUpdate(
                    organization_id=self._run.organization_id,
                    customer_id=self._run.customer_id,
                    add_tags=step.add_tags,
                    remove_tags=step.remove_tags,
                    set_attributes=step.set_attributes,
                ),
            )
            self._note("profile updated")
            return "next"
        if isinstance(step, AwardPointsStep):
            points = await self._activity(
                JourneyActivities.award_journey_points,
                PointsRequest(
                    organization_id=self._run.organization_id,
                    customer_id=self._run.customer_id,
                    points=step.points,
                    reason=step.reason,
                    source_id=self._intent(step),
                ),
            )
            self._note(f"awarded {points} points")
            return "next"
        if isinstance(step, WebhookStep):
            await self._webhook(step)
            return "next"
        if isinstance(step, RateLimitStep):
            await self._rate_limit(step)
            return "next"
        assert isinstance(step, ExitStep)
        self._exit_reason = f"exit step: {step.id}"
        return None

    @property
    def _run(self) -> JourneyRunInput:
        assert self._input is not None
        return self._input

    async def _activity(self, method: Callable[[Any, In], Out], request: In) -> Out:
        """Quick database work. Runs from this version on do it as a local activity: no task
        queue round trip and fewer history events per step; older histories replay as recorded."""
        summary = f"step '{self._step}'" if self._step else None
        if self._v2:
            return await workflow.execute_local_activity_method(
                method,
                request,
                start_to_close_timeout=DB_TIMEOUT,
                retry_policy=DB_RETRY,
                summary=summary,
            )
        return await workflow.execute_activity_method(
            method,
            request,
            start_to_close_timeout=DB_TIMEOUT,
            retry_policy=DB_RETRY,
            summary=summary,
        )

    async def _send(self, step: SendStep) -> None:
        trigger = self._run.trigger
        while self._exit_reason is None:
            result = await workflow.execute_activity_method(
                JourneyActivities.send_journey_message,
                SendRequest(
                    organization_id=self._run.organization_id,
                    journey_id=self._run.journey_id,
                    customer_id=self._run.customer_id,
                    template=step.template,
                    idempotency_key=self._intent(step),
                    event=trigger.properties if trigger else {},
                    workflow_time=workflow.now(),
                    event_id=trigger.id if trigger else None,
                ),
                start_to_close_timeout=DELIVERY_TIMEOUT,
                schedule_to_close_timeout=DELIVERY_DEADLINE,
                retry_policy=DELIVERY_RETRY,
            )
            if result.retry_at is None:
                detail = f" ({result.reason})" if result.reason else ""
                self._note(f"{step.channel.value} {step.template}: {result.status}{detail}")
                return
            self._note(f"{step.template} held: {result.reason}")
            await self._rest(result.retry_at, wake=False)

    async def _wait(self, step: WaitStep) -> None:
        if step.duration is not None:
            until: datetime | None = workflow.now() + step.duration
        else:
            until = await self._activity(
                JourneyActivities.resolve_wait,
                WaitRequest(
                    organization_id=self._run.organization_id,
                    customer_id=self._run.customer_id,
                    after=workflow.now(),
                    until_time=step.until_time.isoformat() if step.until_time else None,
                    until_attribute=step.until_attribute,
                    offset_s=step.offset.total_seconds(),
                ),
            )
        if until is None:
            self._note("nothing to wait for")
            return
        self._note(f"waiting until {until.isoformat()}")
        await self._rest(until)

    async def _wait_for_event(self, step: WaitForEventStep) -> str:
        start = len(self._events)
        self._note(f"waiting for {step.event}")

        def arrived() -> bool:
            return any(e for e in self._events[start:] if step.matches(e.type, e.properties))

        self._show_position()
        self._waiting_until = workflow.now() + step.timeout
        try:
            await workflow.wait_condition(
                lambda: arrived() or self._skip or self._exit_reason is not None,
                timeout=step.timeout,
            )
        except TimeoutError:
            pass
        finally:
            self._waiting_until = None
            self._skip = False
        matched = arrived()
        del self._events[:start]  # older events are of no use to later steps
        if matched:
            self._note(f"{step.event} arrived")
            return "on_event"
        self._note(f"no {step.event} in time")
        return "on_timeout"

    async def _webhook(self, step: WebhookStep) -> None:
        body = {
            "journey": self._run.journey_key,
            "version": self._version,
            "step": step.id,
            "customer_id": str(self._run.customer_id),
            "event": self._run.trigger.model_dump(mode="json") if self._run.trigger else None,
        }
        try:
            status = await workflow.execute_activity_method(
                JourneyActivities.post_journey_webhook,
                WebhookRequest(url=str(step.url), body=body),
                start_to_close_timeout=timedelta(seconds=30),
                retry_policy=WEBHOOK_RETRY,
            )
            self._note(f"webhook answered {status}")
        except ActivityError as exc:  # the journey goes on; the timeline says what happened
            self._note(f"webhook failed: {exc.cause or exc}")

    async def _rate_limit(self, step: RateLimitStep) -> None:
        while self._exit_reason is None:
            next_window = await self._activity(
                JourneyActivities.take_rate_slot,
                RateSlotRequest(
                    organization_id=self._run.organization_id,
                    journey_id=self._run.journey_id,
                    step_id=step.id,
                    max_customers=step.max_customers,
                    period_s=step.period.total_seconds(),
                    at=workflow.now(),
                ),
            )
            if next_window is None:
                return
            self._note(f"rate limit full; next window {next_window.isoformat()}")
            await self._rest(next_window, wake=False)
