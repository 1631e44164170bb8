"""Hands stored events to Temporal.

Events are committed first and dispatched after, so the API answers 202 even when Temporal is
down. The fast path dispatches right after the commit; a sweeper retries whatever is left.
Starting a workflow twice is harmless: workflow ids are derived from the event's subject and a
duplicate start is treated as success.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import Awaitable, Callable, Sequence
from datetime import timedelta
from typing import TYPE_CHECKING

from sqlalchemy import Select, Update, select, update
from temporalio.client import Client

from herald.db import utcnow

if TYPE_CHECKING:  # the type only: the domain sits below the registry
    from herald.database import Database
from herald.events.models import Event
from herald.events.reactions import Action, Reaction, actions_for
from herald.temporal import WorkflowStart, send_signal, start_run

log = logging.getLogger(__name__)

# Bounded so a 1,000-event batch does not open 1,000 concurrent RPCs.
MAX_CONCURRENT_STARTS = 64
SWEEP_BATCH = 500
# The fast path owns fresh events; the sweeper only takes those it left behind.
SWEEP_GRACE = timedelta(seconds=3)


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

    async def _act(self, client: Client, action: Action) -> None:
        async with self._limit:
            if isinstance(action, WorkflowStart):
                await start_run(client, self._task_queue, action)
            else:
                await send_signal(client, action)

    async def _dispatch_event(self, client: Client, actions: list[Action]) -> str | None:
        """Start or signal every run the event concerns; the error text if one failed."""
        try:
            await asyncio.gather(*(self._act(client, a) for a in actions))
        except Exception as exc:  # Temporal unreachable, timeouts: keep the event for the sweeper
            return f"{type(exc).__name__}: {exc}"[:2000]
        return None

    # Database work is synchronous: it runs on a thread so the event loop keeps serving requests.

    def _load(self, query: Select[Event]) -> list[tuple[Event, list[Action]]]:
        with self._db.system_session() as session:
            return [
                (event, actions_for(self._reactions, session, event))
                for event in session.scalars(query)
            ]

    def _update(self, statement: Update) -> None:
        with self._db.system_session() as session:
            session.execute(statement)
            session.commit()

    async def dispatch(self, event_ids: Sequence[uuid.UUID]) -> int:
        """Dispatch the given events if still pending; returns how many went out."""
        if not event_ids:
            return 0
        query = select(Event).where(Event.id.in_(event_ids), Event.dispatched_at.is_(None))
        return await self._dispatch(await asyncio.to_thread(self._load, query))

    async def sweep(self) -> int:
        """Dispatch events left pending (Temporal was down, the process died before dispatch)."""
        query = (
            select(Event)
            .where(Event.dispatched_at.is_(None), Event.received_at < utcnow() - SWEEP_GRACE)
            .order_by(Event.received_at)
            .limit(SWEEP_BATCH)
        )
        return await self._dispatch(await asyncio.to_thread(self._load, query))

    async def _dispatch(self, loaded: list[tuple[Event, list[Action]]]) -> int:
        if not loaded:
            return 0
        events = [event for event, _ in loaded]
        try:
            client = await self._client()
        except Exception as exc:
            await self._record_failures({e.id: f"Temporal unreachable: {exc}" for e in events})
            return 0
        outcomes = await asyncio.gather(*(self._dispatch_event(client, a) for _, a in loaded))
        done = [e.id for e, error in zip(events, outcomes, strict=True) if error is None]
        failed = {e.id: error for e, error in zip(events, outcomes, strict=True) if error}
        if done:
            await asyncio.to_thread(
                self._update,
                update(Event)
                .where(Event.id.in_(done))
                .values(dispatched_at=utcnow(), last_dispatch_error=None),
            )
        await self._record_failures(failed)
        return len(done)

    async def _record_failures(self, failed: dict[uuid.UUID, str]) -> None:
        if not failed:
            return
        # One statement for the whole batch: when Temporal is down every event fails alike.
        error = next(iter(failed.values()))
        log.warning("%d events not dispatched yet: %s", len(failed), error)
        await asyncio.to_thread(
            self._update,
            update(Event)
            .where(Event.id.in_(list(failed)))
            .values(dispatch_attempts=Event.dispatch_attempts + 1, last_dispatch_error=error),
        )

    async def run_sweeper(self, interval_s: float) -> None:
        while True:
            try:
                while await self.sweep() == SWEEP_BATCH:
                    pass  # a backlog: keep draining before sleeping
            except Exception:
                log.exception("event sweep failed")
            await asyncio.sleep(interval_s)
