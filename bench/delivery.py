"""Throughput of Herald's delivery path against a local fake of SendGrid's Mail Send API.

    python bench/delivery.py [--quick] [--messages N] [--threads K] [--batch B]

N customers (email consent, marketing template with a personal subject and body) are sent one
campaign in batches of B recipients, the way a campaign send hands them over: for each batch
`deliver_batch` renders every message in the sandbox, checks the send-time rules set-based,
records the rows, and posts SendGrid personalizations (up to 1,000 per request) through the real
sendgrid SDK. Then a bare loop does the same necessary work on the same threads and batches:
one query reads the consenting recipients' name, address, points and tags; the same template is
rendered in the same sandbox, with the same signed unsubscribe link, footer and headers; the
same Mail Send bodies are posted with the sendgrid SDK; the rows are written with COPY. The
ratio is Herald's rate over the bare loop's: what Herald's guarantees (intents recorded before
the send, send-time rules, outcomes settled) cost. PostgreSQL from HERALD_BENCH_DATABASE_URL
(default the local `test` database). Prints a table, then one JSON line.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
import uuid
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from psycopg.types.json import Jsonb
from rich.console import Console
from rich.table import Table
from sendgrid import SendGridAPIClient

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.stack import bench_database_url, copy_cursor, fake_providers  # noqa: E402
from herald.database import Database  # noqa: E402
from herald.messaging.contracts import (  # noqa: E402
    DeliveryBatch,
    MessageStatus,
    Recipient,
)
from herald.messaging.delivery import deliver_batch, delivery_env  # noqa: E402
from herald.messaging.models import Channel  # noqa: E402
from herald.messaging.providers import (  # noqa: E402
    OutgoingMessage,
    SendGridProvider,
    sendgrid_requests,
)
from herald.messaging.schemas import MessagingSettingsIn, TemplateCreate  # noqa: E402
from herald.messaging.setup import put_messaging_settings  # noqa: E402
from herald.messaging.templates import (  # noqa: E402
    create_template,
    get_template,
    organization_context,
    render_content,
)
from herald.messaging.unsubscribe import (  # noqa: E402
    Links,
    unsubscribe_headers,
    with_postal_footer,
)
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
LINKS = Links("http://127.0.0.1:8000", "bench-secret")
POSTAL_ADDRESS = "1 Bench St"


def run_herald(
    db: Database,
    org_id: uuid.UUID,
    template_id: uuid.UUID,
    customers: list[uuid.UUID],
    threads: int,
    batch_size: int,
) -> float:
    links = LINKS
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
        unsent = Counter(
            (o.status.value, o.reason) for o in outcomes if o.status is not MessageStatus.sent
        )
        assert not unsent, unsent

    started = time.perf_counter()
    with ThreadPoolExecutor(threads) as pool:
        list(pool.map(send, batches))
    return len(customers) / (time.perf_counter() - started)


# What the bare loop reads per batch: the template's fields, for consenting customers only.
AUDIENCE = """
SELECT c.id, c.name, c.primary_email, COALESCE(a.balance, 0),
       ARRAY(SELECT t.tag FROM customer_tags t WHERE t.customer_id = c.id)
FROM customers c
JOIN consents k ON k.customer_id = c.id AND k.channel = 'email' AND k.status = 'granted'
LEFT JOIN loyalty_accounts a ON a.customer_id = c.id
WHERE c.organization_id = %s AND c.id = ANY(%s)
"""
MESSAGE_COLUMNS = (
    "id, organization_id, idempotency_key, channel, category, template_id, customer_id, "
    "recipient, locale, content, provider, provider_message_id, status, attempts, in_flight, "
    "created_at, updated_at, sent_at"
)


@dataclass(frozen=True)
class BareSend:
    """What the bare loop knows: the template's English variant, the organization, the fake."""

    org_id: uuid.UUID
    template_id: uuid.UUID
    organization: dict[str, str]
    variant: dict[str, Any]
    postal_address: str
    provider: SendGridProvider
    links: Links


