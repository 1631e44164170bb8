"""push to every device and in-app display rules: per-device push deliveries, dead devices
deactivated, in-app expiry and dismissal, and a Firebase service-account key in place of the
static FCM bearer token (which expired within the hour: organizations upload their key again)

Revision ID: 0042
Revises: 0041
Create Date: 2026-12-05 06:30:20.075793
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import herald.db

revision: str = "0042"
down_revision: str | None = "0041"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "push_deliveries",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("message_id", sa.Uuid(), nullable=False),
        sa.Column("device_id", sa.Uuid(), nullable=True),
        sa.Column("platform", sa.String(length=20), nullable=False),
        sa.Column(
            "status",
            sa.Enum(
                "queued",
                "sent",
                "failed",
                "unknown",
                name="pushdeliverystatus",
                native_enum=False,
                length=10,
            ),
            nullable=False,
        ),
        sa.Column("fcm_message_id", sa.String(length=200), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("in_flight", sa.Boolean(), nullable=False),
        sa.Column("created_at", herald.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", herald.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("organization_id", sa.Uuid(), nullable=False),
        sa.ForeignKeyConstraint(
            ["device_id"],
            ["devices.id"],
            name=op.f("fk_push_deliveries_device_id_devices"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["message_id"],
            ["messages.id"],
            name=op.f("fk_push_deliveries_message_id_messages"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["organization_id"],
            ["organizations.id"],
            name=op.f("fk_push_deliveries_organization_id_organizations"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_push_deliveries")),
        sa.UniqueConstraint(
            "message_id", "device_id", name=op.f("uq_push_deliveries_message_id_device_id")
        ),
    )
    with op.batch_alter_table("push_deliveries", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_push_deliveries_message_id"), ["message_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_push_deliveries_organization_id"), ["organization_id"], unique=False
        )

    with op.batch_alter_table("devices", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("active", sa.Boolean(), nullable=False, server_default=sa.true())
        )
        batch_op.add_column(
            sa.Column("deactivated_at", herald.db.UTCDateTime(timezone=True), nullable=True)
        )
        batch_op.add_column(sa.Column("deactivated_reason", sa.String(length=200), nullable=True))

    with op.batch_alter_table("messages", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("dismissed_at", herald.db.UTCDateTime(timezone=True), nullable=True)
        )
        batch_op.add_column(
            sa.Column("expires_at", herald.db.UTCDateTime(timezone=True), nullable=True)
        )

    with op.batch_alter_table("messaging_settings", schema=None) as batch_op:
        batch_op.add_column(sa.Column("fcm_service_account", sa.Text(), nullable=True))
        batch_op.add_column(sa.Column("fcm_base_url", sa.String(length=300), nullable=True))
        batch_op.drop_column("push_endpoint")
        batch_op.drop_column("push_access_token")


def downgrade() -> None:
    with op.batch_alter_table("messaging_settings", schema=None) as batch_op:
        batch_op.add_column(sa.Column("push_access_token", sa.TEXT(), nullable=True))
        batch_op.add_column(sa.Column("push_endpoint", sa.VARCHAR(length=500), nullable=True))
        batch_op.drop_column("fcm_base_url")
        batch_op.drop_column("fcm_service_account")

    with op.batch_alter_table("messages", schema=None) as batch_op:
        batch_op.drop_column("expires_at")
        batch_op.drop_column("dismissed_at")

    with op.batch_alter_table("devices", schema=None) as batch_op:
        batch_op.drop_column("deactivated_reason")
        batch_op.drop_column("deactivated_at")
        batch_op.drop_column("active")

    with op.batch_alter_table("push_deliveries", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_push_deliveries_organization_id"))
        batch_op.drop_index(batch_op.f("ix_push_deliveries_message_id"))

    op.drop_table("push_deliveries")
