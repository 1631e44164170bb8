"""Throughput of push delivery: Herald's delivery path through FCM HTTP v1, against the local
fake FCM (`herald fake-fcm`, its own process, with its OAuth endpoint).

    python bench/push.py [--quick] [--customers N] [--threads K] [--batch B]

N customers who accept push, each with two app installs, every tenth with a third one FCM calls
dead, are sent one marketing push in batches of B, as a campaign hands them over:
`deliver_batch` renders each message, checks the send-time rules set-based, records it, records
each device's row before its request, signs in once (google-auth, the token held), makes one
request per device (v1 has no batch send) through the outbound guard, and deactivates the dead
devices. Then a bare loop posts the same number of requests to the same fake with one token over
kept-alive connections: the least any sender must do. The ratio is Herald's device requests per
second over the bare loop's. PostgreSQL from HERALD_BENCH_DATABASE_URL (default the local `test`
database). Prints a table, then one JSON line.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
from rich.console import Console
from rich.table import Table
from sqlalchemy import func, insert, select

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

# The same campaign-shaped hand-over as the email bench, and the same leave for the local fake.
from bench.delivery import TO_FAKE, run_herald  # noqa: E402
from bench.stack import bench_database_url  # noqa: E402
from herald.database import Database  # noqa: E402
from herald.db import utcnow  # noqa: E402
from herald.devserver import free_port, herald_command, wait_for_port  # noqa: E402
from herald.messaging.fcm import access_token  # noqa: E402
from herald.messaging.models import (  # noqa: E402
    Channel,
    Consent,
    ConsentStatus,
    Device,
    PushDelivery,
)
from herald.messaging.schemas import MessagingSettingsIn, TemplateCreate  # noqa: E402
from herald.messaging.setup import put_messaging_settings  # noqa: E402
from herald.messaging.templates import create_template  # noqa: E402
from herald.migrate import upgrade  # noqa: E402
from herald.organizations.service import create_organization  # noqa: E402
from tests.seed import seed_email_audience  # noqa: E402

TEMPLATE = TemplateCreate(
    key="bench-push",
    name="Bench push",
    channel=Channel.push,
    default_locale="en",
    variants={
        "en": {
            "title": "{{ customer.first_name }}, {{ customer.points }} points are waiting",
            "body": "Spend them before Sunday",
            "data": {"screen": "rewards"},
            "link": "https://shop.example/rewards",
            "android": {"channel_id": "offers"},
        }
    },
)


def seed_devices(db: Database, org_id: uuid.UUID, customers: list[uuid.UUID]) -> int:
    """Push consent and devices for every customer; the number of devices FCM calls dead."""
    now = utcnow()
    dead = 0
    with db.session(org_id) as session:
        for start in range(0, len(customers), 5_000):
            chunk = customers[start : start + 5_000]
            session.execute(
                insert(Consent),
                [
                    {
                        "id": uuid.uuid4(),
                        "organization_id": org_id,
                        "customer_id": c,
                        "channel": Channel.push,
                        "status": ConsentStatus.granted,
                        "source": "bench",
                        "updated_at": now,
                    }
                    for c in chunk
                ],
            )
            rows = []
            for n, c in enumerate(chunk, start):
                tokens = [f"phone-{c.hex}", f"tablet-{c.hex}"]
                if n % 10 == 0:
                    tokens.append(f"unregistered-{c.hex}")
                    dead += 1
                rows += [
                    {
                        "id": uuid.uuid4(),
                        "organization_id": org_id,
                        "customer_id": c,
                        "token": token,
                        "platform": "android",
                        "created_at": now,
                        "last_seen_at": now,
                        "active": True,
                    }
                    for token in tokens
                ]
            session.execute(insert(Device), rows)
        session.commit()
    return dead


def run_bare(url: str, key: str, requests: int, threads: int) -> float:
    """Requests per second: the same number of v1 sends, one token, kept-alive connections."""
    token = access_token(uuid.uuid4(), key, TO_FAKE)
    project = json.loads(key)["project_id"]
    endpoint = f"{url}/v1/projects/{project}/messages:send"
    share = [requests // threads + (1 if i < requests % threads else 0) for i in range(threads)]

    def post(count: int) -> None:
        with httpx.Client(headers={"Authorization": f"Bearer {token}"}) as client:
            for n in range(count):
                body = {
                    "message": {
                        "token": f"bare-token-{n:08d}",
                        "notification": {"title": "Hi, 0 points are waiting", "body": "Sunday"},
                        "data": {"screen": "rewards", "herald_message_id": str(uuid.uuid4())},
                    }
                }
                assert client.post(endpoint, json=body).status_code == 200

    started = time.perf_counter()
    with ThreadPoolExecutor(threads) as pool:
        list(pool.map(post, share))
    return requests / (time.perf_counter() - started)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="1,000 customers instead of 20,000")
    parser.add_argument("--customers", type=int)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--batch", type=int, default=500, help="recipients per batch")
    args = parser.parse_args()
    total = args.customers or (1_000 if args.quick else 20_000)
    database_url = bench_database_url()
    console = Console(stderr=True)

    port = free_port()
    with tempfile.TemporaryDirectory() as scratch:
        key_file = Path(scratch) / "key.json"
        fake = subprocess.Popen(
            herald_command("fake-fcm", "--port", str(port), "--key-file", str(key_file)),
            stdout=subprocess.DEVNULL,
        )
        try:
            wait_for_port(port)
            url = f"http://127.0.0.1:{port}"
            while not key_file.exists():
                time.sleep(0.1)
            key = key_file.read_text()
            upgrade(database_url)
            db = Database(database_url)
            with db.system_session() as session:
                org, _ = create_organization(session, f"Push bench {uuid.uuid4().hex[:6]}")
            with db.session(org.id) as session:
                put_messaging_settings(
                    session,
                    MessagingSettingsIn.model_validate(
                        {"fcm_service_account": json.loads(key), "fcm_base_url": url}
                    ),
                    TO_FAKE,
                )
                template_id = create_template(session, TEMPLATE).id
            console.print(f"seeding {total:,} customers with their devices ...")
            customers = seed_email_audience(db, org.id, total, consent=False)
            dead = seed_devices(db, org.id, customers)
            console.print(f"pushing to {total:,} customers through Herald ...")
            herald = run_herald(db, org.id, template_id, customers, args.threads, args.batch)
            with db.session(org.id) as session:
                requests = session.scalar(select(func.count()).select_from(PushDelivery)) or 0
                deactivated = session.scalar(
                    select(func.count()).select_from(Device).where(Device.active.is_(False))
                )
            assert deactivated == dead, (deactivated, dead)
            console.print(f"the same {requests:,} requests by a bare loop ...")
            bare = run_bare(url, key, requests, args.threads)
            db.dispose()
        finally:
            fake.terminate()
            fake.wait(10)

    device_rate = herald * requests / total
    figures = {
        "customers": total,
        "device_requests": requests,
        "dead_tokens_deactivated": deactivated,
        "threads": args.threads,
        "messages_per_s": round(herald, 1),
        "device_requests_per_s": round(device_rate, 1),
        "bare_requests_per_s": round(bare, 1),
        "ratio": round(device_rate / bare, 2),
    }
    table = Table(title=f"push to a fake FCM: {total:,} customers, {requests:,} devices")
    table.add_column("figure")
    table.add_column("value", justify="right")
    table.add_row("Herald: messages/s (render, rules, record, per device)", f"{herald:,.1f}")
    table.add_row("Herald: device requests/s", f"{device_rate:,.1f}")
    table.add_row("bare loop: requests/s (one token, kept-alive)", f"{bare:,.1f}")
    table.add_row("ratio", f"{figures['ratio']}")
    table.add_row("dead tokens deactivated", f"{deactivated:,}")
    Console().print(table)
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