def bare_send(db: Database, org_id: uuid.UUID, template_id: uuid.UUID, fake_url: str) -> BareSend:
    with db.session(org_id) as session:
        template = get_template(session, template_id)
        organization = organization_context(session, org_id)
        return BareSend(
            org_id,
            template_id,
            organization,
            template.variants[template.default_locale],
            POSTAL_ADDRESS,
            SendGridProvider("SG.bench", "shop@example.com", None, fake_url, TO_FAKE),
            LINKS,
        )


def bare_batch(
    db: Database, send: BareSend, client: SendGridAPIClient, chunk: list[uuid.UUID], run: str
) -> int:
    """The necessary work of one batch, with nothing of Herald's path around it: read the
    recipients, render the same template in the same sandbox, post the same Mail Send bodies,
    and write the rows with COPY."""
    with copy_cursor(db) as cursor:
        cursor.execute(AUDIENCE, (send.org_id, chunk))
        outgoing: list[OutgoingMessage] = []
        customer_of: dict[uuid.UUID, uuid.UUID] = {}
        for customer_id, name, email, balance, tags in cursor.fetchall():
            url = send.links.unsubscribe_url(send.organization["slug"], send.org_id, customer_id)
            customer = {
                "name": name,
                "first_name": name.split(" ")[0],
                "points": balance,
                "tags": tags,
            }
            context = {"organization": send.organization, "customer": customer}
            rendered = render_content(send.variant, {**context, "unsubscribe_url": url})
            content = {
                **with_postal_footer(rendered, send.postal_address),
                "headers": unsubscribe_headers(url),
            }
            message = OutgoingMessage(uuid.uuid4(), Channel.email, email, content)
            outgoing.append(message)
            customer_of[message.message_id] = customer_id
        ids: dict[uuid.UUID, str] = {}
        for request in sendgrid_requests(outgoing):
            response = client.send(send.provider.request_body(request))
            ids.update((m.message_id, response.headers["X-Message-Id"]) for m in request)
        now = datetime.now(UTC)
        with cursor.copy(f"COPY messages ({MESSAGE_COLUMNS}) FROM STDIN") as copy:
            for message in outgoing:
                copy.write_row(
                    (
                        message.message_id,
                        send.org_id,
                        f"bare/{run}/{message.message_id}",
                        "email",
                        "marketing",
                        send.template_id,
                        customer_of[message.message_id],
                        message.recipient,
                        "en",
                        Jsonb(message.content),
                        "sendgrid",
                        ids[message.message_id],
                        "sent",
                        1,
                        False,
                        now,
                        now,
                        now,
                    )
                )
    return len(outgoing)


def run_bare(
    db: Database,
    send: BareSend,
    fake_url: str,
    customers: list[uuid.UUID],
    threads: int,
    batch_size: int,
) -> float:
    run = uuid.uuid4().hex[:8]
    batches = [customers[i : i + batch_size] for i in range(0, len(customers), batch_size)]

    def work(chunks: list[list[uuid.UUID]]) -> int:
        client = SendGridAPIClient("SG.bench", host=fake_url)
        return sum(bare_batch(db, send, client, chunk, run) for chunk in chunks)

    started = time.perf_counter()
    with ThreadPoolExecutor(threads) as pool:
        sent = sum(pool.map(work, [batches[i::threads] for i in range(threads)]))
    elapsed = time.perf_counter() - started
    assert sent == len(customers), (sent, len(customers))
    return sent / elapsed


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
                    postal_address=POSTAL_ADDRESS,
                ),
                TO_FAKE,
            )
            template_id = create_template(session, TEMPLATE).id
        console.print(f"seeding {total:,} customers ...")
        customers = seed_email_audience(db, org.id, total)
        console.print(f"delivering {total:,} emails through Herald ...")
        herald = run_herald(db, org.id, template_id, customers, args.threads, args.batch)
        console.print(f"the same {total:,} emails by a bare loop ...")
        send = bare_send(db, org.id, template_id, fake_url)
        bare = run_bare(db, send, fake_url, customers, args.threads, args.batch)
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
    table.add_row("bare loop: read, render, post, COPY (messages/s)", f"{bare:,.1f}")
    table.add_row("ratio", f"{figures['ratio']}")
    Console().print(table)
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
