"""Throughput of Herald's delivery path against a local fake of SendGrid's Mail Send API.

    python bench/delivery.py [--quick] [--messages N] [--threads K] [--batch B]

N customers (email consent, marketing template with a personal subject and body) are sent one
campaign in batches of B recipients, the way a campaign send hands them over: for each batch
`deliver_batch` renders every message in the sandbox, checks the send-time rules set-based,
records the rows, and posts SendGrid personalizations (up to 1,000 per request) through the real
sendgrid SDK. Then the same request bodies, rendered in advance, posted by a bare loop with the
same SDK and threads: the limit of this machine and fake. PostgreSQL from
HERALD_BENCH_DATABASE_URL (default the local `test` database). Prints a table, then one JSON line.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table
from sendgrid import SendGridAPIClient
from sqlalchemy import select

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.stack import bench_database_url, fake_providers  # noqa: E402
from herald.database import Database  # noqa: E402
from herald.messaging.contracts import (  # noqa: E402
    DeliveryBatch,
    MessageStatus,
    Recipient,
)
from herald.messaging.delivery import deliver_batch, delivery_env  # noqa: E402
from herald.messaging.models import Channel, Message  # noqa: E402
from herald.messaging.providers import (  # noqa: E402
    OutgoingMessage,
    SendGridProvider,
    sendgrid_requests,
)
from herald.messaging.schemas import MessagingSettingsIn, TemplateCreate  # noqa: E402
from herald.messaging.setup import put_messaging_settings  # noqa: E402
from herald.messaging.templates import create_template  # noqa: E402
from herald.messaging.unsubscribe import Links  # noqa: E402
from herald.migrate import upgrade  # noqa: E402
from herald.organizations.service import create_organization  # noqa: E402
from herald.outbound import Outbound  # noqa: E402
from tests.seed import seed_email_audience  # noqa: E402

TEMPLATE = TemplateCreate(
    key="bench",
    name="Bench",
    channel=Channel.email,
    default_locale="en",
    variants={
        "en": {
            "subject": "{{ customer.first_name }}, {{ customer.points }} points are waiting",
            "html": "<h1>Hi {{ customer.name }}</h1>"
            "{% for tag in customer.tags %}<p>{{ tag }}</p>{% endfor %}"
            '<p><a href="{{ unsubscribe_url }}">Unsubscribe</a></p>',
            "text": "Hi {{ customer.name }}",
        }
    },
)

# The fake SendGrid listens on this machine: past the outbound guard by the operator's leave.
TO_FAKE = Outbound.allowing("127.0.0.1")


def run_herald(
    db: Database,
    org_id: uuid.UUID,
    template_id: uuid.UUID,
    customers: list[uuid.UUID],
    threads: int,
    batch_size: int,
) -> float:
    links = Links("http://127.0.0.1:8000", "bench-secret")
    campaign = uuid.uuid4().hex[:8]
    batches = [customers[i : i + batch_size] for i in range(0, len(customers), batch_size)]

    def send(chunk: list[uuid.UUID]) -> None:
        with db.session(org_id) as session:
            env = delivery_env(session, links, TO_FAKE, None)
            batch = DeliveryBatch(
                organization_id=org_id,
                template_id=template_id,
                recipients=[
                    Recipient(idempotency_key=f"bench/{campaign}/{c}", customer_id=c) for c in chunk
                ],
            )
            outcomes = deliver_batch(session, batch, env)
        assert {o.status for o in outcomes} == {MessageStatus.sent}, outcomes[0]

    started = time.perf_counter()
    with ThreadPoolExecutor(threads) as pool:
        list(pool.map(send, batches))
    return len(customers) / (time.perf_counter() - started)


def prerendered_bodies(db: Database, org_id: uuid.UUID, fake_url: str) -> list[dict[str, Any]]:
    """The Mail Send bodies of the messages Herald recorded, built before the clock starts."""
    provider = SendGridProvider("SG.bench", "shop@example.com", None, fake_url, TO_FAKE)
    with db.session(org_id) as session:
        rows = session.execute(select(Message.id, Message.recipient, Message.content)).all()
    messages = [OutgoingMessage(i, Channel.email, to, content) for i, to, content in rows]
    return [provider.request_body(request) for request in sendgrid_requests(messages)]


def run_bare(fake_url: str, bodies: list[dict[str, Any]], threads: int) -> float:
    def send(chunk: list[dict[str, Any]]) -> None:
        client = SendGridAPIClient("SG.bench", host=fake_url)
        for body in chunk:
            client.send(body)

    count = sum(len(b["personalizations"]) for b in bodies)
    started = time.perf_counter()
    with ThreadPoolExecutor(threads) as pool:
        list(pool.map(send, [bodies[i::threads] for i in range(threads)]))
    return count / (time.perf_counter() - started)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="2,000 messages instead of 100,000")
    parser.add_argument("--messages", type=int)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--batch", type=int, default=1000, help="recipients per batch")
    args = parser.parse_args()
    total = args.messages or (2_000 if args.quick else 100_000)
    database_url = bench_database_url()
    console = Console(stderr=True)

    with fake_providers() as fake_url:
        upgrade(database_url)
        db = Database(database_url)
        with db.system_session() as session:
            org, _ = create_organization(session, f"Delivery bench {uuid.uuid4().hex[:6]}")
        with db.session(org.id) as session:
            put_messaging_settings(
                session,
                MessagingSettingsIn(
                    email_from="shop@example.com",
                    sendgrid_api_key="SG.bench",
                    sendgrid_host=fake_url,
                    postal_address="1 Bench St",
                ),
                TO_FAKE,
            )
            template_id = create_template(session, TEMPLATE).id
        console.print(f"seeding {total:,} customers ...")
        customers = seed_email_audience(db, org.id, total)
        console.print(f"delivering {total:,} emails through Herald ...")
        herald = run_herald(db, org.id, template_id, customers, args.threads, args.batch)
        console.print(f"posting {total:,} pre-rendered emails in a bare loop ...")
        bare = run_bare(fake_url, prerendered_bodies(db, org.id, fake_url), args.threads)
        db.dispose()

    figures = {
        "messages": total,
        "threads": args.threads,
        "batch": args.batch,
        "messages_per_s": round(herald, 1),
        "bare_messages_per_s": round(bare, 1),
        "ratio": round(herald / bare, 2),
    }
    table = Table(title=f"delivery to a fake SendGrid, {total:,} personalized emails")
    table.add_column("figure")
    table.add_column("value", justify="right")
    table.add_row("Herald: render, rules, record, send (messages/s)", f"{herald:,.1f}")
    table.add_row("bare loop: pre-rendered, same SDK (messages/s)", f"{bare:,.1f}")
    table.add_row("ratio", f"{figures['ratio']}")
    Console().print(table)
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
