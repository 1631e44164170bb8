"""orders, their items and refunds, made from the order events already stored; currency rates

Revision ID: 0025
Revises: 0024
Create Date: 2026-12-03 16:30:00

Each organization's first ``order.paid`` of an order id becomes its order; each
``order.refunded`` becomes a refund, once per (order id, refund id) with the refund id taken as
Herald now takes it (the property, else the idempotency key, else "whole" for a refund of the
whole order; a partial one without either, which Herald now refuses, keeps its event's id). A refund's
ledger entry was keyed by the order id; it is now keyed by its refund's id, so the first
refund of each order takes over the entry the old whole-order reversal wrote.
"""

import uuid
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

import sqlalchemy as sa
from alembic import op

import herald.db

revision: str = "0025"
down_revision: str | None = "0024"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

MONEY = sa.Numeric(18, 4)
CHUNK = 1000

_events = sa.table(
    "events",
    sa.column("id", sa.Uuid()),
    sa.column("organization_id", sa.Uuid()),
    sa.column("type", sa.String()),
    sa.column("customer_id", sa.Uuid()),
    sa.column("occurred_at", herald.db.UTCDateTime(timezone=True)),
    sa.column("received_at", herald.db.UTCDateTime(timezone=True)),
    sa.column("properties", herald.db.JSONType),
    sa.column("idempotency_key", sa.String()),
)
_ledger = sa.table(
    "loyalty_ledger",
    sa.column("organization_id", sa.Uuid()),
    sa.column("source", sa.String()),
    sa.column("source_id", sa.String()),
)


