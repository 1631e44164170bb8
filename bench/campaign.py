"""A campaign sent end to end: API, CampaignSend run, delivery path, a fake SendGrid.

    python bench/campaign.py [--quick] [--recipients N] [--worker-processes P]

N customers (email consent) form a segment; a two-variant campaign to it is created and sent
through Herald's API, with the worker, the API and a Temporal dev server running as processes
and PostgreSQL from HERALD_BENCH_DATABASE_URL (default the local `test` database). The clock
runs from the send request to the campaign's status `completed`; SendGrid is a local fake in
its own process, which then says whom it received, so duplicates and missing recipients are
counted where they would be noticed. Then the delivery bench's bare loop does the same necessary
work for the same audience (read, render in the same sandbox, post the same bodies, COPY the
rows) on 2 threads, and gives the ratio. The worker runs one process per core
(`--worker-processes`, default 2).
Prints a table, then one JSON line.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
import uuid
from collections import Counter
from pathlib import Path
from typing import Any

import httpx
from rich.console import Console
from rich.table import Table
from sqlalchemy import select

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.delivery import TEMPLATE, bare_send, run_bare  # noqa: E402
from bench.stack import (  # noqa: E402
    add_codec_and_metrics_flag,
    bench_database_url,
    fake_providers,
    peak_rss_mb,
    running_herald,
)
from herald.customers.models import Customer  # noqa: E402
from herald.database import Database  # noqa: E402
from herald.messaging.models import MessageTemplate  # noqa: E402
from herald.migrate import upgrade  # noqa: E402
from herald.organizations.service import create_organization  # noqa: E402
from tests.seed import seed_email_audience  # noqa: E402

BARE_THREADS = 2
BARE_BATCH = 1000


def _call(api: httpx.Client, method: str, path: str, **kwargs: Any) -> Any:
    response = api.request(method, path, **kwargs)
    if response.status_code >= 300:
        raise SystemExit(f"{method} {path}: {response.status_code} {response.text}")
    return response.json() if response.content else None


def set_up(api: httpx.Client, fake_url: str) -> dict[str, Any]:
    """Settings, two template variants, the segment and the campaign, as a marketer would."""
    _call(
        api,
        "PUT",
        "/v1/messaging/settings",
        json={
            "email_from": "news@shop.example",
            "sendgrid_api_key": "SG.bench",
            "sendgrid_host": fake_url,
            "postal_address": "1 Bench St",
        },
    )
    template = TEMPLATE.model_dump(mode="json")
    for key in ("bench-a", "bench-b"):
        _call(api, "POST", "/v1/templates", json={**template, "key": key, "category": "marketing"})
    _call(
        api,
        "POST",
        "/v1/segments",
        json={"key": "readers", "name": "Readers", "rule": {"consent": "email"}},
    )
    return _call(  # type: ignore[no-any-return]
        api,
        "POST",
        "/v1/campaigns",
        json={
            "key": "bench",
            "name": "Bench",
            "channel": "email",
            "audience": {"segment": "readers"},
            "variants": [
                {"name": "A", "template": "bench-a"},
                {"name": "B", "template": "bench-b"},
            ],
        },
    )


def send_and_wait(api: httpx.Client, campaign: dict[str, Any], console: Console) -> float:
    started = time.perf_counter()
    _call(api, "POST", f"/v1/campaigns/{campaign['id']}/send")
    while True:
        shown = _call(api, "GET", f"/v1/campaigns/{campaign['id']}")
        if shown["status"] in ("completed", "cancelled"):
            return time.perf_counter() - started
        console.print(f"  {shown['progress']['handed_over']:,} handed over", end="\r")
        time.sleep(0.5)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="5,000 recipients, not 100,000")
    parser.add_argument("--recipients", type=int)
    parser.add_argument("--worker-processes", type=int, default=2)
    add_codec_and_metrics_flag(parser)
    args = parser.parse_args()
    total = args.recipients or (5_000 if args.quick else 100_000)
    database_url = bench_database_url()
    console = Console(stderr=True)
    with fake_providers() as fake_url:
        upgrade(database_url)
        db = Database(database_url)
        with db.system_session() as session:
            org, owner = create_organization(session, f"Campaign bench {uuid.uuid4().hex[:6]}")
        console.print(f"seeding {total:,} customers ...")
        customers = seed_email_audience(db, org.id, total)
        with running_herald(
            database_url, args.worker_processes, codec_and_metrics=args.codec_and_metrics
        ) as stack:
            headers = {"Authorization": f"Bearer {owner.secret}"}
            with httpx.Client(base_url=stack.base_url, headers=headers, timeout=120) as api:
                campaign = set_up(api, fake_url)
                console.print(f"sending a campaign to {total:,} recipients ...")
                elapsed = send_and_wait(api, campaign, console)
                shown = _call(api, "GET", f"/v1/campaigns/{campaign['id']}")
            worker_rss = peak_rss_mb(stack.worker_pid)
        received = Counter(httpx.get(f"{fake_url}/_fake/sendgrid/recipients").json()["to"])
        with db.session(org.id) as session:
            audience = set(session.scalars(select(Customer.primary_email)))
            template_id = session.scalar(
                select(MessageTemplate.id).where(MessageTemplate.key == "bench-a")
            )
        assert template_id is not None
        console.print("the same emails by the delivery bench's bare loop ...")
        send = bare_send(db, org.id, template_id, fake_url)
        bare = run_bare(db, send, fake_url, customers, BARE_THREADS, BARE_BATCH)
        db.dispose()

    rate = total / elapsed
    figures = {
        "codec_and_metrics": args.codec_and_metrics,
        "recipients": shown["progress"]["recipients"],
        "elapsed_s": round(elapsed, 1),
        "messages_per_s": round(rate, 1),
        "bare_messages_per_s": round(bare, 1),
        "ratio": round(rate / bare, 3),
        "duplicates": sum(n - 1 for n in received.values() if n > 1),
        "missing": len(audience - set(received)),
        "by_status": shown["progress"]["by_status"],
        "peak_rss_mb": round(worker_rss, 1),
        "worker_processes": args.worker_processes,
    }
    table = Table(title=f"a two-variant campaign to {total:,} recipients, fake SendGrid")
    table.add_column("figure")
    table.add_column("value", justify="right")
    table.add_row("send request → completed (s)", f"{elapsed:,.1f}")
    table.add_row("messages/s, end to end", f"{rate:,.1f}")
    table.add_row("bare loop: read, render, post, COPY (messages/s)", f"{bare:,.1f}")
    table.add_row("ratio", f"{figures['ratio']}")
    table.add_row(
        "received twice / never received", f"{figures['duplicates']} / {figures['missing']}"
    )
    table.add_row("statuses at handover", json.dumps(figures["by_status"]))
    table.add_row("worker peak memory (MB)", f"{worker_rss:,.1f}")
    Console().print(table)
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
