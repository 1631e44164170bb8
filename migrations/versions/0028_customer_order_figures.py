"""each customer's order figures on the customer row: orders, lifetime value, first and last
order; computed from the orders already recorded

Revision ID: 0028
Revises: 0027
Create Date: 2026-12-03 18:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import herald.db

revision: str = "0028"
down_revision: str | None = "0027"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

OWN = "FROM orders o WHERE o.customer_id = customers.id"
# Paid less refunded, in the organization's reporting currency at the month's rate; an order
# without a rate adds nothing (as herald/orders/money.py counts it).
VALUE = (
    "SELECT coalesce(sum(CASE WHEN o.currency = g.reporting_currency"
    " THEN o.amount - o.refunded_amount ELSE (o.amount - o.refunded_amount) * r.rate END), 0)"
    " FROM orders o JOIN organizations g ON g.id = o.organization_id"
    " LEFT JOIN currency_rates r ON r.organization_id = o.organization_id"
    " AND r.currency = o.currency AND r.month = o.paid_month"
    " WHERE o.customer_id = customers.id"
)


def upgrade() -> None:
    with op.batch_alter_table("customers") as batch:
        batch.add_column(
            sa.Column("orders_count", sa.Integer(), nullable=False, server_default="0")
        )
        batch.add_column(
            sa.Column("lifetime_value", sa.Numeric(18, 4), nullable=False, server_default="0")
        )
        batch.add_column(sa.Column("first_order_at", herald.db.UTCDateTime(timezone=True)))
        batch.add_column(sa.Column("last_order_at", herald.db.UTCDateTime(timezone=True)))
    for name, column in (
        ("ix_customers_org_value", "lifetime_value"),
        ("ix_customers_org_orders", "orders_count"),
        ("ix_customers_org_last_order", "last_order_at"),
    ):
        op.create_index(name, "customers", ["organization_id", column, "id"])
    op.execute(
        "UPDATE customers SET"
        f" orders_count = (SELECT count(*) {OWN}),"
        f" lifetime_value = ({VALUE}),"
        f" first_order_at = (SELECT min(o.paid_at) {OWN}),"
        f" last_order_at = (SELECT max(o.paid_at) {OWN})"
        " WHERE id IN (SELECT customer_id FROM orders WHERE customer_id IS NOT NULL)"
    )


def downgrade() -> None:
    for name in (
        "ix_customers_org_value",
        "ix_customers_org_orders",
        "ix_customers_org_last_order",
    ):
        op.drop_index(name, table_name="customers")
    with op.batch_alter_table("customers") as batch:
        for column in ("last_order_at", "first_order_at", "lifetime_value", "orders_count"):
            batch.drop_column(column)
