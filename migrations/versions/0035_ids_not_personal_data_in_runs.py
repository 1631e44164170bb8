"""runs carry ids, not personal data: test sends' addresses stored for their runs; the event
properties each journey compares

Revision ID: 0035
Revises: 0034
Create Date: 2026-12-03 21:00:00
"""

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from alembic import op

import herald.db

revision: str = "0035"
down_revision: str | None = "0034"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _compared(definition: dict[str, Any]) -> set[str]:
    """The property names a published definition's event matches compare (their ``where``)."""
    matches = [definition.get("trigger"), definition.get("goal"), *definition.get("exit_on", [])]
    matches += [s for s in definition.get("steps", []) if s.get("type") == "wait_for_event"]
    return {name for m in matches if m for name in (m.get("where") or {})}


def upgrade() -> None:
    op.create_table(
        "adhoc_recipients",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("address", sa.String(length=320), nullable=False),
        sa.Column("created_at", herald.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("organization_id", sa.Uuid(), nullable=False),
        sa.ForeignKeyConstraint(
            ["organization_id"],
            ["organizations.id"],
            name=op.f("fk_adhoc_recipients_organization_id_organizations"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_adhoc_recipients")),
    )
    op.create_index(
        op.f("ix_adhoc_recipients_organization_id"), "adhoc_recipients", ["organization_id"]
    )
    with op.batch_alter_table("journeys") as batch:
        batch.add_column(
            sa.Column("matched_properties", herald.db.JSONType, nullable=False, server_default="[]")
        )
    conn = op.get_bind()
    versions = sa.table(
        "journey_versions",
        sa.column("journey_id", sa.Uuid()),
        sa.column("definition", herald.db.JSONType),
    )
    journeys = sa.table(
        "journeys", sa.column("id", sa.Uuid()), sa.column("matched_properties", herald.db.JSONType)
    )
    compared: dict[Any, set[str]] = {}
    for journey_id, definition in conn.execute(
        sa.select(versions.c.journey_id, versions.c.definition)
    ):
        compared.setdefault(journey_id, set()).update(_compared(definition or {}))
    for journey_id, names in compared.items():
        conn.execute(
            journeys.update()
            .where(journeys.c.id == journey_id)
            .values(matched_properties=sorted(names))
        )


def downgrade() -> None:
    with op.batch_alter_table("journeys") as batch:
        batch.drop_column("matched_properties")
    op.drop_table("adhoc_recipients")
