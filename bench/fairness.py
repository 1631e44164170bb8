"""Fair share: one organization's burst must not starve another's single order.

    python bench/fairness.py [--quick] [--burst N] [--tries N] [--no-fairness]

Starts what it needs (a Temporal dev server, Herald's worker and API, on PostgreSQL from
HERALD_BENCH_DATABASE_URL). A "busy" organization posts a burst of order.paid events (20,000;
2,000 with --quick) as fast as the API takes them; while its awards are in flight, a "quiet"
organization posts one order.paid every 3 seconds, and each is timed from its post until its
points show. ``--no-fairness`` runs the same without the task queue's fairness keys (the
baseline). Prints a table and, last, one JSON line with ``burst_events`` and ``victim_p99_s``.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
from rich.console import Console
from rich.table import Table
from sqlalchemy import func, select

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.events import order_event, post_burst, seed_customers  # noqa: E402
from bench.stack import bench_database_url, running_herald  # noqa: E402
from herald.database import Database  # noqa: E402
from herald.loyalty.models import LedgerEntry  # noqa: E402
from herald.migrate import upgrade  # noqa: E402
from herald.organizations.service import create_organization  # noqa: E402

TRY_EVERY_S = 3.0
GIVE_UP_S = 300.0
TARGET_P99_S = 10.0


def time_one_order(base_url: str, key: str, customer_id: str) -> float:
    """Post one order.paid and wait until its points show: seconds."""
    headers = {"Authorization": f"Bearer {key}"}
    with httpx.Client(base_url=base_url, headers=headers, timeout=60) as client:
        started = time.perf_counter()
        event = order_event(customer_id, f"quiet-{uuid.uuid4().hex[:8]}")
        client.post("/v1/events", json=event).raise_for_status()
        while time.perf_counter() - started < GIVE_UP_S:
            points = client.get(f"/v1/customers/{customer_id}/points").json()
            if points["balance"] > 0:
                return time.perf_counter() - started
            time.sleep(0.05)
    return GIVE_UP_S


def awarded(db: Database, org_id: uuid.UUID) -> int:
    with db.session(org_id) as session:
        return session.scalar(select(func.count()).select_from(LedgerEntry)) or 0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="a 2,000-event burst")
    parser.add_argument("--burst", type=int)
    parser.add_argument("--tries", type=int, default=20)
    parser.add_argument("--no-fairness", action="store_true", help="the baseline")
    args = parser.parse_args()
    burst = args.burst or (2_000 if args.quick else 20_000)
    database_url = bench_database_url()
    console = Console(stderr=True)

    upgrade(database_url)
    db = Database(database_url)
    with running_herald(database_url, fairness=not args.no_fairness) as stack:
        with db.system_session() as session:
            busy, busy_key = create_organization(session, f"Busy {uuid.uuid4().hex[:6]}")
            quiet, quiet_key = create_organization(session, f"Quiet {uuid.uuid4().hex[:6]}")
        busy_customers = seed_customers(db, busy.id, 1_000)
        quiet_customers = seed_customers(db, quiet.id, args.tries)
        time.sleep(2)  # let the worker finish starting

        console.print(f"busy organization: posting {burst:,} order.paid events ...")
        posting = threading.Thread(
            target=post_burst,
            args=(stack.base_url, busy_key.secret, busy_customers, burst, 500, 4, "busy"),
        )
        posting.start()
        time.sleep(5)  # the burst is arriving and its awards are queued

        console.print(
            f"quiet organization: {args.tries} single orders, one every {TRY_EVERY_S:g} s"
        )
        with ThreadPoolExecutor(args.tries) as pool:
            futures = []
            for customer in quiet_customers:
                futures.append(
                    pool.submit(time_one_order, stack.base_url, quiet_key.secret, customer)
                )
                time.sleep(TRY_EVERY_S)
            latencies = [f.result() for f in futures]
        busy_done = awarded(db, busy.id)
        posting.join()

    latencies.sort()
    p50 = statistics.median(latencies)
    p99 = statistics.quantiles(latencies, n=100, method="inclusive")[98]
    table = Table(title=f"Fair share ({'without' if args.no_fairness else 'with'} fairness keys)")
    for column in ("what", "figure", "target"):
        table.add_column(column)
    table.add_row("busy organization's burst", f"{burst:,} events", "")
    table.add_row("busy awards done while the quiet one was timed", f"{busy_done:,}", "")
    table.add_row("quiet order → points, p50", f"{p50:.2f} s", "")
    verdict = "✔" if p99 <= TARGET_P99_S else "✘"
    table.add_row(
        f"quiet order → points, p99 of {len(latencies)}", f"{p99:.2f} s", f"≤ 10 s {verdict}"
    )
    table.add_row("quiet order → points, max", f"{latencies[-1]:.2f} s", "")
    Console().print(table)
    print(
        json.dumps(
            {
                "burst_events": burst,
                "victim_p50_s": round(p50, 2),
                "victim_p99_s": round(p99, 2),
                "fairness": not args.no_fairness,
                "busy_awards_during": busy_done,
            }
        )
    )


if __name__ == "__main__":
    main()
