"""predictions: each lifetime-value fit, each buyer's latest scores, and the recommender's
product affinities and category popularity

Revision ID: 0041
Revises: 0040
Create Date: 2026-12-05 03:15:16.363871
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import herald.db

revision: str = "0041"
down_revision: str | None = "0040"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "clv_models",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("as_of", sa.Date(), nullable=False),
        sa.Column(
            "status",
            sa.Enum("fitted", "not_enough_data", name="modelstatus", native_enum=False, length=20),
            nullable=False,
        ),
        sa.Column("reason", sa.String(length=500), nullable=True),
        sa.Column("bg_nbd", herald.db.JSONType, nullable=True),
        sa.Column("gamma_gamma", herald.db.JSONType, nullable=True),
        sa.Column("diagnostics", herald.db.JSONType, nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("horizon_days", sa.Integer(), nullable=False),
        sa.Column("scoring", sa.Boolean(), nullable=False),
        sa.Column("scored", sa.Integer(), nullable=False),
        sa.Column("fitted_at", herald.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("organization_id", sa.Uuid(), nullable=False),
        sa.ForeignKeyConstraint(
            ["organization_id"],
            ["organizations.id"],
            name=op.f("fk_clv_models_organization_id_organizations"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_clv_models")),
        sa.UniqueConstraint(
            "organization_id", "as_of", name=op.f("uq_clv_models_organization_id_as_of")
        ),
    )
    with op.batch_alter_table("clv_models", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_clv_models_organization_id"), ["organization_id"], unique=False
        )

    op.create_table(
        "product_affinities",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("product_id", sa.String(length=200), nullable=False),
        sa.Column("related_product_id", sa.String(length=200), nullable=False),
        sa.Column("score", sa.Float(), nullable=False),
        sa.Column("organization_id", sa.Uuid(), nullable=False),
        sa.ForeignKeyConstraint(
            ["organization_id"],
            ["organizations.id"],
            name=op.f("fk_product_affinities_organization_id_organizations"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_product_affinities")),
    )
    with op.batch_alter_table("product_affinities", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_product_affinities_organization_id"), ["organization_id"], unique=False
        )
        batch_op.create_index(
            "ix_product_affinities_product", ["organization_id", "product_id"], unique=False
        )

    op.create_table(
        "product_popularity",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("product_id", sa.String(length=200), nullable=False),
        sa.Column("category", sa.String(length=200), nullable=True),
        sa.Column("buyers", sa.Integer(), nullable=False),
        sa.Column("organization_id", sa.Uuid(), nullable=False),
        sa.ForeignKeyConstraint(
            ["organization_id"],
            ["organizations.id"],
            name=op.f("fk_product_popularity_organization_id_organizations"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_product_popularity")),
        sa.UniqueConstraint(
            "organization_id",
            "product_id",
            name=op.f("uq_product_popularity_organization_id_product_id"),
        ),
    )
    with op.batch_alter_table("product_popularity", schema=None) as batch_op:
        batch_op.create_index(
            "ix_product_popularity_category",
            ["organization_id", "category", "buyers"],
            unique=False,
        )
        batch_op.create_index(
            batch_op.f("ix_product_popularity_organization_id"), ["organization_id"], unique=False
        )

    op.create_table(
        "customer_predictions",
        sa.Column("customer_id", sa.Uuid(), nullable=False),
        sa.Column("as_of", sa.Date(), nullable=False),
        sa.Column("expected_purchases", sa.Float(), nullable=False),
        sa.Column("probability_alive", sa.Float(), nullable=False),
        sa.Column("churn_risk", sa.Float(), nullable=False),
        sa.Column("expected_value", sa.Numeric(precision=18, scale=2), nullable=True),
        sa.Column("predicted_clv", sa.Numeric(precision=18, scale=2), nullable=True),
        sa.Column("organization_id", sa.Uuid(), nullable=False),
        sa.ForeignKeyConstraint(
            ["customer_id"],
            ["customers.id"],
            name=op.f("fk_customer_predictions_customer_id_customers"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["organization_id"],
            ["organizations.id"],
            name=op.f("fk_customer_predictions_organization_id_organizations"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("customer_id", name=op.f("pk_customer_predictions")),
    )
    with op.batch_alter_table("customer_predictions", schema=None) as batch_op:
        batch_op.create_index(
            "ix_customer_predictions_churn", ["organization_id", "churn_risk"], unique=False
        )
        batch_op.create_index(
            "ix_customer_predictions_clv", ["organization_id", "predicted_clv"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_customer_predictions_organization_id"), ["organization_id"], unique=False
        )
        batch_op.create_index(
            "ix_customer_predictions_purchases",
            ["organization_id", "expected_purchases"],
            unique=False,
        )


def downgrade() -> None:
    with op.batch_alter_table("customer_predictions", schema=None) as batch_op:
        batch_op.drop_index("ix_customer_predictions_purchases")
        batch_op.drop_index(batch_op.f("ix_customer_predictions_organization_id"))
        batch_op.drop_index("ix_customer_predictions_clv")
        batch_op.drop_index("ix_customer_predictions_churn")

    op.drop_table("customer_predictions")
    with op.batch_alter_table("product_popularity", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_product_popularity_organization_id"))
        batch_op.drop_index("ix_product_popularity_category")

    op.drop_table("product_popularity")
    with op.batch_alter_table("product_affinities", schema=None) as batch_op:
        batch_op.drop_index("ix_product_affinities_product")
        batch_op.drop_index(batch_op.f("ix_product_affinities_organization_id"))

    op.drop_table("product_affinities")
    with op.batch_alter_table("clv_models", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_clv_models_organization_id"))

    op.drop_table("clv_models")
