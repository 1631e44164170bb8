"""Birthday rewards: find one day's birthdays among many customers, and reward each once.

    python bench/birthday.py [--quick] [--customers N]

On PostgreSQL from HERALD_BENCH_DATABASE_URL (default: the local `test` database): an
organization of N customers (1,000,000; 100,000 with --quick) with birthdays spread over the
year and time zones around the world, each with an email address and email consent, written
with COPY once and reused by later runs (their rewards are cleared first). Then:

1. lookup: the sweep's query, page by page as the activity runs it, for today at the schedule's
   hour (each customer in their own time zone);
2. rewards: with a Temporal dev server, Herald's worker and API running, the `BirthdayRewards`
   sweep is started for that instant and every `BirthdayReward` run (points, then the email
   through `SendMessage`) is counted in the database until all are done; the sweep is then run
   a second time, which must reward nobody again.

`expected` is worked out in Python from every customer's birthday and time zone, apart from the
SQL. Prints a table and, last, one JSON line of the figures.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import sys
import time
import uuid
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from rich.console import Console
from rich.table import Table
from sqlalchemy import delete, func, select

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.stack import (  # noqa: E402
    BENCH_SECRET,
    bench_database_url,
    copy_cursor,
    reused_organization,
    running_herald,
)
from herald.customers.models import Customer, month_day  # noqa: E402
from herald.database import Database  # noqa: E402
from herald.loyalty.birthdays import BIRTHDAY_SOURCE, celebrated_days, find_birthdays  # noqa: E402
from herald.loyalty.contracts import (  # noqa: E402
    BIRTHDAY_SWEEP_WORKFLOW,
    BirthdayQuery,
    BirthdaySweepInput,
    BirthdaySweepOutcome,
)
from herald.loyalty.models import LedgerEntry, LoyaltyAccount  # noqa: E402
from herald.loyalty.schemas import LoyaltySettingsIn  # noqa: E402
from herald.loyalty.service import put_settings  # noqa: E402
from herald.messaging.models import Message  # noqa: E402
from herald.messaging.schemas import MessagingSettingsIn  # noqa: E402
from herald.messaging.setup import put_messaging_settings  # noqa: E402
from herald.migrate import upgrade  # noqa: E402
from herald.outbound import Outbound  # noqa: E402
from herald.schedules import SWEEP_HOUR_UTC  # noqa: E402
from herald.settings import Settings  # noqa: E402
from herald.temporal import connect  # noqa: E402

# Where the customers live: both sides of the date line, and some without a time zone (UTC).
ZONES = [
    "Asia/Tokyo",
    "Europe/London",
    "Europe/Berlin",
    "America/New_York",
    "America/Los_Angeles",
    "Australia/Sydney",
    "Asia/Kolkata",
    "Pacific/Kiritimati",
    "Pacific/Pago_Pago",
    "America/Sao_Paulo",
    None,
]
POINTS = 25


def bench_org(db: Database, customers: int) -> uuid.UUID:
    found = reused_organization(db, f"bench-birthdays-{customers}", f"Birthday bench {customers}")
    with db.session(found) as session:
        put_messaging_settings(
            session, MessagingSettingsIn(postal_address="1 Bench Street"), Outbound()
        )
        put_settings(
            session,
            LoyaltySettingsIn(points_per_unit=1, birthday_enabled=True, birthday_points=POINTS),
        )
    return found


def seed(db: Database, org_id: uuid.UUID, total: int, console: Console) -> None:
    """COPY ``total`` customers with emails and consent, unless they are there already."""
    with db.session(org_id) as session:
        have = session.scalar(select(func.count()).select_from(Customer)) or 0
        if have == total:
            return
        session.execute(delete(Customer))
        session.commit()
    console.print(f"writing {total:,} customers with COPY (once) ...")
    rng = random.Random(1)
    now = datetime.now(UTC).isoformat()
    org = str(org_id)
    with copy_cursor(db, "customers") as cursor:
        ids = [uuid.uuid4() for _ in range(total)]
        with cursor.copy(
            "COPY customers (id, organization_id, name, attributes, primary_email, birthday,"
            " birthday_md, timezone, created_at, updated_at) FROM STDIN"
        ) as copy:
            for n, customer_id in enumerate(ids):
                born = date(1950, 1, 1) + timedelta(days=rng.randrange(365 * 55))
                copy.write_row(
                    (
                        customer_id,
                        org,
                        f"Person {n}",
                        "{}",
                        f"p{n}@bench.example",
                        born,
                        month_day(born),
                        rng.choice(ZONES),
                        now,
                        now,
                    )
                )
        with cursor.copy(
            "COPY customer_emails (id, organization_id, customer_id, email, is_primary,"
            " position) FROM STDIN"
        ) as copy:
            for n, customer_id in enumerate(ids):
                copy.write_row((uuid.uuid4(), org, customer_id, f"p{n}@bench.example", True, 0))
        with cursor.copy(
            "COPY consents (id, organization_id, customer_id, channel, status, source,"
            " updated_at) FROM STDIN"
        ) as copy:
            for customer_id in ids:
                copy.write_row((uuid.uuid4(), org, customer_id, "email", "granted", "import", now))


def clear_rewards(db: Database, org_id: uuid.UUID) -> None:
    with db.session(org_id) as session:
        session.execute(delete(Message))
        session.execute(delete(LedgerEntry))
        session.execute(delete(LoyaltyAccount))
        session.commit()


def expected_count(db: Database, org_id: uuid.UUID, at: datetime) -> int:
    local_days: dict[str | None, list[int]] = {
        zone: celebrated_days(at.astimezone(ZoneInfo(zone or "UTC")).date()) for zone in ZONES
    }
    with db.session(org_id) as session:
        rows = session.execute(select(Customer.birthday, Customer.timezone))
        return sum(1 for born, zone in rows if month_day(born) in local_days[zone])


def timed_lookup(db: Database, org_id: uuid.UUID, at: datetime) -> tuple[int, float]:
    started = time.perf_counter()
    found, after = 0, None
    with db.system_session() as session:
        while True:
            page = find_birthdays(
                session, BirthdayQuery(at=at, organization_id=org_id, after=after)
            )
            found += len(page.rewards)
            if page.after is None:
                return found, time.perf_counter() - started
            after = page.after


def reward_counts(db: Database, org_id: uuid.UUID) -> tuple[int, int, int]:
    """(customers rewarded, ledger entries, birthday emails sent)."""
    with db.session(org_id) as session:
        entries = session.scalar(
            select(func.count())
            .select_from(LedgerEntry)
            .where(LedgerEntry.source == BIRTHDAY_SOURCE)
        )
        rewarded = session.scalar(
            select(func.count(func.distinct(LedgerEntry.customer_id))).where(
                LedgerEntry.source == BIRTHDAY_SOURCE
            )
        )
        emails = session.scalar(
            select(func.count())
            .select_from(Message)
            .where(Message.idempotency_key.startswith("birthday/"), Message.status == "sent")
        )
    return rewarded or 0, entries or 0, emails or 0


async def sweep(address: str, org_id: uuid.UUID, at: datetime) -> BirthdaySweepOutcome:
    client = await connect(Settings(temporal_address=address, secret_key=BENCH_SECRET))
    result = await client.execute_workflow(
        BIRTHDAY_SWEEP_WORKFLOW,
        BirthdaySweepInput(at=at, organization_id=org_id),
        id=f"bench-sweep-{uuid.uuid4().hex[:8]}",
        task_queue="herald-bench",
        result_type=BirthdaySweepOutcome,
    )
    assert isinstance(result, BirthdaySweepOutcome)
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="100,000 customers, not 1,000,000")
    parser.add_argument("--customers", type=int)
    args = parser.parse_args()
    total = args.customers or (100_000 if args.quick else 1_000_000)
    database_url = bench_database_url()
    console = Console(stderr=True)
    upgrade(database_url)
    db = Database(database_url)
    org_id = bench_org(db, total)
    seed(db, org_id, total, console)
    clear_rewards(db, org_id)
    at = datetime.now(UTC).replace(hour=SWEEP_HOUR_UTC, minute=0, second=0, microsecond=0)
    expected = expected_count(db, org_id, at)
    timed_lookup(db, org_id, at)  # warm the cache, as a daily job finds it
    found, lookup_s = timed_lookup(db, org_id, at)

    with running_herald(database_url) as stack:
        time.sleep(2)  # let the worker finish starting
        console.print(f"rewarding {found:,} birthdays ...")
        started = time.perf_counter()
        first = asyncio.run(sweep(stack.address, org_id, at))
        sweep_s = time.perf_counter() - started
        deadline = started + 900
        while time.perf_counter() < deadline:
            rewarded, entries, emails = reward_counts(db, org_id)
            if rewarded >= first.started and emails >= first.started:
                break
            time.sleep(0.5)
        reward_s = time.perf_counter() - started
        second = asyncio.run(sweep(stack.address, org_id, at))
        time.sleep(2)
        rewarded, entries, emails = reward_counts(db, org_id)
    db.dispose()

    figures = {
        "customers": total,
        "lookup_s": round(lookup_s, 3),
        "found": found,
        "expected": expected,
        "rewarded": rewarded,
        "emails": emails,
        "duplicates": entries - rewarded,
        "second_sweep_started": second.started,
        "sweep_s": round(sweep_s, 1),
        "reward_s": round(reward_s, 1),
        "rewards_per_s": round(rewarded / reward_s, 1),
    }
    table = Table(title=f"birthdays of {at:%d %B} among {total:,} customers")
    table.add_column("figure")
    table.add_column("value", justify="right")
    table.add_row("lookup: one day's birthdays (s)", f"{figures['lookup_s']}")
    table.add_row("birthdays found / expected", f"{found:,} / {expected:,}")
    table.add_row("sweep run: all reward runs started (s)", f"{figures['sweep_s']}")
    table.add_row("all rewarded: points and email (s)", f"{figures['reward_s']}")
    table.add_row("rewards per second", f"{figures['rewards_per_s']}")
    table.add_row("customers rewarded / emails sent", f"{rewarded:,} / {emails:,}")
    table.add_row(
        "rewarded twice / started by a second sweep", f"{entries - rewarded} / {second.started}"
    )
    Console().print(table)
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
