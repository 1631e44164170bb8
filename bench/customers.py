"""The customer list and its statistics at scale: a filtered, sorted page, and the stats.

    python bench/customers.py [--quick] [--customers N] [--pages P]

On PostgreSQL from HERALD_BENCH_DATABASE_URL (default: the local `test` database): an
organization of N customers (1,000,000; 100,000 with --quick) spread over 8 countries, two
orders each on average over the last two years (in the reporting currency), each customer's
order figures kept on their row as Herald keeps them; written with COPY on the first run (then
vacuumed and analyzed, as autovacuum would) and reused after. Then P list pages (200) are asked
of the service `GET /v1/customers` calls, each with a filter and a sort, half of them a later
page through its cursor, and the stats `GET /v1/customers/stats` answers (a year by month) are
timed three times. Last, the data operations: a CSV file of D customers (100,000; 20,000 with
--quick) uploaded and imported into a new organization batch by batch, as an ``ImportRun``'s
activities do, then exported as an ``ExportRun``'s activities write it. Prints a table and,
last, one JSON line.
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import sys
import time
import uuid
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table
from sqlalchemy import delete, func, select

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.stack import (  # noqa: E402
    PaidOrder,
    bench_organization,
    copy_cursor,
    copy_orders,
    reused_organization,
)
from herald.customers.models import Customer  # noqa: E402
from herald.customers.schemas import CustomerQuery  # noqa: E402
from herald.database import Database  # noqa: E402
from herald.dataops import exports, imports  # noqa: E402
from herald.dataops.contracts import ExportRunInput, ImportEnd, ImportRunInput  # noqa: E402
from herald.dataops.models import ImportKind  # noqa: E402
from herald.dataops.schemas import ExportIn  # noqa: E402
from herald.events.models import Event  # noqa: E402
from herald.orders.models import Order  # noqa: E402
from herald.profiles.service import customer_list  # noqa: E402
from herald.profiles.stats import customer_stats  # noqa: E402

COUNTRIES = ["VN", "US", "GB", "DE", "FR", "JP", "SG", "AU"]
# Filters a merchant sets, each with the sort they read it by.
QUERIES: list[dict[str, Any]] = [
    {"country": "VN", "sort": "-lifetime_value"},
    {"min_orders": 2, "sort": "-last_order"},
    {"min_lifetime_value": "500", "sort": "-orders"},
    {"country": "DE", "min_orders": 1, "sort": "-created_at"},
    {"last_order_after": "RECENT", "sort": "-lifetime_value"},
]


def counts(db: Database, org_id: uuid.UUID) -> tuple[int, int]:
    with db.session(org_id) as session:
        customers = session.scalar(select(func.count()).select_from(Customer)) or 0
        orders = session.scalar(select(func.count()).select_from(Order)) or 0
    return customers, orders


def seed(db: Database, org_id: uuid.UUID, total: int, console: Console) -> None:
    customers, orders = counts(db, org_id)
    if customers == total and orders:
        return
    with db.session(org_id) as session:
        session.execute(delete(Order))
        session.execute(delete(Event))
        session.execute(delete(Customer))
        session.commit()
    console.print(f"writing {total:,} customers and ~{2 * total:,} orders (once) ...")
    rng = random.Random(11)
    now = datetime.now(UTC)
    org = str(org_id)
    people: list[tuple[Any, ...]] = []
    paid: list[PaidOrder] = []
    for n in range(total):
        customer_id = uuid.uuid4()
        joined = now - timedelta(days=rng.randrange(3 * 365))
        times = sorted(
            now - timedelta(seconds=rng.randrange(730 * 86_400)) for _ in range(rng.randrange(5))
        )
        amounts = [Decimal(rng.randrange(500, 40_000)) / 100 for _ in times]
        for at, amount in zip(times, amounts, strict=True):
            paid.append((uuid.uuid4(), customer_id, at, amount))
        people.append(
            (
                customer_id,
                org,
                f"Person {n}",
                "{}",
                joined,
                joined,
                rng.choice(COUNTRIES),
                len(times),
                sum(amounts, Decimal(0)),
                times[0] if times else None,
                times[-1] if times else None,
            )
        )
    with copy_cursor(db, "customers", "events", "orders") as cursor:
        with cursor.copy(
            "COPY customers (id, organization_id, name, attributes, created_at, updated_at,"
            " country, orders_count, lifetime_value, first_order_at, last_order_at) FROM STDIN"
        ) as copy:
            for row in people:
                copy.write_row(row)
        # Each order beside the order.paid event that recorded it.
        with cursor.copy(
            "COPY events (id, organization_id, type, customer_id, occurred_at, received_at,"
            " dispatched_at, dispatch_attempts, properties) FROM STDIN"
        ) as copy:
            for event_id, customer_id, at, amount in paid:
                props = json.dumps({"order_id": event_id.hex, "amount": str(amount)})
                copy.write_row((event_id, org, "order.paid", customer_id, at, at, at, 0, props))
        copy_orders(cursor, org, paid)


def timed_pages(db: Database, org_id: uuid.UUID, pages: int) -> list[float]:
    """Each query in turn: its first page, or (every other time) the page after it."""
    recent = (datetime.now(UTC) - timedelta(days=60)).isoformat()
    timings = []
    for n in range(pages):
        params = {k: (recent if v == "RECENT" else v) for k, v in QUERIES[n % len(QUERIES)].items()}
        query = CustomerQuery.model_validate(params | {"limit": 50})
        with db.session(org_id) as session:
            if n % 2:
                cursor = customer_list(session, query).next_cursor
                query = query.model_copy(update={"cursor": cursor})
            started = time.perf_counter()
            page = customer_list(session, query)
            timings.append(time.perf_counter() - started)
            assert page.items, f"no customers for {params}"
    return timings


def import_file(rows: int) -> bytes:
    lines = [
        "Customer ID,Email,First Name,Last Name,Phone,Tags,Country,City,Address,Accepts Marketing"
    ]
    for n in range(rows):
        phone = f"+849{n:08d}" if n % 2 else ""
        lines.append(
            f'b-{n},person{n}@example.com,First{n},Last{n},{phone},"bench, c{n % 10}",'
            f"{COUNTRIES[n % len(COUNTRIES)]},City {n % 50},{n} Main Street,{'yes' if n % 3 else 'no'}"
        )
    return ("\n".join(lines) + "\n").encode()


def data_operations(db: Database, rows: int) -> tuple[float, float]:
    """Rows per second of an import of ``rows`` new customers (upload included) and of the
    export of them all, each on a new organization."""
    org_id = reused_organization(db, f"bench-dataops-{uuid.uuid4().hex[:8]}", "Data operations")
    raw = import_file(rows)
    started = time.perf_counter()
    with db.session(org_id) as session:
        uploaded = imports.upload(session, ImportKind.customers, "bench.csv", raw, actor="bench")
    with db.session(org_id) as session:
        imports.begin(session, uploaded.id, dry_run=False, actor="bench")
    run = ImportRunInput(organization_id=org_id, import_id=uploaded.id, dry_run=False, actor="b")
    while True:
        with db.session(org_id) as session:
            batch = imports.import_batch(session, run)
        if batch.last_line is None:
            break
        run = run.model_copy(update={"after_line": batch.last_line})
    with db.session(org_id) as session:
        imports.end(
            session, ImportEnd(organization_id=org_id, import_id=uploaded.id, dry_run=False)
        )
    import_s = time.perf_counter() - started
    with db.session(org_id) as session:
        done = imports.get_import(session, uploaded.id).result
    assert done is not None and done.created == rows, done
    started = time.perf_counter()
    with db.session(org_id) as session:
        start = exports.create(session, ExportIn(kind="customers"), actor="bench", keep_seconds=60)
    chunk = start.arg
    assert isinstance(chunk, ExportRunInput)
    written = 0
    while True:
        with db.session(org_id) as session:
            page = exports.write_chunk(session, chunk)
        written += page.rows
        if page.after is None:
            break
        chunk = chunk.model_copy(update={"seq": chunk.seq + 1, "after": page.after})
    export_s = time.perf_counter() - started
    assert written == rows, written
    return rows / import_s, rows / export_s


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="100,000 customers, not 1,000,000")
    parser.add_argument("--customers", type=int)
    parser.add_argument("--pages", type=int, default=200)
    parser.add_argument("--data-rows", type=int, help="rows imported and exported")
    args = parser.parse_args()
    total = args.customers or (100_000 if args.quick else 1_000_000)
    console = Console(stderr=True)
    db, org_id = bench_organization(f"bench-customers-{total}", f"Customer bench {total}")
    seed(db, org_id, total, console)
    customers, orders = counts(db, org_id)
    timed_pages(db, org_id, len(QUERIES))  # warm the caches the way a running API has them
    pages = sorted(timed_pages(db, org_id, args.pages))
    stats_timings = []
    for _ in range(3):
        with db.session(org_id) as session:
            started = time.perf_counter()
            customer_stats(session)
            stats_timings.append(time.perf_counter() - started)
    data_rows = args.data_rows or (20_000 if args.quick else 100_000)
    import_rate, export_rate = data_operations(db, data_rows)
    db.dispose()
    figures = {
        "customers": customers,
        "orders": orders,
        "pages": len(pages),
        "list_p50_ms": round(1000 * statistics.median(pages), 1),
        "list_p99_ms": round(1000 * pages[min(len(pages) - 1, int(0.99 * len(pages)))], 1),
        "stats_s": round(statistics.median(stats_timings), 3),
        "data_rows": data_rows,
        "import_rows_per_s": round(import_rate),
        "export_rows_per_s": round(export_rate),
    }
    table = Table(title=f"customer list and stats, {customers:,} customers, {orders:,} orders")
    table.add_column("figure")
    table.add_column("value", justify="right")
    table.add_row("list page with a filter and a sort, p50 (ms)", f"{figures['list_p50_ms']}")
    table.add_row("list page with a filter and a sort, p99 (ms)", f"{figures['list_p99_ms']}")
    table.add_row("stats, a year by month (s, median of 3)", f"{figures['stats_s']}")
    table.add_row(
        f"import of {data_rows:,} customers (rows/s)", f"{figures['import_rows_per_s']:,}"
    )
    table.add_row(
        f"export of {data_rows:,} customers (rows/s)", f"{figures['export_rows_per_s']:,}"
    )
    Console().print(table)
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
