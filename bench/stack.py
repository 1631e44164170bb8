"""What the end-to-end benchmarks start: a Temporal dev server on a SQLite file (WAL, as
`herald dev` runs it) and Herald's worker and API as processes, on the benchmark database."""

from __future__ import annotations

import argparse
import asyncio
import os
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import psycopg
from sqlalchemy import select, text
from temporalio.worker import Worker

from herald.database import Database
from herald.devserver import free_port, herald_command, start_dev_server, wait_for_port
from herald.migrate import upgrade
from herald.organizations.models import Organization
from herald.organizations.service import create_organization
from herald.secrets import SecretKeys, install
from herald.settings import Settings
from herald.temporal import connect

DEFAULT_DB = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
BARE_QUEUE = "bench-bare"
# The benchmarks' own secret: the processes they start and the bench's own code (which seals
# and opens provider credentials in process) share it.
BENCH_SECRET = "bench-secret-key"
install(SecretKeys(BENCH_SECRET))
ROOT = Path(__file__).resolve().parent.parent


def bench_database_url() -> str:
    return os.environ.get("HERALD_BENCH_DATABASE_URL", DEFAULT_DB)


def reused_organization(db: Database, slug: str, name: str) -> uuid.UUID:
    """The benchmark's organization: made on the first run, found by later ones, so data
    written once with COPY is reused."""
    with db.system_session() as session:
        found = session.scalar(select(Organization.id).where(Organization.slug == slug))
        if found is None:
            org, _ = create_organization(session, name, slug)
            found = org.id
    return found


def bench_organization(slug: str, name: str) -> tuple[Database, uuid.UUID]:
    """The bench database, migrated to the code's schema, and the bench's organization in it."""
    database_url = bench_database_url()
    upgrade(database_url)
    db = Database(database_url)
    return db, reused_organization(db, slug, name)


@contextmanager
def copy_cursor(db: Database, *vacuum: str) -> Iterator[psycopg.Cursor[Any]]:
    """A psycopg cursor for COPY on PostgreSQL, committed at the end; then the tables named
    are vacuumed and analyzed, as autovacuum would after a bulk load: the planner knows their
    new size, and index-only scans find their pages marked all-visible."""
    with db.engine.connect() as connection:
        raw = connection.connection.dbapi_connection
        assert isinstance(raw, psycopg.Connection)
        with raw.cursor() as cursor:
            yield cursor
        raw.commit()
    if not vacuum:
        return  # the delivery bench's bare loop copies per batch: no second connection
    with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
        for table in vacuum:
            connection.execute(text(f"VACUUM (ANALYZE) {table}"))


@contextmanager
def fake_providers() -> Iterator[str]:
    """The local fake of SendGrid, Twilio and FCM (tests/fakes.py) in a process of its own,
    so its JSON parsing is not charged to the benchmark's process; yields its URL."""
    fake = subprocess.Popen(
        [sys.executable, "-m", "tests.fakes"], cwd=ROOT, stdout=subprocess.PIPE, text=True
    )
    try:
        assert fake.stdout is not None
        yield fake.stdout.readline().strip()
    finally:
        fake.terminate()
        fake.wait(timeout=10)


def peak_rss_mb(pid: int) -> float:
    """The worker's peak resident memory (VmHWM), in MB: the process's own, or with several
    worker processes, the sum of theirs (the supervisor only watches them)."""
    children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    if children:
        return sum(peak_rss_mb(int(child)) for child in children)
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return 0.0


@dataclass
class BenchStack:
    address: str  # the Temporal server
    base_url: str  # Herald's API
    processes: list[subprocess.Popen[bytes]] = field(default_factory=list)

    @property
    def worker_pid(self) -> int:
        return self.processes[0].pid

    def stop_herald(self) -> None:
        """Stop the worker and API, so a bare run gets the server to itself."""
        for proc in self.processes:
            proc.terminate()
            proc.wait(timeout=30)
        self.processes = []


def add_codec_and_metrics_flag(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--without-codec-and-metrics",
        dest="codec_and_metrics",
        action="store_false",
        help="Temporal payloads unencrypted and metrics off: measures what they cost",
    )


