"""Throughput of order.paid events: API acceptance, award completion, and the bare Temporal limit.

    python bench/events.py [--quick] [--events N]

Starts what it needs: a Temporal dev server (SQLite file, WAL, as `herald dev` runs it), Herald's
worker and API as processes, on PostgreSQL from HERALD_BENCH_DATABASE_URL (default: the local
`test` database). Prints a table and, last, one JSON line of the figures.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from pathlib import Path

import httpx
from rich.console import Console
from rich.table import Table
from sqlalchemy import func, insert, select
from temporalio import activity, workflow

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.stack import (  # noqa: E402
    add_codec_and_metrics_flag,
    bare_rate,
    bench_database_url,
    running_herald,
)
from herald.customers.models import Customer  # noqa: E402
from herald.database import Database  # noqa: E402
from herald.db import utcnow  # noqa: E402
from herald.events.models import Event  # noqa: E402
from herald.loyalty.models import LedgerEntry  # noqa: E402
from herald.migrate import upgrade  # noqa: E402
from herald.organizations.service import create_organization  # noqa: E402

PACED_PER_S = 10.0


@activity.defn
async def bare_noop() -> None:
    return None


@workflow.defn(sandboxed=False)
class BareWorkflow:
    @workflow.run
    async def run(self) -> None:
        await workflow.execute_activity(bare_noop, start_to_close_timeout=timedelta(seconds=30))


def seed_customers(db: Database, org_id: uuid.UUID, count: int) -> list[str]:
    ids = [uuid.uuid4() for _ in range(count)]
    now = utcnow()
    with db.session(org_id) as session:
        session.execute(
            insert(Customer),
            [
                {
                    "id": i,
                    "organization_id": org_id,
                    "name": f"Bench {n}",
                    "attributes": {},
                    "created_at": now,
                    "updated_at": now,
                }
                for n, i in enumerate(ids)
            ],
        )
        session.commit()
    return [str(i) for i in ids]


def order_event(customer_id: str, order_id: str) -> dict:
    return {
        "type": "order.paid",
        "customer": {"id": customer_id},
        "properties": {"order_id": order_id, "amount": "25.00", "currency": "EUR"},
    }


def post_burst(
    base_url: str, key: str, customers: list[str], total: int, batch: int, clients: int, run: str
) -> float:
    """Post everything as fast as the API takes it; returns the start time."""
    batches = [
        {
            "events": [
                order_event(customers[n % len(customers)], f"{run}-{n}")
                for n in range(start, min(start + batch, total))
            ]
        }
        for start in range(0, total, batch)
    ]
    headers = {"Authorization": f"Bearer {key}"}

    def send(chunk: list[dict]) -> None:
        with httpx.Client(base_url=base_url, headers=headers, timeout=120) as client:
            for body in chunk:
                client.post("/v1/events", json=body).raise_for_status()

    started = time.perf_counter()
    with ThreadPoolExecutor(clients) as pool:
        list(pool.map(send, [batches[i::clients] for i in range(clients)]))
    return started


def post_paced(
    base_url: str, key: str, customers: list[str], count: int, per_s: float, run: str
) -> None:
    """One event per request at a rate the system follows: latency without a backlog."""
    headers = {"Authorization": f"Bearer {key}"}
    with httpx.Client(base_url=base_url, headers=headers, timeout=30) as client:
        started = time.perf_counter()
        for n in range(count):
            event = order_event(customers[n % len(customers)], f"{run}-{n}")
            client.post("/v1/events", json=event).raise_for_status()
            time.sleep(max(0.0, started + (n + 1) / per_s - time.perf_counter()))


def _awarded(run: str):  # type: ignore[no-untyped-def]
    return LedgerEntry.source_id.startswith(f"{run}-")


def wait_for_awards(
    db: Database, org_id: uuid.UUID, run: str, total: int, timeout_s: float
) -> None:
    deadline = time.monotonic() + timeout_s
    done = 0
    while time.monotonic() < deadline:
        with db.session(org_id) as session:
            query = select(func.count()).select_from(LedgerEntry).where(_awarded(run))
            done = session.scalar(query) or 0
        if done >= total:
            return
        time.sleep(0.5)
    raise TimeoutError(f"only {done} of {total} awards after {timeout_s:.0f}s")


def award_figures(db: Database, org_id: uuid.UUID, run: str) -> tuple[list[float], float, float]:
    """Post-to-visible latencies (ms) and the first receipt / last award times (epoch s)."""
    with db.session(org_id) as session:
        rows = session.execute(
            select(Event.received_at, LedgerEntry.created_at)
            .join(LedgerEntry, LedgerEntry.event_id == Event.id)
            .where(_awarded(run))
        ).all()
    latencies = [(awarded - received).total_seconds() * 1000 for received, awarded in rows]
    first = min(r for r, _ in rows).timestamp()
    last = max(a for _, a in rows).timestamp()
    return latencies, first, last


def percentile(values: list[float], q: float) -> float:
    return statistics.quantiles(values, n=100, method="inclusive")[int(q) - 1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="1,000 events instead of 10,000")
    parser.add_argument("--events", type=int)
    parser.add_argument("--batch", type=int, default=100, help="events per POST")
    parser.add_argument("--clients", type=int, default=4, help="concurrent HTTP clients")
    add_codec_and_metrics_flag(parser)
    args = parser.parse_args()
    total = args.events or (1_000 if args.quick else 10_000)
    database_url = bench_database_url()
    console = Console(stderr=True)

    upgrade(database_url)
    db = Database(database_url)
    with running_herald(database_url, codec_and_metrics=args.codec_and_metrics) as stack:
        with db.system_session() as session:
            org, key = create_organization(session, f"Bench {uuid.uuid4().hex[:6]}")
        customers = seed_customers(db, org.id, min(total, 1_000))
        time.sleep(2)  # let the worker finish starting

        console.print(f"posting {total:,} order.paid events ...")
        burst = uuid.uuid4().hex[:8]
        started = post_burst(
            stack.base_url, key.secret, customers, total, args.batch, args.clients, burst
        )
        accepted_s = time.perf_counter() - started
        wait_for_awards(db, org.id, burst, total, timeout_s=total / 5 + 120)
        latencies, first, last = award_figures(db, org.id, burst)
        awards_per_s = total / (last - first)

        paced_count = 100 if args.quick else 300
        console.print(f"posting {paced_count} single events at {PACED_PER_S:g}/s ...")
        paced = uuid.uuid4().hex[:8]
        post_paced(stack.base_url, key.secret, customers, paced_count, PACED_PER_S, paced)
        wait_for_awards(db, org.id, paced, paced_count, timeout_s=120)
        paced_latencies, _, _ = award_figures(db, org.id, paced)

        stack.stop_herald()
        console.print(f"starting {total:,} bare workflows ...")
        bare_per_s = asyncio.run(bare_rate(stack.address, BareWorkflow, [bare_noop], total))
    db.dispose()

    figures = {
        "codec_and_metrics": args.codec_and_metrics,
        "events": total,
        "events_per_s": round(total / accepted_s, 1),
        "awards_per_s": round(awards_per_s, 1),
        "bare_workflows_per_s": round(bare_per_s, 1),
        "awards_to_bare_ratio": round(awards_per_s / bare_per_s, 2),
        "p50_ms": round(percentile(latencies, 50), 1),
        "p99_ms": round(percentile(latencies, 99), 1),
        "paced_per_s": PACED_PER_S,
        "paced_p50_ms": round(percentile(paced_latencies, 50), 1),
        "paced_p99_ms": round(percentile(paced_latencies, 99), 1),
    }
    table = Table(title=f"order.paid → points, {total:,} events, batches of {args.batch}")
    table.add_column("figure")
    table.add_column("value", justify="right")
    table.add_row("events accepted per second (API)", f"{figures['events_per_s']:,}")
    table.add_row("awards completed per second", f"{figures['awards_per_s']:,}")
    table.add_row(
        "bare workflows per second (1 no-op activity)", f"{figures['bare_workflows_per_s']:,}"
    )
    table.add_row("awards / bare", f"{figures['awards_to_bare_ratio']}")
    table.add_row("burst: post → points visible, p50 (ms)", f"{figures['p50_ms']:,}")
    table.add_row("burst: post → points visible, p99 (ms)", f"{figures['p99_ms']:,}")
    paced_label = f"paced {PACED_PER_S:g}/s: post → points visible"
    table.add_row(f"{paced_label}, p50 (ms)", f"{figures['paced_p50_ms']:,}")
    table.add_row(f"{paced_label}, p99 (ms)", f"{figures['paced_p99_ms']:,}")
    Console().print(table)
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
