"""the full profile: addresses (the primary one's country on the customer), staff notes and
the activity log of staff changes

Revision ID: 0027
Revises: 0026
Create Date: 2026-12-03 18:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import herald.db

revision: str = "0027"
down_revision: str | None = "0026"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _tenant() -> sa.Column:
    return sa.Column(
        "organization_id",
        sa.Uuid(),
        sa.ForeignKey("organizations.id", ondelete="CASCADE"),
        nullable=False,
    )


def _customer() -> sa.Column:
    return sa.Column(
        "customer_id", sa.Uuid(), sa.ForeignKey("customers.id", ondelete="CASCADE"), nullable=False
    )


def upgrade() -> None:
    with op.batch_alter_table("customers") as batch:
        batch.add_column(sa.Column("country", sa.String(2)))
    op.create_index("ix_customers_org_country", "customers", ["organization_id", "country"])
    op.create_table(
        "customer_addresses",
        sa.Column("id", sa.Uuid(), primary_key=True),
        _tenant(),
        _customer(),
        sa.Column("label", sa.String(50)),
        sa.Column("line1", sa.String(200), nullable=False),
        sa.Column("line2", sa.String(200)),
        sa.Column("city", sa.String(100)),
        sa.Column("region", sa.String(100)),
        sa.Column("postal_code", sa.String(20)),
        sa.Column("country", sa.String(2), nullable=False),
        sa.Column("is_primary", sa.Boolean(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
    )
    op.create_index(
        "ix_customer_addresses_organization_id", "customer_addresses", ["organization_id"]
    )
    op.create_index("ix_customer_addresses_customer_id", "customer_addresses", ["customer_id"])
    op.create_table(
        "customer_notes",
        sa.Column("id", sa.Uuid(), primary_key=True),
        _tenant(),
        _customer(),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("pinned", sa.Boolean(), nullable=False),
        sa.Column("author", sa.String(64), nullable=False),
        sa.Column("created_at", herald.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", herald.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_by", sa.String(64), nullable=False),
    )
    op.create_index("ix_customer_notes_organization_id", "customer_notes", ["organization_id"])
    op.create_index(
        "ix_customer_notes_customer",
        "customer_notes",
        ["organization_id", "customer_id", "created_at"],
    )
    op.create_table(
        "customer_activity",
        sa.Column("id", sa.Uuid(), primary_key=True),
        _tenant(),
        _customer(),
        sa.Column("actor", sa.String(64), nullable=False),
        sa.Column("action", sa.String(50), nullable=False),
        sa.Column("changes", herald.db.JSONType, nullable=False),
        sa.Column("at", herald.db.UTCDateTime(timezone=True), nullable=False),
    )
    op.create_index(
        "ix_customer_activity_organization_id", "customer_activity", ["organization_id"]
    )
    op.create_index(
        "ix_customer_activity_customer",
        "customer_activity",
        ["organization_id", "customer_id", "at"],
    )


def downgrade() -> None:
    op.drop_table("customer_activity")
    op.drop_table("customer_notes")
    op.drop_table("customer_addresses")
    op.drop_index("ix_customers_org_country", table_name="customers")
    with op.batch_alter_table("customers") as batch:
        batch.drop_column("country")
