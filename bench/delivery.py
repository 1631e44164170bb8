"""Throughput of Herald's delivery path against a local fake of SendGrid's Mail Send API.

    python bench/delivery.py [--quick] [--messages N] [--threads K]

For each of N customers (email consent, marketing template with a personal subject and body):
render in the sandbox, apply the send-time rules, record the message row, hand it to the real
sendgrid SDK — the same ``deliver`` function the SendMessage activity runs. Then the same number
of requests, rendered in advance, posted by a bare loop with the same SDK and threads: the limit
of this machine and fake. PostgreSQL from HERALD_BENCH_DATABASE_URL (default the local `test`
database). Prints a table, then one JSON line.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from rich.console import Console
from rich.table import Table
from sendgrid import SendGridAPIClient
from sendgrid.helpers.mail import Mail
from sqlalchemy import insert

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from herald.customers.models import Customer, CustomerEmail  # noqa: E402
from herald.db import Database, utcnow  # noqa: E402
from herald.messaging.delivery import DeliveryEnv, DeliveryRequest, SendRules, deliver  # noqa: E402
from herald.messaging.models import Channel, Consent, ConsentStatus  # noqa: E402
from herald.messaging.providers import providers_for  # noqa: E402
from herald.messaging.schemas import MessagingSettingsIn, TemplateCreate  # noqa: E402
from herald.messaging.setup import load_messaging_settings, put_messaging_settings  # noqa: E402
from herald.messaging.templates import create_template  # noqa: E402
from herald.messaging.unsubscribe import Links  # noqa: E402
from herald.migrate import upgrade  # noqa: E402
from herald.organizations.service import create_organization  # noqa: E402

DEFAULT_DB = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
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


def seed(db: Database, org_id: uuid.UUID, count: int) -> list[uuid.UUID]:
    ids = [uuid.uuid4() for _ in range(count)]
    now = utcnow()
    with db.session(org_id) as session:
        for start in range(0, count, 5_000):
            chunk = ids[start : start + 5_000]
            session.execute(
                insert(Customer),
                [
                    {
                        "id": i,
                        "organization_id": org_id,
                        "name": f"Reader {n}",
                        "attributes": {},
                        "primary_email": f"r{n}-{i.hex[:6]}@example.com",
                        "created_at": now,
                        "updated_at": now,
                    }
                    for n, i in enumerate(chunk, start)
                ],
            )
            session.execute(
                insert(CustomerEmail),
                [
                    {
                        "id": uuid.uuid4(),
                        "organization_id": org_id,
                        "customer_id": i,
                        "email": f"r{n}-{i.hex[:6]}@example.com",
                        "is_primary": True,
                        "position": 0,
                    }
                    for n, i in enumerate(chunk, start)
                ],
            )
            session.execute(
                insert(Consent),
                [
                    {
                        "id": uuid.uuid4(),
                        "organization_id": org_id,
                        "customer_id": i,
                        "channel": Channel.email,
                        "status": ConsentStatus.granted,
                        "source": "bench",
                        "updated_at": now,
                    }
                    for i in chunk
                ],
            )
        session.commit()
    return ids


def run_herald(
    db: Database,
    org_id: uuid.UUID,
    template_id: uuid.UUID,
    customers: list[uuid.UUID],
    threads: int,
) -> float:
    links = Links("http://127.0.0.1:8000", "bench-secret")
    with db.session(org_id) as session:
        settings = load_messaging_settings(session)
    rules = SendRules.of(settings)
    run = uuid.uuid4().hex[:8]

    def send(chunk: list[uuid.UUID]) -> None:
        providers = providers_for(settings, links.public_url)  # one SDK client per thread
        for customer_id in chunk:
            with db.session(org_id) as session:
                outcome = deliver(
                    session,
                    DeliveryRequest(
                        organization_id=org_id,
                        idempotency_key=f"bench/{run}/{customer_id}",
                        template_id=template_id,
                        customer_id=customer_id,
                    ),
                    DeliveryEnv(providers, rules, links, utcnow()),
                )
                assert outcome.status.value == "sent", outcome

    started = time.perf_counter()
    with ThreadPoolExecutor(threads) as pool:
        list(pool.map(send, [customers[i::threads] for i in range(threads)]))
    return len(customers) / (time.perf_counter() - started)


def run_bare(fake_url: str, count: int, threads: int) -> float:
    mails = [
        Mail(
            from_email="shop@example.com",
            to_emails=f"r{n}@example.com",
            subject=f"Reader {n}, 0 points are waiting",
            html_content=f"<h1>Hi Reader {n}</h1>",
            plain_text_content=f"Hi Reader {n}",
        )
        for n in range(count)
    ]

    def send(chunk: list[Mail]) -> None:
        client = SendGridAPIClient("SG.bench", host=fake_url)
        for mail in chunk:
            client.send(mail)

    started = time.perf_counter()
    with ThreadPoolExecutor(threads) as pool:
        list(pool.map(send, [mails[i::threads] for i in range(threads)]))
    return count / (time.perf_counter() - started)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="2,000 messages instead of 100,000")
    parser.add_argument("--messages", type=int)
    parser.add_argument("--threads", type=int, default=8)
    args = parser.parse_args()
    total = args.messages or (2_000 if args.quick else 100_000)
    database_url = os.environ.get("HERALD_BENCH_DATABASE_URL", DEFAULT_DB)
    console = Console(stderr=True)

    fake = subprocess.Popen(
        [sys.executable, "-m", "tests.fakes"], cwd=ROOT, stdout=subprocess.PIPE, text=True
    )
    try:
        assert fake.stdout is not None
        fake_url = fake.stdout.readline().strip()
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
            )
            template_id = create_template(session, TEMPLATE).id
        console.print(f"seeding {total:,} customers ...")
        customers = seed(db, org.id, total)
        console.print(f"delivering {total:,} emails through Herald ...")
        herald = run_herald(db, org.id, template_id, customers, args.threads)
        console.print(f"posting {total:,} pre-rendered emails in a bare loop ...")
        bare = run_bare(fake_url, total, args.threads)
        db.dispose()
    finally:
        fake.terminate()

    figures = {
        "messages": total,
        "threads": args.threads,
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
