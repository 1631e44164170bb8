"""events carry when the sweeper may try them again; failing events back off and park

Revision ID: 0023
Revises: 0022
Create Date: 2026-12-03 09:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import herald.db

revision: str = "0023"
down_revision: str | None = "0022"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

UNDISPATCHED = sa.text("dispatched_at IS NULL")


def upgrade() -> None:
    with op.batch_alter_table("events") as batch:
        batch.add_column(sa.Column("retry_at", herald.db.UTCDateTime(timezone=True), nullable=True))
    op.execute("UPDATE events SET retry_at = received_at WHERE dispatched_at IS NULL")
    op.drop_index("ix_events_undispatched", table_name="events")
    op.create_index(
        "ix_events_due",
        "events",
        ["retry_at"],
        postgresql_where=UNDISPATCHED,
        sqlite_where=UNDISPATCHED,
    )


def downgrade() -> None:
    op.drop_index("ix_events_due", table_name="events")
    op.create_index(
        "ix_events_undispatched",
        "events",
        ["received_at"],
        postgresql_where=UNDISPATCHED,
        sqlite_where=UNDISPATCHED,
    )
    with op.batch_alter_table("events") as batch:
        batch.drop_column("retry_at")
