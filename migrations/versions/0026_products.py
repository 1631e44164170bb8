"""the product catalog, started from the products orders already name

Revision ID: 0026
Revises: 0025
Create Date: 2026-12-03 17:30:00
"""

import uuid
from collections.abc import Sequence
from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op

import herald.db

revision: str = "0026"
down_revision: str | None = "0025"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "products",
        sa.Column("id", sa.Uuid(), primary_key=True),
        sa.Column(
            "organization_id",
            sa.Uuid(),
            sa.ForeignKey("organizations.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("product_id", sa.String(200), nullable=False),
        sa.Column("name", sa.String(300), nullable=False),
        sa.Column("url", sa.String(2000)),
        sa.Column("image_url", sa.String(2000)),
        sa.Column("category", sa.String(200)),
        sa.Column("price", sa.Numeric(18, 4)),
        sa.Column("currency", sa.String(3)),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("created_at", herald.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", herald.db.UTCDateTime(timezone=True), nullable=False),
        sa.UniqueConstraint("organization_id", "product_id"),
    )
    op.create_index("ix_products_organization_id", "products", ["organization_id"])
    op.create_index("ix_products_category", "products", ["organization_id", "category"])
    # One product per (organization, product id) that orders name, described by its latest
    # line item. Ids are made in Python: the two dialects have no shared UUID function.
    connection = op.get_bind()
    latest = connection.execute(
        sa.text(
            "SELECT i.organization_id, i.product_id, i.name, i.unit_price, o.currency "
            "FROM order_items i JOIN orders o ON o.id = i.order_pk "
            "ORDER BY o.paid_at"
        ).columns(
            sa.column("organization_id", sa.Uuid()),
            sa.column("product_id", sa.String()),
            sa.column("name", sa.String()),
            sa.column("unit_price", sa.Numeric(18, 4)),
            sa.column("currency", sa.String()),
        )
    ).all()
    products = {(row.organization_id, row.product_id): row for row in latest}
    now = datetime.now(UTC)
    table = sa.table(
        "products",
        sa.column("id", sa.Uuid()),
        sa.column("organization_id", sa.Uuid()),
        sa.column("product_id", sa.String()),
        sa.column("name", sa.String()),
        sa.column("price", sa.Numeric(18, 4)),
        sa.column("currency", sa.String()),
        sa.column("active", sa.Boolean()),
        sa.column("created_at", herald.db.UTCDateTime(timezone=True)),
        sa.column("updated_at", herald.db.UTCDateTime(timezone=True)),
    )
    rows = [
        {
            "id": uuid.uuid4(),
            "organization_id": row.organization_id,
            "product_id": row.product_id,
            "name": row.name or row.product_id,
            "price": row.unit_price,
            "currency": row.currency,
            "active": True,
            "created_at": now,
            "updated_at": now,
        }
        for row in products.values()
    ]
    for start in range(0, len(rows), 1000):
        connection.execute(table.insert(), rows[start : start + 1000])


def downgrade() -> None:
    op.drop_table("products")
