"""events by type and time carry the customer, so a segment's event window is read from the index

Revision ID: 0020
Revises: 0019
Create Date: 2026-11-30 12:45:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0020"
down_revision: str | None = "0019"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Built beside the old index without blocking event writes, then swapped in.
    with op.get_context().autocommit_block():
        op.create_index(
            "ix_events_type_customer",
            "events",
            ["organization_id", "type", "occurred_at"],
            postgresql_include=["customer_id"],
            postgresql_concurrently=True,
        )
        op.drop_index("ix_events_type", table_name="events", postgresql_concurrently=True)


def downgrade() -> None:
    with op.get_context().autocommit_block():
        op.create_index(
            "ix_events_type",
            "events",
            ["organization_id", "type", "occurred_at"],
            postgresql_concurrently=True,
        )
        op.drop_index("ix_events_type_customer", table_name="events", postgresql_concurrently=True)
