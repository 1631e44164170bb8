"""Revenue analytics at scale: a full rollup rebuild, then each report as a merchant asks it.

    python bench/analytics.py [--quick] [--customers N]

On PostgreSQL from HERALD_BENCH_DATABASE_URL (default: the local `test` database), the segment
bench's organization (`bench/segments.py`: 1,000,000 customers and ~10,000,000 events over the
last year, their orders among them; 100,000 customers with --quick), reused when it is there.
Once, the customers' order figures are computed (the bench writes orders with COPY, beside the
events service), and a campaign of 100,000 recipients (10,000 with --quick) is written as its
run leaves it: messages ten days old, a third opened, one in twelve clicked, variants A and B.

Then: the full rollup rebuild (every order attributed, every day, week and month, the cohorts
and acquisition), and — three times each, the median reported — a 24-month cohort table, a
3-step funnel over 30 days (page viewed, cart abandoned, order paid within a week), the
campaign's results with attribution (its page), the attribution report by variant, and a year
of daily series. Last, once, the lifetime-value fit as of today with every buyer scored (the
predictions run's first activity: summaries in SQL, both models fitted, a million scores
written). Prints a table and, last, one JSON line.
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import sys
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table
from sqlalchemy import func, select, true

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.segments import counts, seed  # noqa: E402
from bench.stack import bench_organization, copy_cursor  # noqa: E402
from herald.analytics import funnels, reports  # noqa: E402
from herald.analytics.models import Granularity  # noqa: E402
from herald.analytics.rollup import refresh  # noqa: E402
from herald.analytics.schemas import AttributionDimension, FunnelQuery  # noqa: E402
from herald.campaigns.analytics import campaign_analytics  # noqa: E402
from herald.campaigns.contracts import CampaignStatus, intent_key  # noqa: E402
from herald.campaigns.models import Campaign  # noqa: E402
from herald.customers.models import Customer  # noqa: E402
from herald.database import Database  # noqa: E402
from herald.orders import figures  # noqa: E402
from herald.predictions import service as predictions  # noqa: E402

CAMPAIGN = "bench-analytics"


def ensure_figures(db: Database, org_id: uuid.UUID, console: Console) -> None:
    """The customers' order figures, as the events service keeps them (once)."""
    with db.session(org_id) as session:
        if session.scalar(select(func.count()).where(Customer.first_order_at.is_not(None))):
            return
        console.print("computing every customer's order figures (once) ...")
        figures.refresh(session, true())
        session.commit()
    with copy_cursor(db, "customers"):
        pass


