"""business customers (legal name, tax identification number, billing contact) and customer
groups with their members

Revision ID: 0030
Revises: 0029
Create Date: 2026-12-03 19:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import herald.db

revision: str = "0030"
down_revision: str | None = "0029"
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
        "customer_id",
        sa.Uuid(),
        sa.ForeignKey("customers.id", ondelete="CASCADE"),
        primary_key=True,
    )


def upgrade() -> None:
    op.create_table(
        "customer_businesses",
        _customer(),
        _tenant(),
        sa.Column("legal_name", sa.String(300), nullable=False),
        sa.Column("tax_id", sa.String(50)),
        sa.Column("tax_country", sa.String(2)),
        sa.Column("billing_name", sa.String(200)),
        sa.Column("billing_email", sa.String(320)),
        sa.Column("billing_phone", sa.String(20)),
    )
    op.create_index(
        "ix_customer_businesses_organization_id", "customer_businesses", ["organization_id"]
    )
    op.create_table(
        "customer_groups",
        sa.Column("id", sa.Uuid(), primary_key=True),
        _tenant(),
        sa.Column("key", sa.String(100), nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("kind", sa.String(50)),
        sa.Column("description", sa.String(1000), nullable=False),
        sa.Column("created_at", herald.db.UTCDateTime(timezone=True), nullable=False),
        sa.UniqueConstraint("organization_id", "key"),
    )
    op.create_index("ix_customer_groups_organization_id", "customer_groups", ["organization_id"])
    op.create_table(
        "customer_group_members",
        sa.Column(
            "group_id",
            sa.Uuid(),
            sa.ForeignKey("customer_groups.id", ondelete="CASCADE"),
            primary_key=True,
        ),
        _customer(),
        _tenant(),
        sa.Column("added_at", herald.db.UTCDateTime(timezone=True), nullable=False),
    )
    op.create_index(
        "ix_customer_group_members_organization_id", "customer_group_members", ["organization_id"]
    )
    op.create_index(
        "ix_customer_group_members_customer",
        "customer_group_members",
        ["organization_id", "customer_id"],
    )


def downgrade() -> None:
    op.drop_table("customer_group_members")
    op.drop_table("customer_groups")
    op.drop_table("customer_businesses")
