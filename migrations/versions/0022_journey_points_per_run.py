"""loyalty settings cap the points one journey run may award

Revision ID: 0022
Revises: 0021
Create Date: 2026-12-03 08:05:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0022"
down_revision: str | None = "0021"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("loyalty_settings") as batch:
        batch.add_column(
            sa.Column("journey_points_per_run", sa.Integer(), nullable=False, server_default="1000")
        )


def downgrade() -> None:
    with op.batch_alter_table("loyalty_settings") as batch:
        batch.drop_column("journey_points_per_run")
