"""Hands stored events to Temporal.

Events are committed first and dispatched after, so the API answers 202 even when Temporal is
down. The fast path dispatches right after the commit; a sweeper retries whatever is left.
Starting a workflow twice is harmless: workflow ids are derived from the event's subject and a
duplicate start is treated as success.

A failure stays with its event. Temporal being unreachable delays every event alike and is
retried every few seconds; an event whose start fails is retried with backoff; an event whose
own data makes a reaction fail is parked after a few tries, listed with its error, and
dispatched again when staff retry it. None of them holds up the others.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections import defaultdict
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from sqlalchemy import Select, func, select, update
from temporalio.client import Client

from herald.db import utcnow

if TYPE_CHECKING:  # the type only: the domain sits below the registry
    from herald.database import Database
from herald.events.models import Event
from herald.events.reactions import Action, Reaction, actions_for
from herald.metrics import DISPATCH_LAG, EVENTS_DISPATCHED, EVENTS_FAILED, EVENTS_PARKED
from herald.temporal import WorkflowStart, send_signal, start_run

log = logging.getLogger(__name__)

# Bounded so a 1,000-event batch does not open 1,000 concurrent RPCs.
MAX_CONCURRENT_STARTS = 64
# One organization's share of them: a burst of one leaves the rest to the others.
MAX_CONCURRENT_STARTS_PER_ORGANIZATION = 16
SWEEP_BATCH = 500
# Backoff after an event's own failure: 5 s, 10 s, 20 s ... at most 5 minutes apart.
FIRST_RETRY = timedelta(seconds=5)
LONGEST_RETRY = timedelta(minutes=5)
# A reaction that failed this often on the same event will fail again: park it for staff.
PARK_AFTER = 8
# While Temporal is unreachable every event waits alike, tried again this often (not at every
# sweep: each try rewrites the rows).
OUTAGE_RETRY = timedelta(seconds=5)


def next_retry(attempts: int, now: datetime) -> datetime:
    return now + min(FIRST_RETRY * 2 ** max(attempts - 1, 0), LONGEST_RETRY)


@dataclass(frozen=True)
class Failure:
    error: str
    # True when the event itself is at fault (a reaction rejected its data): parked in the end.
    own: bool


# (event id, its organization, what it sets off)
Loaded = list[tuple[uuid.UUID, uuid.UUID, list[Action]]]


def _describe(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}"[:2000]


def due_events(now: datetime) -> Select[Event]:
    """Up to a batch of events due now, the oldest of each organization first and the
    organizations in turn (round robin), so one burst cannot fill the batch."""
    due = (
        select(
            Event.id,
            func.row_number()
            .over(partition_by=Event.organization_id, order_by=Event.retry_at)
            .label("turn"),
            Event.retry_at,
        )
        .where(Event.dispatched_at.is_(None), Event.retry_at <= now)
        .subquery()
    )
    picked = select(due.c.id).order_by(due.c.turn, due.c.retry_at).limit(SWEEP_BATCH)
    return select(Event).where(Event.id.in_(picked)).order_by(Event.retry_at)


class EventDispatcher:
    def __init__(
        self,
        db: Database,
        client: Callable[[], Awaitable[Client]],
        task_queue: str,
        reactions: Sequence[Reaction],
    ) -> None:
        self._db = db
        self._reactions = reactions
        self._client = client
        self._task_queue = task_queue
        self._limit = asyncio.Semaphore(MAX_CONCURRENT_STARTS)
        self._shares: defaultdict[uuid.UUID, asyncio.Semaphore] = defaultdict(
            lambda: asyncio.Semaphore(MAX_CONCURRENT_STARTS_PER_ORGANIZATION)
        )

    async def _act(self, client: Client, organization_id: uuid.UUID, action: Action) -> None:
        async with self._shares[organization_id], self._limit:
            if isinstance(action, WorkflowStart):
                await start_run(client, self._task_queue, action)
            else:
                await send_signal(client, action)

    async def _dispatch_event(
        self, client: Client, organization_id: uuid.UUID, actions: list[Action]
    ) -> str | None:
        """Start or signal every run the event concerns; the error text if one failed."""
        try:
            await asyncio.gather(*(self._act(client, organization_id, a) for a in actions))
        except Exception as exc:  # Temporal unreachable, timeouts: keep the event for the sweeper
            return _describe(exc)
        return None

    # Database work is synchronous: it runs on a thread so the event loop keeps serving requests.

    def _load(self, query: Select[Event]) -> tuple[Loaded, dict[uuid.UUID, Failure]]:
        """The due events with what each sets off; an event a reaction fails on is set apart
        with its error (the others go ahead)."""
        loaded: Loaded = []
        failures: dict[uuid.UUID, Failure] = {}
        with self._db.system_session() as session:
            for event in session.scalars(query).all():
                event_id, organization_id = event.id, event.organization_id
                try:
                    actions = actions_for(self._reactions, session, event)
                    loaded.append((event_id, organization_id, actions))
                except Exception as exc:
                    session.rollback()  # a failed read must not poison the next event's
                    log.warning("event %s rejected by a reaction", event_id, exc_info=True)
                    failures[event_id] = Failure(_describe(exc), own=True)
        return loaded, failures

    def _mark_dispatched(self, ids: list[uuid.UUID]) -> None:
        with self._db.system_session() as session:
            now = utcnow()
            received = session.scalars(
                update(Event)
                .where(Event.id.in_(ids))
                .values(dispatched_at=now, last_dispatch_error=None, retry_at=None)
                .returning(Event.received_at)  # the lag, from the same statement
            ).all()
            session.commit()
            for received_at in received:
                DISPATCH_LAG.observe((now - received_at).total_seconds())
            EVENTS_DISPATCHED.inc(len(ids))

    def _mark_failed(self, failures: dict[uuid.UUID, Failure], outage: bool) -> None:
        now = utcnow()
        with self._db.system_session() as session:
            for event in session.scalars(select(Event).where(Event.id.in_(list(failures)))):
                failure = failures[event.id]
                event.dispatch_attempts += 1
                event.last_dispatch_error = failure.error
                reason = "outage" if outage else "rejected" if failure.own else "start"
                EVENTS_FAILED.labels(reason).inc()
                if outage:  # nothing wrong with the event: no backoff of its own
                    event.retry_at = now + OUTAGE_RETRY
                elif failure.own and event.dispatch_attempts >= PARK_AFTER:
                    event.retry_at = None
                    EVENTS_PARKED.inc()
                else:
                    event.retry_at = next_retry(event.dispatch_attempts, now)
            session.commit()

    async def dispatch(self, event_ids: Sequence[uuid.UUID]) -> int:
        """Dispatch the given events if still pending; returns how many went out."""
        if not event_ids:
            return 0
        query = select(Event).where(Event.id.in_(event_ids), Event.dispatched_at.is_(None))
        return await self._dispatch(*await asyncio.to_thread(self._load, query))

    async def sweep(self) -> int:
        """Dispatch events whose time has come (left behind by the fast path, or failed
        before), taking organizations in turn so one's backlog does not hold up another's."""
        return await self._dispatch(*await asyncio.to_thread(self._load, due_events(utcnow())))

    async def _dispatch(self, loaded: Loaded, rejected: dict[uuid.UUID, Failure]) -> int:
        if rejected:
            await asyncio.to_thread(self._mark_failed, rejected, False)
        if not loaded:
            return 0
        try:
            client = await self._client()
        except Exception as exc:
            error = Failure(f"Temporal unreachable: {_describe(exc)}", own=False)
            await self._record_failures({event_id: error for event_id, _, _ in loaded}, outage=True)
            return 0
        outcomes = await asyncio.gather(
            *(self._dispatch_event(client, org, actions) for _, org, actions in loaded)
        )
        results = [
            (event_id, error) for (event_id, _, _), error in zip(loaded, outcomes, strict=True)
        ]
        done = [event_id for event_id, error in results if not error]
        failed = {event_id: Failure(error, own=False) for event_id, error in results if error}
        if done:
            await asyncio.to_thread(self._mark_dispatched, done)
        await self._record_failures(failed, outage=False)
        return len(done)

    async def _record_failures(self, failed: dict[uuid.UUID, Failure], outage: bool) -> None:
        if failed:
            log.warning(
                "%d events not dispatched yet: %s", len(failed), next(iter(failed.values())).error
            )
            await asyncio.to_thread(self._mark_failed, failed, outage)

    async def run_sweeper(self, interval_s: float) -> None:
        while True:
            try:
                while await self.sweep() == SWEEP_BATCH:
                    pass  # a backlog: keep draining before sleeping
            except Exception:
                log.exception("event sweep failed")
            await asyncio.sleep(interval_s)
