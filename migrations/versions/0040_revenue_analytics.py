"""revenue analytics: attribution settings and spend, each order's attributed messages, the
rollups reports read (periods, cohorts, acquisition) and where they stand; each customer's
acquisition; indexes on when orders and refunds were recorded (what a rollup has not seen)

Revision ID: 0040
Revises: 0039
Create Date: 2026-12-04 20:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import herald.db

revision: str = "0040"
down_revision: str | None = "0039"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "analytics_acquisition",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("month", sa.Date(), nullable=False),
        sa.Column("channel", sa.String(length=100), nullable=False),
        sa.Column("new_customers", sa.Integer(), nullable=False),
        sa.Column("buyers", sa.Integer(), nullable=False),
        sa.Column("revenue", sa.Numeric(precision=18, scale=4), nullable=False),
        sa.Column("organization_id", sa.Uuid(), nullable=False),
        sa.ForeignKeyConstraint(
            ["organization_id"],
            ["organizations.id"],
            name=op.f("fk_analytics_acquisition_organization_id_organizations"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_analytics_acquisition")),
        sa.UniqueConstraint(
            "organization_id",
            "month",
            "channel",
            name=op.f("uq_analytics_acquisition_organization_id_month_channel"),
        ),
    )
    with op.batch_alter_table("analytics_acquisition", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_analytics_acquisition_organization_id"),
            ["organization_id"],
            unique=False,
        )

    op.create_table(
        "analytics_cohorts",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column(
            "granularity",
            sa.Enum("day", "week", "month", name="granularity", native_enum=False, length=10),
            nullable=False,
        ),
        sa.Column("cohort", sa.Date(), nullable=False),
        sa.Column("period", sa.Integer(), nullable=False),
        sa.Column("at", sa.Date(), nullable=False),
        sa.Column("customers", sa.Integer(), nullable=False),
        sa.Column("orders", sa.Integer(), nullable=False),
        sa.Column("revenue", sa.Numeric(precision=18, scale=4), nullable=False),
        sa.Column("organization_id", sa.Uuid(), nullable=False),
        sa.ForeignKeyConstraint(
            ["organization_id"],
            ["organizations.id"],
            name=op.f("fk_analytics_cohorts_organization_id_organizations"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_analytics_cohorts")),
        sa.UniqueConstraint(
            "organization_id",
            "granularity",
            "cohort",
            "period",
            name=op.f("uq_analytics_cohorts_organization_id_granularity_cohort_period"),
        ),
    )
    with op.batch_alter_table("analytics_cohorts", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_analytics_cohorts_organization_id"), ["organization_id"], unique=False
        )

    op.create_table(
        "analytics_periods",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column(
            "granularity",
            sa.Enum("day", "week", "month", name="granularity", native_enum=False, length=10),
            nullable=False,
        ),
        sa.Column("start", sa.Date(), nullable=False),
        sa.Column("revenue", sa.Numeric(precision=18, scale=4), nullable=False),
        sa.Column("orders", sa.Integer(), nullable=False),
        sa.Column("orders_not_converted", sa.Integer(), nullable=False),
        sa.Column("new_customers", sa.Integer(), nullable=False),
        sa.Column("active_customers", sa.Integer(), nullable=False),
        sa.Column("messages", sa.Integer(), nullable=False),
        sa.Column("opens", sa.Integer(), nullable=False),
        sa.Column("clicks", sa.Integer(), nullable=False),
        sa.Column("unsubscribes", sa.Integer(), nullable=False),
        sa.Column("attributed_revenue", sa.Numeric(precision=18, scale=4), nullable=False),
        sa.Column("organization_id", sa.Uuid(), nullable=False),
        sa.ForeignKeyConstraint(
            ["organization_id"],
            ["organizations.id"],
            name=op.f("fk_analytics_periods_organization_id_organizations"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_analytics_periods")),
        sa.UniqueConstraint(
            "organization_id",
            "granularity",
            "start",
            name=op.f("uq_analytics_periods_organization_id_granularity_start"),
        ),
    )
    with op.batch_alter_table("analytics_periods", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_analytics_periods_organization_id"), ["organization_id"], unique=False
        )

    op.create_table(
        "analytics_settings",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column(
            "attribution_model",
            sa.Enum(
                "last_touch",
                "first_touch",
                "linear",
                "time_decay",
                name="attributionmodel",
                native_enum=False,
                length=20,
            ),
            nullable=False,
        ),
        sa.Column("click_window_hours", sa.Integer(), nullable=False),
        sa.Column("open_window_hours", sa.Integer(), nullable=False),
        sa.Column("delivery_window_hours", sa.Integer(), nullable=False),
        sa.Column("half_life_hours", sa.Integer(), nullable=False),
        sa.Column("message_costs", herald.db.JSONType, nullable=False),
        sa.Column("updated_at", herald.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("organization_id", sa.Uuid(), nullable=False),
        sa.ForeignKeyConstraint(
            ["organization_id"],
            ["organizations.id"],
            name=op.f("fk_analytics_settings_organization_id_organizations"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_analytics_settings")),
        sa.UniqueConstraint("organization_id", name=op.f("uq_analytics_settings_organization_id")),
    )
    with op.batch_alter_table("analytics_settings", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_analytics_settings_organization_id"), ["organization_id"], unique=False
        )

    op.create_table(
        "analytics_state",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("as_of", herald.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("attributed_through", herald.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("dirty_from", sa.Date(), nullable=True),
        sa.Column("reattribute", sa.Boolean(), nullable=False),
        sa.Column("rebuilt_at", herald.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("figures", herald.db.JSONType, nullable=False),
        sa.Column("updated_at", herald.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("organization_id", sa.Uuid(), nullable=False),
        sa.ForeignKeyConstraint(
            ["organization_id"],
            ["organizations.id"],
            name=op.f("fk_analytics_state_organization_id_organizations"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_analytics_state")),
        sa.UniqueConstraint("organization_id", name=op.f("uq_analytics_state_organization_id")),
    )
    with op.batch_alter_table("analytics_state", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_analytics_state_organization_id"), ["organization_id"], unique=False
        )

    op.create_table(
        "marketing_spend",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("month", sa.Date(), nullable=False),
        sa.Column("channel", sa.String(length=100), nullable=False),
        sa.Column("subject", sa.String(length=120), nullable=False),
        sa.Column("amount", sa.Numeric(precision=18, scale=4), nullable=False),
        sa.Column("updated_at", herald.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("organization_id", sa.Uuid(), nullable=False),
        sa.ForeignKeyConstraint(
            ["organization_id"],
            ["organizations.id"],
            name=op.f("fk_marketing_spend_organization_id_organizations"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_marketing_spend")),
        sa.UniqueConstraint(
            "organization_id",
            "month",
            "channel",
            "subject",
            name=op.f("uq_marketing_spend_organization_id_month_channel_subject"),
        ),
    )
    with op.batch_alter_table("marketing_spend", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_marketing_spend_organization_id"), ["organization_id"], unique=False
        )

    op.create_table(
        "order_attributions",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("order_pk", sa.Uuid(), nullable=False),
        sa.Column("message_id", sa.Uuid(), nullable=False),
        sa.Column("customer_id", sa.Uuid(), nullable=True),
        sa.Column("paid_at", herald.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("channel", sa.String(length=10), nullable=False),
        sa.Column("template_id", sa.Uuid(), nullable=True),
        sa.Column("campaign_id", sa.Uuid(), nullable=True),
        sa.Column("variant", sa.String(length=40), nullable=True),
        sa.Column("journey_key", sa.String(length=100), nullable=True),
        sa.Column("step_id", sa.String(length=100), nullable=True),
        sa.Column("touch", sa.String(length=10), nullable=False),
        sa.Column("touch_at", herald.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("weight_last_touch", sa.Double(), nullable=False),
        sa.Column("weight_first_touch", sa.Double(), nullable=False),
        sa.Column("weight_linear", sa.Double(), nullable=False),
        sa.Column("weight_time_decay", sa.Double(), nullable=False),
        sa.Column("organization_id", sa.Uuid(), nullable=False),
        sa.ForeignKeyConstraint(
            ["order_pk"],
            ["orders.id"],
            name=op.f("fk_order_attributions_order_pk_orders"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["organization_id"],
            ["organizations.id"],
            name=op.f("fk_order_attributions_organization_id_organizations"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_order_attributions")),
        sa.UniqueConstraint(
            "organization_id",
            "order_pk",
            "message_id",
            name=op.f("uq_order_attributions_organization_id_order_pk_message_id"),
        ),
    )
    with op.batch_alter_table("order_attributions", schema=None) as batch_op:
        batch_op.create_index(
            "ix_order_attributions_campaign", ["organization_id", "campaign_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_order_attributions_organization_id"), ["organization_id"], unique=False
        )
        batch_op.create_index(
            "ix_order_attributions_paid", ["organization_id", "paid_at"], unique=False
        )

    with op.batch_alter_table("customers", schema=None) as batch_op:
        batch_op.add_column(sa.Column("acquisition", herald.db.JSONType, nullable=True))
        batch_op.add_column(sa.Column("acquisition_channel", sa.String(length=100), nullable=True))

    with op.batch_alter_table("order_refunds", schema=None) as batch_op:
        batch_op.create_index(
            "ix_order_refunds_created", ["organization_id", "created_at"], unique=False
        )

    with op.batch_alter_table("orders", schema=None) as batch_op:
        batch_op.create_index("ix_orders_created", ["organization_id", "created_at"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("orders", schema=None) as batch_op:
        batch_op.drop_index("ix_orders_created")

    with op.batch_alter_table("order_refunds", schema=None) as batch_op:
        batch_op.drop_index("ix_order_refunds_created")

    with op.batch_alter_table("customers", schema=None) as batch_op:
        batch_op.drop_column("acquisition_channel")
        batch_op.drop_column("acquisition")

    with op.batch_alter_table("order_attributions", schema=None) as batch_op:
        batch_op.drop_index("ix_order_attributions_paid")
        batch_op.drop_index(batch_op.f("ix_order_attributions_organization_id"))
        batch_op.drop_index("ix_order_attributions_campaign")

    op.drop_table("order_attributions")
    with op.batch_alter_table("marketing_spend", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_marketing_spend_organization_id"))

    op.drop_table("marketing_spend")
    with op.batch_alter_table("analytics_state", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_analytics_state_organization_id"))

    op.drop_table("analytics_state")
    with op.batch_alter_table("analytics_settings", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_analytics_settings_organization_id"))

    op.drop_table("analytics_settings")
    with op.batch_alter_table("analytics_periods", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_analytics_periods_organization_id"))

    op.drop_table("analytics_periods")
    with op.batch_alter_table("analytics_cohorts", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_analytics_cohorts_organization_id"))

    op.drop_table("analytics_cohorts")
    with op.batch_alter_table("analytics_acquisition", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_analytics_acquisition_organization_id"))

    op.drop_table("analytics_acquisition")
