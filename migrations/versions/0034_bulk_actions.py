"""bulk actions: one change to many customers, who they are fixed when the run begins

Revision ID: 0034
Revises: 0033
Create Date: 2026-12-03 20:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import herald.db

revision: str = "0034"
down_revision: str | None = "0033"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

ACTIONS = (
    "tag",
    "untag",
    "set_consent",
    "delete",
    "restore",
    "enroll",
    "add_to_group",
    "remove_from_group",
)


def upgrade() -> None:
    op.create_table(
        "bulk_actions",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column(
            "action",
            sa.Enum(*ACTIONS, name="bulkactionkind", native_enum=False, length=20),
            nullable=False,
        ),
        sa.Column("params", herald.db.JSONType, nullable=False),
        sa.Column("selection", herald.db.JSONType, nullable=False),
        sa.Column(
            "status",
            sa.Enum(
                "running",
                "done",
                "cancelled",
                "failed",
                name="bulkstatus",
                native_enum=False,
                length=20,
            ),
            nullable=False,
        ),
        sa.Column("total", sa.Integer(), nullable=True),
        sa.Column("counts", herald.db.JSONType, nullable=False),
        sa.Column("created_by", sa.String(length=200), nullable=False),
        sa.Column("created_at", herald.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("finished_at", herald.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("organization_id", sa.Uuid(), nullable=False),
        sa.ForeignKeyConstraint(
            ["organization_id"],
            ["organizations.id"],
            name=op.f("fk_bulk_actions_organization_id_organizations"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_bulk_actions")),
    )
    op.create_index(op.f("ix_bulk_actions_organization_id"), "bulk_actions", ["organization_id"])
    op.create_table(
        "bulk_targets",
        sa.Column("bulk_id", sa.Uuid(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("customer_id", sa.Uuid(), nullable=False),
        sa.Column(
            "outcome",
            sa.Enum(
                "created",
                "updated",
                "unchanged",
                "failed",
                name="rowoutcome",
                native_enum=False,
                length=10,
            ),
            nullable=True,
        ),
        sa.Column("error", sa.String(length=300), nullable=True),
        sa.Column("organization_id", sa.Uuid(), nullable=False),
        sa.ForeignKeyConstraint(
            ["bulk_id"],
            ["bulk_actions.id"],
            name=op.f("fk_bulk_targets_bulk_id_bulk_actions"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["organization_id"],
            ["organizations.id"],
            name=op.f("fk_bulk_targets_organization_id_organizations"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("bulk_id", "position", name=op.f("pk_bulk_targets")),
    )
    op.create_index(op.f("ix_bulk_targets_organization_id"), "bulk_targets", ["organization_id"])


def downgrade() -> None:
    op.drop_table("bulk_targets")
    op.drop_table("bulk_actions")