@contextmanager
def running_herald(
    database_url: str,
    worker_processes: int = 1,
    fairness: bool = True,
    codec_and_metrics: bool = True,
) -> Iterator[BenchStack]:
    """Temporal dev server, worker and API as an operator runs them: payloads encrypted, API
    and worker metrics on (``codec_and_metrics=False`` measures what those cost)."""
    with tempfile.TemporaryDirectory(prefix="herald-bench-") as tmp:
        tmp_dir = Path(tmp)
        temporal_port = free_port()
        temporal = start_dev_server(
            port=temporal_port,
            ui_port=None,
            db_file=tmp_dir / "temporal.db",
            log_file=tmp_dir / "temporal.log",
            fairness=fairness,
        )
        stack = BenchStack(address=f"127.0.0.1:{temporal_port}", base_url="")
        try:
            wait_for_port(temporal_port)
            api_port = free_port()
            env = {
                **os.environ,
                "HERALD_DATABASE_URL": database_url,
                "HERALD_TEMPORAL_ADDRESS": stack.address,
                "HERALD_TASK_QUEUE": "herald-bench",
                "HERALD_API_PORT": str(api_port),
                "HERALD_API_ACCESS_LOG": "false",
                "HERALD_WORKER_PROCESSES": str(worker_processes),
                "HERALD_SECRET_KEY": BENCH_SECRET,
                # The fake providers listen on this machine.
                "HERALD_OUTBOUND_ALLOW": "127.0.0.1",
                "HERALD_PAYLOAD_ENCRYPTION": str(codec_and_metrics).lower(),
                "HERALD_METRICS": str(codec_and_metrics).lower(),
                "HERALD_WORKER_METRICS_PORT": str(free_port() if codec_and_metrics else 0),
            }
            with open(tmp_dir / "herald.log", "ab") as out:
                stack.processes = [
                    subprocess.Popen(
                        herald_command(kind), cwd=ROOT, env=env, stdout=out, stderr=out
                    )
                    for kind in ("worker", "api")
                ]
            wait_for_port(api_port)
            stack.base_url = f"http://127.0.0.1:{api_port}"
            yield stack
        finally:
            for proc in stack.processes:
                proc.terminate()
            temporal.terminate()
            temporal.wait(timeout=30)


async def bare_rate(
    address: str,
    workflow: type,
    activities: list[Callable[..., Any]],
    total: int,
    args: Sequence[Any] = (),
) -> float:
    """Temporal's own limit here: ``total`` runs of a bare workflow started at once and counted
    through visibility as they complete (never by awaiting thousands of results); runs/s.
    Its payloads are plain: the bare loop does not pay for Herald's codec."""
    settings = Settings(temporal_address=address, secret_key=BENCH_SECRET, payload_encryption=False)
    client = await connect(settings)
    run = uuid.uuid4().hex[:8]
    name = workflow.__name__
    async with Worker(
        client,
        task_queue=BARE_QUEUE,
        workflows=[workflow],
        activities=activities,
        max_concurrent_activities=32,
    ):
        started = time.perf_counter()
        limit = asyncio.Semaphore(64)

        async def start(n: int) -> None:
            async with limit:
                await client.start_workflow(
                    name, args=list(args), id=f"bare-{run}-{n}", task_queue=BARE_QUEUE
                )

        await asyncio.gather(*(start(n) for n in range(total)))
        query = (
            f"WorkflowType = '{name}' AND WorkflowId STARTS_WITH 'bare-{run}' "
            "AND ExecutionStatus = 'Completed'"
        )
        while (await client.count_workflows(query)).count < total:
            await asyncio.sleep(0.25)
        return total / (time.perf_counter() - started)


# An organization's default order history window (orders paid longer ago arrive as history).
HISTORY = timedelta(days=30)
# (event id, customer id, paid at, amount): an order.paid event written beside its order.
PaidOrder = tuple[uuid.UUID, uuid.UUID, datetime, Any]


def copy_orders(cursor: psycopg.Cursor[Any], org: str, paid: list[PaidOrder]) -> None:
    """COPY each order as the events service records it beside its event, in the reporting
    currency (the order id is the event's)."""
    now = datetime.now(UTC)
    with cursor.copy(
        "COPY orders (id, organization_id, order_id, customer_id, status, currency, amount,"
        " discount, shipping, refunded_amount, paid_at, paid_month, history, event_id,"
        " created_at) FROM STDIN"
    ) as copy:
        for event_id, customer_id, at, amount in paid:
            month = at.date().replace(day=1)
            row = (event_id.hex, customer_id, "paid", "USD", amount, 0, 0, 0, at, month)
            copy.write_row((uuid.uuid4(), org, *row, now - at > HISTORY, event_id, at))
