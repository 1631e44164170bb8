"""Segment preview speed: a four-condition audience over many customers and events.

    python bench/segments.py [--quick] [--customers N] [--events-per-customer K]

On PostgreSQL from HERALD_BENCH_DATABASE_URL (default: the local `test` database): an
organization of N customers (1,000,000; 100,000 with --quick) and K events each on average
(10), written with COPY on the first run (then vacuumed and analyzed, as autovacuum would) and
reused after. The events are orders (with amounts, each recorded as an order too), page views
and abandoned carts spread over the last year; half the customers consent to email; each has a plan attribute. Then the
preview Herald answers for `POST /v1/segments/preview` (the count and the first members) of

    spent over 300 in the last 90 days AND consents to email AND plan in (pro, team)
    AND viewed a page at least 3 times in the last 30 days

is timed three times (the median is reported). Prints a table and, last, one JSON line.
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
from pathlib import Path

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
)
from herald.customers.models import Customer  # noqa: E402
from herald.database import Database  # noqa: E402
from herald.events.models import Event  # noqa: E402
from herald.orders.models import Order  # noqa: E402
from herald.segments.rules import RULE_ADAPTER, Rule  # noqa: E402
from herald.segments.service import preview  # noqa: E402

RULE = {
    "all": [
        {"orders": "total_spent", "op": "gt", "value": 300, "within_days": 90},
        {"consent": "email"},
        {"attribute": "plan", "op": "in", "value": ["pro", "team"]},
        {"performed": "page.viewed", "within_days": 30, "at_least": 3},
    ]
}
KINDS = [("order.paid", 0.3), ("page.viewed", 0.5), ("cart.abandoned", 0.2)]


def counts(db: Database, org_id: uuid.UUID) -> tuple[int, int, int]:
    with db.session(org_id) as session:
        customers = session.scalar(select(func.count()).select_from(Customer)) or 0
        events = session.scalar(select(func.count()).select_from(Event)) or 0
        orders = session.scalar(select(func.count()).select_from(Order)) or 0
    return customers, events, orders


def seed(db: Database, org_id: uuid.UUID, total: int, per_customer: int, console: Console) -> None:
    customers, events, orders = counts(db, org_id)
    if customers == total and events >= total * per_customer * 0.9 and orders:
        return
    with db.session(org_id) as session:
        session.execute(delete(Order))
        session.execute(delete(Event))
        session.execute(delete(Customer))
        session.commit()
    console.print(f"writing {total:,} customers and ~{total * per_customer:,} events (once) ...")
    rng = random.Random(7)
    now = datetime.now(UTC)
    org = str(org_id)
    types = [k for k, _ in KINDS]
    weights = [w for _, w in KINDS]
    paid: list[PaidOrder] = []
    with copy_cursor(db, "customers", "consents", "events", "orders") as cursor:
        ids = [uuid.uuid4() for _ in range(total)]
        with cursor.copy(
            "COPY customers (id, organization_id, name, attributes, primary_email,"
            " created_at, updated_at) FROM STDIN"
        ) as copy:
            for n, customer_id in enumerate(ids):
                joined = now - timedelta(days=rng.randrange(3 * 365))
                plan = rng.choice(["free", "free", "pro", "team"])
                copy.write_row(
                    (
                        customer_id,
                        org,
                        f"Person {n}",
                        json.dumps({"plan": plan}),
                        f"s{n}@bench.example",
                        joined,
                        joined,
                    )
                )
        with cursor.copy(
            "COPY consents (id, organization_id, customer_id, channel, status, source,"
            " updated_at) FROM STDIN"
        ) as copy:
            for customer_id in ids[::2]:
                copy.write_row((uuid.uuid4(), org, customer_id, "email", "granted", "import", now))
        with cursor.copy(
            "COPY events (id, organization_id, type, customer_id, occurred_at, received_at,"
            " dispatched_at, dispatch_attempts, properties) FROM STDIN"
        ) as copy:
            for customer_id in ids:
                for _ in range(rng.randrange(2 * per_customer + 1)):
                    kind = rng.choices(types, weights)[0]
                    at = now - timedelta(seconds=rng.randrange(365 * 86_400))
                    event_id = uuid.uuid4()
                    properties = {}
                    if kind == "order.paid":
                        amount = rng.randrange(5, 400)
                        properties = {"order_id": event_id.hex, "amount": amount}
                        paid.append((event_id, customer_id, at, amount))
                    copy.write_row(
                        (
                            event_id,
                            org,
                            kind,
                            customer_id,
                            at,
                            at,
                            at,
                            0,
                            json.dumps(properties),
                        )
                    )
        copy_orders(cursor, org, paid)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="100,000 customers, not 1,000,000")
    parser.add_argument("--customers", type=int)
    parser.add_argument("--events-per-customer", type=int, default=10)
    args = parser.parse_args()
    total = args.customers or (100_000 if args.quick else 1_000_000)
    console = Console(stderr=True)
    db, org_id = bench_organization(f"bench-segments-{total}", f"Segment bench {total}")
    seed(db, org_id, total, args.events_per_customer, console)
    customers, events, orders = counts(db, org_id)
    rule: Rule = RULE_ADAPTER.validate_python(RULE)
    timings, count = [], 0
    for _ in range(3):
        with db.session(org_id) as session:
            started = time.perf_counter()
            count = preview(session, rule).count
            timings.append(time.perf_counter() - started)
    db.dispose()
    figures = {
        "customers": customers,
        "events": events,
        "orders": orders,
        "preview_s": round(statistics.median(timings), 3),
        "members": count,
    }
    table = Table(title=f"four-condition segment preview, {customers:,} customers")
    table.add_column("figure")
    table.add_column("value", justify="right")
    table.add_row("customers / events / orders", f"{customers:,} / {events:,} / {orders:,}")
    table.add_row("members", f"{count:,}")
    table.add_row("preview: count and first members (s, median of 3)", f"{figures['preview_s']}")
    Console().print(table)
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