def _tables() -> tuple[sa.Table, sa.Table, sa.Table]:
    orders = op.create_table(
        "orders",
        sa.Column("id", sa.Uuid(), primary_key=True),
        sa.Column(
            "organization_id",
            sa.Uuid(),
            sa.ForeignKey("organizations.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("order_id", sa.String(200), nullable=False),
        sa.Column("customer_id", sa.Uuid(), sa.ForeignKey("customers.id", ondelete="SET NULL")),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("currency", sa.String(3), nullable=False),
        sa.Column("amount", MONEY, nullable=False),
        sa.Column("discount", MONEY, nullable=False),
        sa.Column("shipping", MONEY, nullable=False),
        sa.Column("refunded_amount", MONEY, nullable=False),
        sa.Column("source", sa.String(50)),
        sa.Column("paid_at", herald.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("paid_month", sa.Date(), nullable=False),
        sa.Column("history", sa.Boolean(), nullable=False),
        sa.Column("event_id", sa.Uuid(), sa.ForeignKey("events.id"), nullable=False),
        sa.Column("created_at", herald.db.UTCDateTime(timezone=True), nullable=False),
        sa.UniqueConstraint("organization_id", "order_id"),
    )
    op.create_index("ix_orders_organization_id", "orders", ["organization_id"])
    op.create_index(
        "ix_orders_customer",
        "orders",
        ["organization_id", "customer_id", "paid_at"],
        postgresql_include=["amount", "refunded_amount", "currency", "paid_month"],
    )
    op.create_index(
        "ix_orders_month_customer", "orders", ["organization_id", "paid_month", "customer_id"]
    )
    op.create_index(
        "ix_orders_paid",
        "orders",
        ["organization_id", "paid_at"],
        postgresql_include=["customer_id", "amount", "refunded_amount", "currency", "paid_month"],
    )
    items = op.create_table(
        "order_items",
        sa.Column("id", sa.Uuid(), primary_key=True),
        sa.Column(
            "organization_id",
            sa.Uuid(),
            sa.ForeignKey("organizations.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column(
            "order_pk", sa.Uuid(), sa.ForeignKey("orders.id", ondelete="CASCADE"), nullable=False
        ),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("product_id", sa.String(200), nullable=False),
        sa.Column("variant_id", sa.String(200)),
        sa.Column("name", sa.String(300)),
        sa.Column("quantity", sa.Integer(), nullable=False),
        sa.Column("unit_price", MONEY, nullable=False),
    )
    op.create_index("ix_order_items_organization_id", "order_items", ["organization_id"])
    op.create_index("ix_order_items_order_pk", "order_items", ["order_pk"])
    op.create_index("ix_order_items_product", "order_items", ["organization_id", "product_id"])
    refunds = op.create_table(
        "order_refunds",
        sa.Column("id", sa.Uuid(), primary_key=True),
        sa.Column(
            "organization_id",
            sa.Uuid(),
            sa.ForeignKey("organizations.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("order_id", sa.String(200), nullable=False),
        sa.Column("refund_id", sa.String(200), nullable=False),
        sa.Column("amount", MONEY),
        sa.Column("currency", sa.String(3)),
        sa.Column("refunded_at", herald.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("event_id", sa.Uuid(), sa.ForeignKey("events.id"), nullable=False),
        sa.Column("created_at", herald.db.UTCDateTime(timezone=True), nullable=False),
        sa.UniqueConstraint("organization_id", "order_id", "refund_id"),
    )
    op.create_index("ix_order_refunds_organization_id", "order_refunds", ["organization_id"])
    op.create_index("ix_order_refunds_event_id", "order_refunds", ["event_id"])
    op.create_table(
        "currency_rates",
        sa.Column("id", sa.Uuid(), primary_key=True),
        sa.Column(
            "organization_id",
            sa.Uuid(),
            sa.ForeignKey("organizations.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("currency", sa.String(3), nullable=False),
        sa.Column("month", sa.Date(), nullable=False),
        sa.Column("rate", sa.Numeric(24, 10), nullable=False),
        sa.Column("updated_at", herald.db.UTCDateTime(timezone=True), nullable=False),
        sa.UniqueConstraint("organization_id", "currency", "month"),
    )
    op.create_index("ix_currency_rates_organization_id", "currency_rates", ["organization_id"])
    return orders, items, refunds


def _money(value: Any) -> Decimal | None:
    try:
        amount = Decimal(str(value))
    except (InvalidOperation, ValueError):
        return None
    return amount if amount.is_finite() and amount >= 0 else None


def _time(value: Any, default: datetime) -> datetime:
    try:
        parsed = datetime.fromisoformat(str(value))
    except ValueError:
        return default
    return parsed.astimezone(UTC) if parsed.tzinfo else default


def _order_events(connection: sa.Connection, kind: str) -> Iterator[Any]:
    """The organization's events of one type, first received first, read in chunks."""
    query = (
        sa.select(_events)
        .where(_events.c.type == kind)
        .order_by(_events.c.received_at, _events.c.id)
        .execution_options(yield_per=CHUNK)
    )
    yield from connection.execute(query)


def _order_row(event: Any, now: datetime) -> tuple[dict[str, Any], list[Any]] | None:
    """The order an ``order.paid`` event records, with its raw items; None if it never was a
    valid order (it awarded nothing then, and counts as no order now)."""
    props = event.properties or {}
    order_id, amount = props.get("order_id"), _money(props.get("amount"))
    currency = str(props.get("currency", "")).upper()
    if not order_id or amount is None or len(currency) != 3 or event.customer_id is None:
        return None
    paid_at = _time(props.get("paid_at"), event.occurred_at)
    row = {
        "id": uuid.uuid4(),
        "organization_id": event.organization_id,
        "order_id": str(order_id)[:200],
        "customer_id": event.customer_id,
        "status": "paid",
        "currency": currency,
        "amount": amount,
        "discount": _money(props.get("discount", 0)) or Decimal(0),
        "shipping": _money(props.get("shipping", 0)) or Decimal(0),
        "refunded_amount": Decimal(0),
        "source": str(props["source"])[:50] if props.get("source") else None,
        "paid_at": paid_at,
        "paid_month": paid_at.date().replace(day=1),
        "history": False,
        "event_id": event.id,
        "created_at": now,
    }
    items = props.get("items")
    return row, items if isinstance(items, list) else []


def _item_rows(order: dict[str, Any], items: list[Any]) -> list[dict[str, Any]]:
    return [
        {
            "id": uuid.uuid4(),
            "organization_id": order["organization_id"],
            "order_pk": order["id"],
            "position": position,
            "product_id": str(item["product_id"])[:200],
            "variant_id": str(item["variant_id"])[:200] if item.get("variant_id") else None,
            "name": str(item["name"])[:300] if item.get("name") else None,
            "quantity": int(item.get("quantity", 1)),
            "unit_price": _money(item.get("unit_price")) or Decimal(0),
        }
        for position, item in enumerate(items)
        if isinstance(item, dict) and item.get("product_id")
    ]


def _make_orders(connection: sa.Connection, orders: sa.Table, items: sa.Table) -> None:
    """One order per (organization, order id) from the first valid ``order.paid``, written a
    chunk at a time (only the keys seen are kept in memory)."""
    seen: set[tuple[uuid.UUID, str]] = set()
    now = datetime.now(UTC)
    rows: list[dict[str, Any]] = []
    lines: list[dict[str, Any]] = []

    def flush() -> None:
        if rows:
            connection.execute(orders.insert(), rows)
        if lines:
            connection.execute(items.insert(), lines)
        rows.clear()
        lines.clear()

    for event in _order_events(connection, "order.paid"):
        made = _order_row(event, now)
        if made is None or (made[0]["organization_id"], made[0]["order_id"]) in seen:
            continue
        order, raw_items = made
        seen.add((order["organization_id"], order["order_id"]))
        rows.append(order)
        lines.extend(_item_rows(order, raw_items))
        if len(rows) >= CHUNK:
            flush()
    flush()


def _make_refunds(connection: sa.Connection, refunds: sa.Table) -> None:
    """One refund per (organization, order id, refund id), a chunk at a time; then each
    order's refunded amount and status from its refunds, and the old whole-order reversal
    entries re-keyed to the first refund of their order."""
    seen: set[tuple[uuid.UUID, str, str]] = set()
    first_of_order: dict[tuple[uuid.UUID, str], uuid.UUID] = {}
    rows: list[dict[str, Any]] = []
    now = datetime.now(UTC)
    for event in _order_events(connection, "order.refunded"):
        props = event.properties or {}
        if not props.get("order_id"):
            continue
        order_id = str(props["order_id"])[:200]
        amount = _money(props["amount"]) if props.get("amount") is not None else None
        fallback = "whole" if amount is None else str(event.id)
        refund_id = str(props.get("refund_id") or event.idempotency_key or fallback)[:200]
        if (event.organization_id, order_id, refund_id) in seen:
            continue
        seen.add((event.organization_id, order_id, refund_id))
        row = {
            "id": uuid.uuid4(),
            "organization_id": event.organization_id,
            "order_id": order_id,
            "refund_id": refund_id,
            "amount": amount,
            "currency": str(props["currency"]).upper()[:3] if props.get("currency") else None,
            "refunded_at": event.occurred_at,
            "event_id": event.id,
            "created_at": now,
        }
        rows.append(row)
        first_of_order.setdefault((event.organization_id, order_id), row["id"])
        if len(rows) >= CHUNK:
            connection.execute(refunds.insert(), rows)
            rows.clear()
    if rows:
        connection.execute(refunds.insert(), rows)
    # A refund without an amount refunds the whole order; no order is refunded past its amount.
    op.execute(
        "UPDATE orders SET refunded_amount = CASE WHEN r.total > orders.amount THEN orders.amount"
        " ELSE r.total END FROM (SELECT o.id, sum(coalesce(f.amount, o.amount)) AS total"
        " FROM orders o JOIN order_refunds f ON f.organization_id = o.organization_id"
        " AND f.order_id = o.order_id GROUP BY o.id) r WHERE orders.id = r.id"
    )
    op.execute(
        "UPDATE orders SET status = CASE WHEN refunded_amount >= amount THEN 'refunded'"
        " ELSE 'partially_refunded' END WHERE refunded_amount > 0"
    )
    for (org, order_id), refund_pk in first_of_order.items():
        connection.execute(
            _ledger.update()
            .where(
                _ledger.c.organization_id == org,
                _ledger.c.source == "order.refunded",
                _ledger.c.source_id == order_id,
            )
            .values(source_id=str(refund_pk))
        )


def upgrade() -> None:
    with op.batch_alter_table("organizations") as batch:
        batch.add_column(
            sa.Column("order_history_days", sa.Integer(), nullable=False, server_default="30")
        )
        batch.add_column(
            sa.Column("reporting_currency", sa.String(3), nullable=False, server_default="USD")
        )
    orders, items, refunds = _tables()
    connection = op.get_bind()
    _make_orders(connection, orders, items)
    _make_refunds(connection, refunds)


def downgrade() -> None:
    connection = op.get_bind()
    # The first refund of each order takes back the order id its entry was keyed by (later
    # refunds' entries keep their refund's id: one order had one reversal before).
    refunds = sa.table(
        "order_refunds",
        sa.column("id", sa.Uuid()),
        sa.column("organization_id", sa.Uuid()),
        sa.column("order_id", sa.String()),
        sa.column("refunded_at", herald.db.UTCDateTime(timezone=True)),
        sa.column("created_at", herald.db.UTCDateTime(timezone=True)),
    )
    rows = connection.execute(
        sa.select(refunds.c.id, refunds.c.organization_id, refunds.c.order_id).order_by(
            refunds.c.refunded_at, refunds.c.created_at
        )
    ).all()
    first: dict[tuple[Any, str], Any] = {}
    for refund_pk, org, order_id in rows:
        first.setdefault((org, order_id), refund_pk)
    for (org, order_id), refund_pk in first.items():
        connection.execute(
            _ledger.update()
            .where(
                _ledger.c.organization_id == org,
                _ledger.c.source == "order.refunded",
                _ledger.c.source_id == str(refund_pk),
            )
            .values(source_id=order_id)
        )
    op.drop_table("currency_rates")
    op.drop_table("order_refunds")
    op.drop_table("order_items")
    op.drop_table("orders")
    with op.batch_alter_table("organizations") as batch:
        batch.drop_column("reporting_currency")
        batch.drop_column("order_history_days")
