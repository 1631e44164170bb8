"""exports: the list written as a CSV file, a chunk of rows at a time

Revision ID: 0033
Revises: 0032
Create Date: 2026-12-03 19:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import herald.db

revision: str = "0033"
down_revision: str | None = "0032"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "exports",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column(
            "kind",
            sa.Enum("customers", "subscribers", name="exportkind", native_enum=False, length=20),
            nullable=False,
        ),
        sa.Column("selection", herald.db.JSONType, nullable=False),
        sa.Column(
            "status",
            sa.Enum(
                "running",
                "ready",
                "cancelled",
                "failed",
                "expired",
                name="exportstatus",
                native_enum=False,
                length=20,
            ),
            nullable=False,
        ),
        sa.Column("rows", sa.Integer(), nullable=False),
        sa.Column("created_by", sa.String(length=200), nullable=False),
        sa.Column("created_at", herald.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("finished_at", herald.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("expires_at", herald.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("organization_id", sa.Uuid(), nullable=False),
        sa.ForeignKeyConstraint(
            ["organization_id"],
            ["organizations.id"],
            name=op.f("fk_exports_organization_id_organizations"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_exports")),
    )
    op.create_index(op.f("ix_exports_organization_id"), "exports", ["organization_id"])
    op.create_table(
        "export_chunks",
        sa.Column("export_id", sa.Uuid(), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("rows", sa.Integer(), nullable=False),
        sa.Column("after", sa.String(length=100), nullable=True),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("organization_id", sa.Uuid(), nullable=False),
        sa.ForeignKeyConstraint(
            ["export_id"],
            ["exports.id"],
            name=op.f("fk_export_chunks_export_id_exports"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["organization_id"],
            ["organizations.id"],
            name=op.f("fk_export_chunks_organization_id_organizations"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("export_id", "seq", name=op.f("pk_export_chunks")),
    )
    op.create_index(op.f("ix_export_chunks_organization_id"), "export_chunks", ["organization_id"])


def downgrade() -> None:
    op.drop_table("export_chunks")
    op.drop_table("exports")
