"""CSV imports: the uploaded file's rows and what a dry run and the import made of each

Revision ID: 0032
Revises: 0031
Create Date: 2026-12-03 19:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import herald.db

revision: str = "0032"
down_revision: str | None = "0031"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "imports",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column(
            "kind",
            sa.Enum("customers", "orders", name="importkind", native_enum=False, length=20),
            nullable=False,
        ),
        sa.Column("filename", sa.String(length=200), nullable=False),
        sa.Column("headers", herald.db.JSONType, nullable=False),
        sa.Column("mapping", herald.db.JSONType, nullable=False),
        sa.Column("react", sa.Boolean(), nullable=False),
        sa.Column(
            "status",
            sa.Enum(
                "uploaded",
                "checking",
                "checked",
                "importing",
                "imported",
                "cancelled",
                "failed",
                name="importstatus",
                native_enum=False,
                length=20,
            ),
            nullable=False,
        ),
        sa.Column("total_rows", sa.Integer(), nullable=False),
        sa.Column("checked", herald.db.JSONType, nullable=False),
        sa.Column("imported", herald.db.JSONType, nullable=False),
        sa.Column("checks", sa.Integer(), nullable=False),
        sa.Column("created_by", sa.String(length=200), nullable=False),
        sa.Column("created_at", herald.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("started_at", herald.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("finished_at", herald.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("organization_id", sa.Uuid(), nullable=False),
        sa.ForeignKeyConstraint(
            ["organization_id"],
            ["organizations.id"],
            name=op.f("fk_imports_organization_id_organizations"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_imports")),
    )
    op.create_index(op.f("ix_imports_organization_id"), "imports", ["organization_id"])
    outcome = sa.Enum(
        "created", "updated", "unchanged", "failed", name="rowoutcome", native_enum=False, length=10
    )
    op.create_table(
        "import_rows",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("import_id", sa.Uuid(), nullable=False),
        sa.Column("line", sa.Integer(), nullable=False),
        sa.Column("cells", herald.db.JSONType, nullable=False),
        sa.Column("check_outcome", outcome, nullable=True),
        sa.Column("outcome", outcome, nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("organization_id", sa.Uuid(), nullable=False),
        sa.ForeignKeyConstraint(
            ["import_id"],
            ["imports.id"],
            name=op.f("fk_import_rows_import_id_imports"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["organization_id"],
            ["organizations.id"],
            name=op.f("fk_import_rows_organization_id_organizations"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_import_rows")),
    )
    op.create_index("ix_import_rows_line", "import_rows", ["import_id", "line"], unique=True)
    op.create_index(op.f("ix_import_rows_organization_id"), "import_rows", ["organization_id"])


def downgrade() -> None:
    op.drop_table("import_rows")
    op.drop_table("imports")