def ensure_campaign(db: Database, org_id: uuid.UUID, size: int, console: Console) -> uuid.UUID:
    """A sent campaign of ``size`` recipients, its messages and recipients written with COPY."""
    with db.session(org_id) as session:
        found = session.scalar(select(Campaign.id).where(Campaign.key == CAMPAIGN))
        if found is not None:
            return found
        campaign = Campaign(
            key=CAMPAIGN,
            name="Bench autumn sale",
            channel="email",
            status=CampaignStatus.completed,
            audience={"customers": []},
            variants=[{"name": "A", "template": "a"}, {"name": "B", "template": "b"}],
            recipients_total=size,
        )
        session.add(campaign)
        session.commit()
        campaign_id = campaign.id
        customers = list(session.scalars(select(Customer.id).order_by(Customer.id).limit(size)))
    console.print(f"writing a campaign of {size:,} recipients (once) ...")
    rng = random.Random(11)
    sent = datetime.now(UTC) - timedelta(days=10)
    org = str(org_id)
    with copy_cursor(db, "messages", "campaign_recipients") as cursor:
        messages = []
        with cursor.copy(
            "COPY messages (id, organization_id, idempotency_key, channel, category,"
            " customer_id, recipient, content, provider, status, attempts, in_flight,"
            " created_at, sent_at, opened_at, clicked_at, updated_at) FROM STDIN"
        ) as copy:
            for position, customer_id in enumerate(customers):
                message_id = uuid.uuid4()
                at = sent + timedelta(seconds=position // 50)
                opened = (
                    at + timedelta(hours=rng.uniform(0.1, 30)) if rng.random() < 1 / 3 else None
                )
                clicked = opened + timedelta(minutes=2) if opened and rng.random() < 0.25 else None
                status = "clicked" if clicked else "opened" if opened else "delivered"
                copy.write_row(
                    (
                        message_id,
                        org,
                        intent_key(campaign_id, customer_id),
                        "email",
                        "marketing",
                        customer_id,
                        f"r{position}@bench.example",
                        "{}",
                        "outbox",
                        status,
                        1,
                        False,
                        at,
                        at,
                        opened,
                        clicked,
                        at,
                    )
                )
                messages.append((customer_id, message_id))
        with cursor.copy(
            "COPY campaign_recipients (campaign_id, customer_id, organization_id, position,"
            " variant, message_id, status) FROM STDIN"
        ) as copy:
            for position, (customer_id, message_id) in enumerate(messages):
                variant = "AB"[position % 2]
                copy.write_row(
                    (campaign_id, customer_id, org, position, variant, message_id, "sent")
                )
    return campaign_id


def median_of_three(work: Callable[[], Any]) -> tuple[float, Any]:
    timings, result = [], None
    for _ in range(3):
        started = time.perf_counter()
        result = work()
        timings.append(time.perf_counter() - started)
    return round(statistics.median(timings), 3), result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="100,000 customers, not 1,000,000")
    parser.add_argument("--customers", type=int)
    args = parser.parse_args()
    total = args.customers or (100_000 if args.quick else 1_000_000)
    recipients = min(100_000, total // 10) if args.quick else 100_000
    console = Console(stderr=True)
    db, org_id = bench_organization(f"bench-segments-{total}", f"Segment bench {total}")
    seed(db, org_id, total, 10, console)
    ensure_figures(db, org_id, console)
    campaign_id = ensure_campaign(db, org_id, recipients, console)
    customers, events, orders = counts(db, org_id)

    console.print("rebuilding every rollup ...")
    with db.session(org_id) as session:
        started = time.perf_counter()
        rebuilt = refresh(session, full=True)
        rollup_s = round(time.perf_counter() - started, 1)
    with db.session(org_id) as session:
        started = time.perf_counter()
        refresh(session)
        incremental_s = round(time.perf_counter() - started, 2)

    now = datetime.now(UTC)
    today = now.date()

    def timed(work: Callable[[Any], Any]) -> tuple[float, Any]:
        def once() -> Any:
            with db.session(org_id) as session:
                return work(session)

        return median_of_three(once)

    cohorts_s, cohort_report = timed(lambda s: reports.cohorts(s, Granularity.month, 24))
    funnel = FunnelQuery.model_validate(
        {
            "steps": [
                {"event": "page.viewed"},
                {"event": "cart.abandoned"},
                {"event": "order.paid"},
            ],
            "since": now - timedelta(days=30),
            "until": now,
            "within_hours": 24 * 7,
        }
    )
    funnel_s, funnel_report = timed(lambda s: funnels.funnel(s, funnel))

    def campaign_page(session: Any) -> Any:
        return campaign_analytics(session, session.get(Campaign, campaign_id))

    attribution_s, campaign_report = timed(campaign_page)
    by_variant_s, _ = timed(
        lambda s: reports.attribution(
            s, AttributionDimension.variant, today - timedelta(days=29), today
        )
    )
    timeseries_s, _ = timed(
        lambda s: reports.series(s, Granularity.day, today - timedelta(days=364), today)
    )
    console.print("fitting the lifetime-value models and scoring every buyer ...")
    with db.session(org_id) as session:
        started = time.perf_counter()
        fitted = predictions.fit(session, today, None, score=True)
        fit_and_score_s = round(time.perf_counter() - started, 1)
    db.dispose()

    steps = funnel_report.groups[0].steps
    revenue = campaign_report.revenue
    results = {
        "customers": customers,
        "events": events,
        "orders": orders,
        "campaign_recipients": recipients,
        "cohorts_s": cohorts_s,
        "funnel_s": funnel_s,
        "attribution_s": max(attribution_s, by_variant_s),
        "timeseries_s": timeseries_s,
        "rollup_s": rollup_s,
        "incremental_rollup_s": incremental_s,
        "fit_and_score_s": fit_and_score_s,
        "customers_scored": fitted.scored,
    }
    table = Table(title=f"revenue analytics, {customers:,} customers, {events:,} events")
    table.add_column("figure")
    table.add_column("value", justify="right")
    table.add_row("customers / events / orders", f"{customers:,} / {events:,} / {orders:,}")
    table.add_row(
        "full rollup rebuild (s)",
        f"{rollup_s} ({rebuilt.attribution_rows:,} attributions, {rebuilt.periods:,} periods, "
        f"{rebuilt.cohort_cells:,} cohort cells)",
    )
    table.add_row("incremental rollup, nothing new (s)", f"{incremental_s}")
    table.add_row(
        "24-month cohort table (s)", f"{cohorts_s} ({len(cohort_report.cohorts)} cohorts)"
    )
    table.add_row(
        "3-step funnel over 30 days (s)",
        f"{funnel_s} ({' > '.join(f'{s.customers:,}' for s in steps)})",
    )
    table.add_row(
        f"campaign of {recipients:,} with attribution (s)",
        f"{attribution_s} (revenue {revenue:,.2f} {campaign_report.currency})",
    )
    table.add_row("attribution by variant, 30 days (s)", f"{by_variant_s}")
    table.add_row("a year of daily series (s)", f"{timeseries_s}")
    parameters = ", ".join(
        f"{name} {value:.3g}"
        for name, value in {**(fitted.bg_nbd or {}), **(fitted.gamma_gamma or {})}.items()
    )
    table.add_row(
        "lifetime-value fit and scoring (s)",
        f"{fit_and_score_s} ({fitted.status}, {fitted.scored:,} scored; {parameters or fitted.reason})",
    )
    Console().print(table)
    print(json.dumps(results))


if __name__ == "__main__":
    main()
