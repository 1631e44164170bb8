"""Journey throughput: customers enrolled by events, run through send → wait → send, finished.

    python bench/journeys.py [--quick] [--customers N] [--wait-s S] [--worker-processes P]

Starts what it needs: a Temporal dev server (SQLite file, WAL, as `herald dev` runs it), Herald's
worker (one process per core unless told otherwise) and API as processes, on PostgreSQL from
HERALD_BENCH_DATABASE_URL (default: the local `test` database). N customers sign up through
`POST /v1/events` (batches of 500); each signup enrolls the customer into a published three-step
journey (an email, a wait of S seconds, an email, to the local outbox). Progress is read from the enrollments table, never by awaiting
results. Then, with Herald stopped, the same number of bare workflows with the same shape (four
no-op activities — enter, send, send, finish — and the same timer): Temporal's limit here.
Prints a table and, last, one JSON line of the figures.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from pathlib import Path

import httpx
from rich.console import Console
from rich.table import Table
from sqlalchemy import func, select
from temporalio import activity, workflow

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.stack import (  # noqa: E402
    add_codec_and_metrics_flag,
    bare_rate,
    bench_database_url,
    peak_rss_mb,
    running_herald,
)
from herald.database import Database  # noqa: E402
from herald.journeys.contracts import EnrollmentStatus  # noqa: E402
from herald.journeys.definition import JourneyDefinition  # noqa: E402
from herald.journeys.models import JourneyEnrollment  # noqa: E402
from herald.journeys.schemas import JourneyCreate  # noqa: E402
from herald.journeys.service import create_journey, publish  # noqa: E402
from herald.messaging.models import Category, Channel  # noqa: E402
from herald.messaging.schemas import TemplateCreate  # noqa: E402
from herald.messaging.templates import create_template  # noqa: E402
from herald.migrate import upgrade  # noqa: E402
from herald.organizations.service import create_organization  # noqa: E402
from tests.seed import seed_email_audience  # noqa: E402

BATCH = 500


@activity.defn
async def bare_step() -> None:
    return None


@workflow.defn(sandboxed=False)
class BareDrip:
    @workflow.run
    async def run(self, wait_s: float) -> None:
        timeout = timedelta(seconds=30)
        await workflow.execute_activity(bare_step, start_to_close_timeout=timeout)  # enter
        await workflow.execute_activity(bare_step, start_to_close_timeout=timeout)  # send
        await workflow.sleep(wait_s)
        await workflow.execute_activity(bare_step, start_to_close_timeout=timeout)  # send
        await workflow.execute_activity(bare_step, start_to_close_timeout=timeout)  # finish


def setup_journey(db: Database, org_id: uuid.UUID, wait_s: float) -> None:
    with db.session(org_id) as session:
        for key in ("bench-hello", "bench-bye"):
            create_template(
                session,
                TemplateCreate(
                    key=key,
                    name=key,
                    channel=Channel.email,
                    category=Category.transactional,
                    default_locale="en",
                    variants={"en": {"subject": f"{key} {{{{ customer.name }}}}", "html": "x"}},
                ),
            )
        definition = {
            "name": "Bench drip",
            "trigger": {"event": "customer.signed_up"},
            "steps": [
                {
                    "id": "hello",
                    "type": "send",
                    "channel": "email",
                    "template": "bench-hello",
                    "next": "pause",
                },
                {"id": "pause", "type": "wait", "duration": wait_s, "next": "bye"},
                {
                    "id": "bye",
                    "type": "send",
                    "channel": "email",
                    "template": "bench-bye",
                    "next": None,
                },
            ],
        }
        create_journey(
            session,
            JourneyCreate(key="bench", definition=JourneyDefinition.model_validate(definition)),
        )
        publish(session, "bench", may_publish_effects=True)


def post_signups(base_url: str, key: str, customers: list[uuid.UUID], clients: int) -> None:
    bodies = [
        {
            "events": [
                {"type": "customer.signed_up", "customer": {"id": str(c)}}
                for c in customers[start : start + BATCH]
            ]
        }
        for start in range(0, len(customers), BATCH)
    ]
    headers = {"Authorization": f"Bearer {key}"}

    def send(chunk: list[dict]) -> None:
        with httpx.Client(base_url=base_url, headers=headers, timeout=300) as client:
            for body in chunk:
                client.post("/v1/events", json=body).raise_for_status()

    with ThreadPoolExecutor(clients) as pool:
        list(pool.map(send, [bodies[i::clients] for i in range(clients)]))


def counts(db: Database, org_id: uuid.UUID) -> tuple[int, int]:
    with db.session(org_id) as session:
        entered = session.scalar(select(func.count()).select_from(JourneyEnrollment)) or 0
        finished = (
            session.scalar(
                select(func.count())
                .select_from(JourneyEnrollment)
                .where(JourneyEnrollment.status == EnrollmentStatus.completed)
            )
            or 0
        )
    return entered, finished


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="1,000 customers instead of 10,000")
    parser.add_argument("--customers", type=int)
    parser.add_argument("--wait-s", type=float, default=10.0, help="the journey's wait step")
    parser.add_argument("--clients", type=int, default=4, help="concurrent HTTP clients")
    parser.add_argument(
        "--worker-processes",
        type=int,
        default=len(os.sched_getaffinity(0)),
        help="Herald's worker processes (HERALD_WORKER_PROCESSES); default one per core",
    )
    add_codec_and_metrics_flag(parser)
    args = parser.parse_args()
    total = args.customers or (1_000 if args.quick else 10_000)
    database_url = bench_database_url()
    console = Console(stderr=True)

    upgrade(database_url)
    db = Database(database_url)
    with running_herald(
        database_url, args.worker_processes, codec_and_metrics=args.codec_and_metrics
    ) as stack:
        with db.system_session() as session:
            org, key = create_organization(session, f"Bench {uuid.uuid4().hex[:6]}")
        setup_journey(db, org.id, args.wait_s)
        console.print(f"seeding {total:,} customers ...")
        customers = seed_email_audience(db, org.id, total, consent=False)
        time.sleep(2)  # let the worker finish starting

        console.print(f"{total:,} signups through the events API ...")
        started = time.perf_counter()
        post_signups(stack.base_url, key.secret, customers, args.clients)
        posted_s = time.perf_counter() - started
        enrolled_s = finished_s = None
        deadline = started + total / 2 + 300
        entered = finished = 0
        while time.perf_counter() < deadline:
            entered, finished = counts(db, org.id)
            now = time.perf_counter() - started
            if enrolled_s is None and entered >= total:
                enrolled_s = now
            if finished >= total:
                finished_s = now
                break
            time.sleep(0.5)
        worker_rss = peak_rss_mb(stack.worker_pid)
        if finished_s is None or enrolled_s is None:
            raise TimeoutError(f"{entered} entered, {finished} finished of {total}")

        stack.stop_herald()
        console.print(f"{total:,} bare workflows of the same shape ...")
        bare_per_s = asyncio.run(
            bare_rate(stack.address, BareDrip, [bare_step], total, [args.wait_s])
        )
    db.dispose()

    completions_per_s = total / finished_s
    figures = {
        "codec_and_metrics": args.codec_and_metrics,
        "enrolled": entered,
        "finished": finished,
        "wait_s": args.wait_s,
        "signups_posted_per_s": round(total / posted_s, 1),
        "enrollments_per_s": round(total / enrolled_s, 1),
        "completions_per_s": round(completions_per_s, 1),
        "messages_per_s": round(2 * total / finished_s, 1),
        "bare_per_s": round(bare_per_s, 1),
        "ratio": round(completions_per_s / bare_per_s, 2),
        "peak_rss_mb": round(worker_rss, 1),
        "worker_processes": args.worker_processes,
    }
    table = Table(title=f"journey send → wait {args.wait_s:g}s → send, {total:,} customers")
    table.add_column("figure")
    table.add_column("value", justify="right")
    table.add_row("signups accepted per second (API)", f"{figures['signups_posted_per_s']:,}")
    table.add_row("enrollments per second", f"{figures['enrollments_per_s']:,}")
    table.add_row("completions per second", f"{figures['completions_per_s']:,}")
    table.add_row("messages per second", f"{figures['messages_per_s']:,}")
    table.add_row("bare workflows of the same shape per second", f"{figures['bare_per_s']:,}")
    table.add_row("completions / bare", f"{figures['ratio']}")
    table.add_row(
        f"worker peak memory, {args.worker_processes} process(es) (MB)",
        f"{figures['peak_rss_mb']:,}",
    )
    Console().print(table)
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
