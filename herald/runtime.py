"""What a use case needs from the process it runs in, built once per process (by
``herald.assembly``).

The API, the console and the CLI are adapters: they hand the ``Runtime`` to a domain action
(``herald/<domain>/actions.py``) and shape its answer. Actions are async: database work is
synchronous SQLAlchemy, so it runs on a worker thread (``in_org`` / ``in_system``) and the event
loop keeps serving every other request meanwhile; Temporal calls are awaited directly.
"""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, TypeVar

from sqlalchemy import text
from sqlalchemy.orm import Session
from temporalio.client import Client, WorkflowHandle

from herald.errors import TooManyRequests
from herald.outbound import Outbound
from herald.ratelimits import RateLimits
from herald.settings import Settings
from herald.temporal import TemporalConnection, WorkflowStart, start_run

# Types only: the runtime sits below every domain (herald.assembly builds it).
if TYPE_CHECKING:
    from herald.database import Database
    from herald.events.dispatch import EventDispatcher
    from herald.journeys.simulation import JourneySimulator
    from herald.messaging.unsubscribe import Links

T = TypeVar("T")

# Live streams one API key may hold open in one process: each holds a connection and a poll.
MAX_STREAMS_PER_KEY = 5
# Live inbox streams of one organization's app users in one process: a shop with a large
# audience gets many, never so many that its polls crowd out other shops.
MAX_APP_STREAMS_PER_ORGANIZATION = 200


@dataclass
class StreamSlots:
    """The live streams open in this process, per key (one event loop: no lock needed)."""

    per_key: int = MAX_STREAMS_PER_KEY
    # What a key is, for the refusal.
    holder: str = "API key"
    _open: Counter[uuid.UUID] = field(default_factory=Counter)

    @contextlib.contextmanager
    def hold(self, key_id: uuid.UUID) -> Iterator[None]:
        if self._open[key_id] >= self.per_key:
            raise TooManyRequests(
                f"at most {self.per_key} live streams per {self.holder}; close one first"
            )
        self._open[key_id] += 1
        try:
            yield
        finally:
            self._open[key_id] -= 1
            if not self._open[key_id]:
                del self._open[key_id]


@dataclass(frozen=True)
class Runtime:
    settings: Settings
    db: Database
    temporal: TemporalConnection
    links: Links
    dispatcher: EventDispatcher
    # Vets every address a tenant chose before Herald calls it (or stores it).
    outbound: Outbound
    # Budgets shared by every API process (public forms, test sends).
    rate_limits: RateLimits
    # Given by the composition that has a simulator (the API): journey simulations.
    simulate_journey: JourneySimulator | None = None
    streams: StreamSlots = field(default_factory=StreamSlots)
    # An app user's inbox streams (per customer), and all of an organization's together.
    customer_streams: StreamSlots = field(
        default_factory=lambda: StreamSlots(MAX_STREAMS_PER_KEY, "customer")
    )
    app_streams: StreamSlots = field(
        default_factory=lambda: StreamSlots(MAX_APP_STREAMS_PER_ORGANIZATION, "organization")
    )
    # Dispatches under way, held so none is collected before it ends.
    _dispatching: set[asyncio.Task[int]] = field(default_factory=set, compare=False)

    async def client(self) -> Client:
        return await self.temporal.client()

    async def in_org(self, organization_id: uuid.UUID, work: Callable[[Session], T]) -> T:
        """``work`` in a session that sees one organization only, on a worker thread."""

        def run() -> T:
            with self.db.session(organization_id) as session:
                return work(session)

        return await asyncio.to_thread(run)

    async def in_system(self, work: Callable[[Session], T]) -> T:
        """``work`` in an unscoped session (key look-ups, cross-organization reads), on a
        worker thread."""

        def run() -> T:
            with self.db.system_session() as session:
                return work(session)

        return await asyncio.to_thread(run)

    def iterate_in_org(
        self, organization_id: uuid.UUID, rows: Callable[[Session], Iterator[T]]
    ) -> Iterator[T]:
        """``rows`` read in a session of their own that sees one organization, for a response
        that streams them: iterate on a worker thread (each read blocks)."""
        with self.db.session(organization_id) as session:
            yield from rows(session)

    def dispatch_soon(self, event_ids: Iterable[uuid.UUID]) -> None:
        """Hand stored events to Temporal after the caller has answered; the sweeper
        retries whatever this first try misses."""
        ids = list(event_ids)
        if ids:
            task = asyncio.get_running_loop().create_task(self.dispatcher.dispatch(ids))
            self._dispatching.add(task)
            task.add_done_callback(self._dispatching.discard)

    async def start_run(self, start: WorkflowStart) -> WorkflowHandle[Any, Any]:
        return await start_run(await self.client(), self.settings.task_queue, start)

    async def readiness(self) -> dict[str, str]:
        """Whether the database and Temporal answer: "ok", or why not, for each."""
        checks: dict[str, str] = {}

        def ping_database() -> None:
            with self.db.engine.connect() as conn:
                conn.execute(text("SELECT 1"))

        try:
            await asyncio.to_thread(ping_database)
            checks["database"] = "ok"
        except Exception as exc:
            checks["database"] = f"unreachable: {type(exc).__name__}"
        try:
            client = await asyncio.wait_for(self.client(), timeout=3)
            await asyncio.wait_for(client.service_client.check_health(), timeout=3)
            checks["temporal"] = "ok"
        except Exception as exc:
            checks["temporal"] = f"unreachable: {type(exc).__name__}"
        return checks

    def close(self) -> None:
        self.db.dispose()
