"""staff sign in to the console: passwords, the second factor, sessions, one-time links, and
the failed-attempt guard

Revision ID: 0036
Revises: 0035
Create Date: 2026-12-03 21:45:00
"""

import uuid
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import herald.db

revision: str = "0036"
down_revision: str | None = "0035"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _tenant_and_user() -> list[sa.Column[sa.Uuid[uuid.UUID]]]:
    return [
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("organization_id", sa.Uuid(), nullable=False),
        sa.Column("user_id", sa.Uuid(), nullable=False),
    ]


def _tenant_keys(table: str) -> list[sa.Constraint]:
    return [
        sa.ForeignKeyConstraint(
            ["organization_id"],
            ["organizations.id"],
            name=f"fk_{table}_organization_id_organizations",
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=f"fk_{table}_user_id_users", ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=f"pk_{table}"),
        sa.UniqueConstraint("digest", name=f"uq_{table}_digest"),
    ]


def upgrade() -> None:
    with op.batch_alter_table("users") as batch:
        batch.add_column(sa.Column("password_hash", sa.String(length=200), nullable=True))
        batch.add_column(sa.Column("totp_secret", sa.Text(), nullable=True))
        batch.add_column(
            sa.Column("totp_enabled_at", herald.db.UTCDateTime(timezone=True), nullable=True)
        )
    op.create_table(
        "staff_sessions",
        *_tenant_and_user(),
        sa.Column("digest", sa.String(length=64), nullable=False),
        sa.Column("user_agent", sa.String(length=300), nullable=False),
        sa.Column("created_at", herald.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("last_seen_at", herald.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("expires_at", herald.db.UTCDateTime(timezone=True), nullable=False),
        *_tenant_keys("staff_sessions"),
    )
    op.create_table(
        "staff_tokens",
        *_tenant_and_user(),
        sa.Column(
            "purpose",
            sa.Enum("invite", "reset", name="tokenpurpose", native_enum=False, length=10),
            nullable=False,
        ),
        sa.Column("digest", sa.String(length=64), nullable=False),
        sa.Column("created_at", herald.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("expires_at", herald.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("used_at", herald.db.UTCDateTime(timezone=True), nullable=True),
        *_tenant_keys("staff_tokens"),
    )
    for table in ("staff_sessions", "staff_tokens"):
        op.create_index(f"ix_{table}_organization_id", table, ["organization_id"])
        op.create_index(f"ix_{table}_user_id", table, ["user_id"])
    op.create_table(
        "sign_in_guards",
        sa.Column("email", sa.String(length=320), nullable=False),
        sa.Column("failures", sa.Integer(), nullable=False),
        sa.Column("first_failure_at", herald.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("locked_until", herald.db.UTCDateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("email", name="pk_sign_in_guards"),
    )


def downgrade() -> None:
    op.drop_table("sign_in_guards")
    op.drop_table("staff_tokens")
    op.drop_table("staff_sessions")
    with op.batch_alter_table("users") as batch:
        batch.drop_column("totp_enabled_at")
        batch.drop_column("totp_secret")
        batch.drop_column("password_hash")
