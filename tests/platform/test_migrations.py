"""Migrations that change data, checked on a database that has the rows they change."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest
import sqlalchemy as sa
from alembic import command

from herald.database import Database
from herald.migrate import alembic_config, upgrade
from tests.support import create_pg_database

# SQL here differs between SQLite and PostgreSQL: run on both.
pytestmark = pytest.mark.dialects

_campaigns = sa.table(
    "campaigns",
    sa.column("id", sa.Uuid()),
    sa.column("organization_id", sa.Uuid()),
    sa.column("key", sa.String()),
    sa.column("name", sa.String()),
    sa.column("channel", sa.String()),
    sa.column("status", sa.String()),
    sa.column("audience", sa.JSON()),
    sa.column("variants", sa.JSON()),
    sa.column("attribution_hours", sa.Integer()),
    sa.column("created_at", sa.DateTime(timezone=True)),
    sa.column("updated_at", sa.DateTime(timezone=True)),
    sa.column("workflow_id", sa.String()),
)


_organizations = sa.table(
    "organizations",
    sa.column("id", sa.Uuid()),
    sa.column("name", sa.String()),
    sa.column("slug", sa.String()),
    sa.column("created_at", sa.DateTime(timezone=True)),
)
_customers = sa.table(
    "customers",
    sa.column("id", sa.Uuid()),
    sa.column("organization_id", sa.Uuid()),
    sa.column("name", sa.String()),
    sa.column("attributes", sa.JSON()),
    sa.column("created_at", sa.DateTime(timezone=True)),
    sa.column("updated_at", sa.DateTime(timezone=True)),
)
_events = sa.table(
    "events",
    sa.column("id", sa.Uuid()),
    sa.column("organization_id", sa.Uuid()),
    sa.column("type", sa.String()),
    sa.column("customer_id", sa.Uuid()),
    sa.column("occurred_at", sa.DateTime(timezone=True)),
    sa.column("received_at", sa.DateTime(timezone=True)),
    sa.column("properties", sa.JSON()),
    sa.column("idempotency_key", sa.String()),
    sa.column("dispatched_at", sa.DateTime(timezone=True)),
    sa.column("dispatch_attempts", sa.Integer()),
)
_ledger = sa.table(
    "loyalty_ledger",
    sa.column("id", sa.Uuid()),
    sa.column("organization_id", sa.Uuid()),
    sa.column("customer_id", sa.Uuid()),
    sa.column("kind", sa.String()),
    sa.column("points", sa.Integer()),
    sa.column("source", sa.String()),
    sa.column("source_id", sa.String()),
    sa.column("details", sa.JSON()),
    sa.column("created_at", sa.DateTime(timezone=True)),
)

_orders = sa.table(
    "orders",
    sa.column("organization_id", sa.Uuid()),
    sa.column("order_id", sa.String()),
    sa.column("status", sa.String()),
    sa.column("currency", sa.String()),
    sa.column("amount", sa.Numeric(18, 4)),
    sa.column("refunded_amount", sa.Numeric(18, 4)),
    sa.column("event_id", sa.Uuid()),
)
_refunds = sa.table(
    "order_refunds",
    sa.column("id", sa.Uuid()),
    sa.column("order_id", sa.String()),
    sa.column("refund_id", sa.String()),
)


def _old_organization(db: Database) -> uuid.UUID:
    """An organization as an earlier revision stores it (today's model has more columns)."""
    org = uuid.uuid4()
    with db.engine.begin() as connection:
        connection.execute(
            _organizations.insert().values(
                id=org, name="Old Shop", slug=f"old-{org.hex[:8]}", created_at=datetime.now(UTC)
            )
        )
    return org


@pytest.fixture(params=["sqlite", "postgresql"])
def empty_database(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'herald.db'}"
        return
    url, drop = create_pg_database()
    yield url
    drop()


def test_sends_started_before_the_id_scheme_keep_their_run_id(empty_database: str) -> None:
    upgrade(empty_database, "0020")
    db = Database(empty_database)
    org = _old_organization(db)
    now = datetime.now(UTC)
    ids = {status: uuid.uuid4() for status in ("draft", "running", "completed")}
    with db.engine.begin() as connection:
        for status, campaign_id in ids.items():
            connection.execute(
                _campaigns.insert().values(
                    id=campaign_id,
                    organization_id=org,
                    key=status,
                    name=status,
                    channel="email",
                    status=status,
                    audience={"segment": "readers"},
                    variants=[],
                    attribution_hours=120,
                    created_at=now,
                    updated_at=now,
                )
            )
    upgrade(empty_database, "0021")
    with db.engine.connect() as connection:
        kept = dict(connection.execute(sa.select(_campaigns.c.id, _campaigns.c.workflow_id)).all())
    db.dispose()
    assert kept == {
        ids["draft"]: None,
        ids["running"]: f"campaign-{ids['running']}",
        ids["completed"]: f"campaign-{ids['completed']}",
    }


def test_stored_order_events_become_one_order_each_and_refunds_keep_their_reversal(
    empty_database: str,
) -> None:
    upgrade(empty_database, "0024")
    db = Database(empty_database)
    org, other = _old_organization(db), _old_organization(db)
    customer, other_customer = uuid.uuid4(), uuid.uuid4()
    start = datetime(2026, 11, 1, tzinfo=UTC)
    events: list[dict[str, object]] = []

    def event(
        org_id: uuid.UUID, who: uuid.UUID, kind: str, key: str | None = None, **props: object
    ) -> None:
        at = start + timedelta(minutes=len(events))
        events.append(
            {
                "id": uuid.uuid4(),
                "organization_id": org_id,
                "type": kind,
                "customer_id": who,
                "occurred_at": at,
                "received_at": at,
                "properties": props,
                "idempotency_key": key,
                "dispatched_at": at,
                "dispatch_attempts": 0,
            }
        )

    items = [{"product_id": "tea", "quantity": 2, "unit_price": "10.00"}]
    event(org, customer, "order.paid", order_id="O-1", amount="50.00", currency="EUR", items=items)
    event(org, customer, "order.paid", order_id="O-1", amount="999", currency="EUR")  # repeat
    event(org, customer, "order.paid", order_id="O-2", amount="20", currency="eur")
    event(org, customer, "order.paid", order_id="O-3", currency="EUR")  # no amount: invalid
    event(org, customer, "order.refunded", order_id="O-1")
    event(org, customer, "order.refunded", order_id="O-1")  # repeat of the whole refund
    event(org, customer, "order.refunded", "rk", order_id="O-2", amount="5")
    # The same order id in another organization is another order.
    event(other, other_customer, "order.paid", order_id="O-1", amount="7", currency="USD")
    now = datetime.now(UTC)
    with db.engine.begin() as connection:
        for org_id, who in ((org, customer), (other, other_customer)):
            connection.execute(
                _customers.insert().values(
                    id=who,
                    organization_id=org_id,
                    name="",
                    attributes={},
                    created_at=now,
                    updated_at=now,
                )
            )
        connection.execute(_events.insert(), events)
        for kind, points, source, source_id in (
            ("earn", 50, "order.paid", "O-1"),
            ("reversal", -50, "order.refunded", "O-1"),
            ("earn", 20, "order.paid", "O-2"),
        ):
            connection.execute(
                _ledger.insert().values(
                    id=uuid.uuid4(),
                    organization_id=org,
                    customer_id=customer,
                    kind=kind,
                    points=points,
                    source=source,
                    source_id=source_id,
                    details={},
                    created_at=now,
                )
            )

    upgrade(empty_database, "0025")
    with db.engine.connect() as connection:
        orders = {
            (row.organization_id, row.order_id): row
            for row in connection.execute(sa.select(_orders))
        }
        refunds = connection.execute(sa.select(_refunds).order_by(_refunds.c.order_id)).all()
        lines = connection.execute(sa.text("SELECT product_id, quantity FROM order_items")).all()
        reversal_keys = (
            connection.execute(
                sa.text("SELECT source_id FROM loyalty_ledger WHERE source = 'order.refunded'")
            )
            .scalars()
            .all()
        )
    db.dispose()
    assert set(orders) == {(org, "O-1"), (org, "O-2"), (other, "O-1")}
    first, second = orders[(org, "O-1")], orders[(org, "O-2")]
    assert (first.amount, first.status, first.refunded_amount) == (
        Decimal("50"),
        "refunded",
        Decimal("50"),
    )
    assert first.event_id == events[0]["id"]
    assert (second.currency, second.status, second.refunded_amount) == (
        "EUR",
        "partially_refunded",
        Decimal("5"),
    )
    assert [(r.order_id, r.refund_id) for r in refunds] == [("O-1", "whole"), ("O-2", "rk")]
    assert lines == [("tea", 2)]
    assert reversal_keys == [str(refunds[0].id)]  # the old reversal is the whole refund's now

    upgrade(empty_database, "0026")  # the catalog starts from the products orders name
    with db.engine.connect() as connection:
        products = connection.execute(
            sa.text("SELECT product_id, name, price, currency FROM products")
        ).all()
    assert [(p.product_id, p.name, Decimal(p.price), p.currency) for p in products] == [
        ("tea", "tea", Decimal("10"), "EUR")
    ]

    command.downgrade(alembic_config(empty_database), "0024")
    with db.engine.connect() as connection:
        assert connection.execute(
            sa.select(_ledger.c.source_id).where(_ledger.c.source == "order.refunded")
        ).scalars().all() == ["O-1"]
    db.dispose()


_subscribers = sa.table(
    "subscribers",
    sa.column("id", sa.Uuid()),
    sa.column("organization_id", sa.Uuid()),
    sa.column("email", sa.String()),
    sa.column("status", sa.String()),
    sa.column("topics", sa.JSON()),
    sa.column("customer_id", sa.Uuid()),
    sa.column("token", sa.String()),
    sa.column("created_at", sa.DateTime(timezone=True)),
)
_emails = sa.table(
    "customer_emails",
    sa.column("id", sa.Uuid()),
    sa.column("organization_id", sa.Uuid()),
    sa.column("customer_id", sa.Uuid()),
    sa.column("email", sa.String()),
    sa.column("is_primary", sa.Boolean()),
    sa.column("position", sa.Integer()),
)
_consents = sa.table(
    "consents",
    sa.column("id", sa.Uuid()),
    sa.column("organization_id", sa.Uuid()),
    sa.column("customer_id", sa.Uuid()),
    sa.column("channel", sa.String()),
    sa.column("status", sa.String()),
    sa.column("source", sa.String()),
    sa.column("updated_at", sa.DateTime(timezone=True)),
)


def test_existing_subscribers_become_customers_and_confirmed_ones_consent(
    empty_database: str,
) -> None:
    upgrade(empty_database, "0028")
    db = Database(empty_database)
    org = _old_organization(db)
    known, revoked = uuid.uuid4(), uuid.uuid4()
    now = datetime.now(UTC)
    with db.engine.begin() as connection:
        for customer, address in ((known, "known@example.com"), (revoked, "no@example.com")):
            connection.execute(
                _customers.insert().values(
                    id=customer,
                    organization_id=org,
                    name="",
                    attributes={},
                    created_at=now,
                    updated_at=now,
                )
            )
            connection.execute(
                _emails.insert().values(
                    id=uuid.uuid4(),
                    organization_id=org,
                    customer_id=customer,
                    email=address,
                    is_primary=True,
                    position=0,
                )
            )
        connection.execute(
            _consents.insert().values(
                id=uuid.uuid4(),
                organization_id=org,
                customer_id=revoked,
                channel="email",
                status="revoked",
                source="form",
                updated_at=now,
            )
        )
        for address, status in (
            ("known@example.com", "subscribed"),
            ("no@example.com", "subscribed"),
            ("new@example.com", "subscribed"),
            ("waiting@example.com", "pending"),
        ):
            connection.execute(
                _subscribers.insert().values(
                    id=uuid.uuid4(),
                    organization_id=org,
                    email=address,
                    status=status,
                    topics=[],
                    token=uuid.uuid4().hex,
                    created_at=now,
                )
            )

    upgrade(empty_database, "0029")
    with db.engine.connect() as connection:
        linked = dict(
            connection.execute(sa.select(_subscribers.c.email, _subscribers.c.customer_id)).all()
        )
        consents = dict(
            connection.execute(
                sa.select(_consents.c.customer_id, _consents.c.status).where(
                    _consents.c.channel == "email"
                )
            ).all()
        )
        made = (
            connection.execute(
                sa.select(_emails.c.email).where(_emails.c.customer_id == linked["new@example.com"])
            )
            .scalars()
            .all()
        )
    db.dispose()
    assert linked["known@example.com"] == known and linked["no@example.com"] == revoked
    assert all(linked.values())  # every subscriber has a profile now
    assert made == ["new@example.com"]
    assert consents == {
        known: "granted",
        revoked: "revoked",  # withdrawn before: it stands
        linked["new@example.com"]: "granted",
    }  # and the pending subscriber has none
