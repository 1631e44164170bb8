"""campaigns record why a send failed, and the id of the run that carries their send

Revision ID: 0021
Revises: 0020
Create Date: 2026-12-03 07:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0021"
down_revision: str | None = "0020"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

campaigns = sa.table(
    "campaigns",
    sa.column("id", sa.Uuid()),
    sa.column("status", sa.String()),
    sa.column("workflow_id", sa.String()),
)


def upgrade() -> None:
    # The status column is a plain string (no native enum, no CHECK): "failed" needs no change.
    with op.batch_alter_table("campaigns") as batch:
        batch.add_column(sa.Column("failure", sa.String(length=500), nullable=True))
        batch.add_column(sa.Column("workflow_id", sa.String(length=300), nullable=True))
    # Sends started before runs were named <Type>/<organization>/<campaign> keep their id.
    connection = op.get_bind()
    started = connection.execute(
        sa.select(campaigns.c.id).where(campaigns.c.status != "draft")
    ).scalars()
    for campaign_id in list(started):
        connection.execute(
            campaigns.update()
            .where(campaigns.c.id == campaign_id)
            .values(workflow_id=f"campaign-{campaign_id}")
        )


def downgrade() -> None:
    with op.batch_alter_table("campaigns") as batch:
        batch.drop_column("workflow_id")
        batch.drop_column("failure")
