"""campaign archive: what an archived campaign was, so it can be restored

Campaign statuses are stored as strings without a database check, so ``archived`` needs no
change to the status column.

Revision ID: 0039
Revises: 0038
Create Date: 2026-12-04 17:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0039"
down_revision: str | None = "0038"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("campaigns") as batch:
        batch.add_column(sa.Column("archived_from", sa.String(length=20), nullable=True))


def downgrade() -> None:
    op.execute("UPDATE campaigns SET status = archived_from WHERE status = 'archived'")
    with op.batch_alter_table("campaigns") as batch:
        batch.drop_column("archived_from")
