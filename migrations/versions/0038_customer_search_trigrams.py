"""customer search: trigram indexes for names, emails and phones on PostgreSQL

The console and /v1/customers search "contains" (a piece of a name, an email or a phone
number). A B-tree cannot answer that; pg_trgm's GIN indexes can, so a rare term is found
without reading every customer. pg_trgm ships with PostgreSQL and is a trusted extension: the
database's owner may create it. SQLite, the embedded default, searches by scanning.

Revision ID: 0038
Revises: 0037
Create Date: 2026-12-04 14:00:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0038"
down_revision: str | None = "0037"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# index name -> (table, column)
TRIGRAM_INDEXES = {
    "ix_customers_name_trigrams": ("customers", "name"),
    "ix_customer_emails_email_trigrams": ("customer_emails", "email"),
    "ix_customer_phones_phone_trigrams": ("customer_phones", "phone"),
}


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
    for name, (table, column) in TRIGRAM_INDEXES.items():
        op.create_index(
            name,
            table,
            [column],
            postgresql_using="gin",
            postgresql_ops={column: "gin_trgm_ops"},
        )


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    for name, (table, _) in TRIGRAM_INDEXES.items():
        op.drop_index(name, table_name=table)
