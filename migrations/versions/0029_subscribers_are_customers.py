"""every newsletter subscriber is linked to a customer profile (matched by address, or made
email-only), and a confirmed subscription holds email marketing consent

Revision ID: 0029
Revises: 0028
Create Date: 2026-12-03 19:00:00
"""

import uuid
from collections.abc import Sequence
from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op

import herald.db

revision: str = "0029"
down_revision: str | None = "0028"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

UUID = sa.Uuid()
WHEN = herald.db.UTCDateTime(timezone=True)
_subscribers = sa.table(
    "subscribers",
    sa.column("id", UUID),
    sa.column("organization_id", UUID),
    sa.column("email", sa.String()),
    sa.column("status", sa.String()),
    sa.column("customer_id", UUID),
)
_customers = sa.table(
    "customers",
    sa.column("id", UUID),
    sa.column("organization_id", UUID),
    sa.column("name", sa.String()),
    sa.column("primary_email", sa.String()),
    sa.column("attributes", herald.db.JSONType),
    sa.column("created_at", WHEN),
    sa.column("updated_at", WHEN),
    sa.column("deleted_at", WHEN),
)
_emails = sa.table(
    "customer_emails",
    sa.column("id", UUID),
    sa.column("organization_id", UUID),
    sa.column("customer_id", UUID),
    sa.column("email", sa.String()),
    sa.column("is_primary", sa.Boolean()),
    sa.column("position", sa.Integer()),
)
_consents = sa.table(
    "consents",
    sa.column("id", UUID),
    sa.column("organization_id", UUID),
    sa.column("customer_id", UUID),
    sa.column("channel", sa.String()),
    sa.column("status", sa.String()),
    sa.column("source", sa.String()),
    sa.column("updated_at", WHEN),
)


def upgrade() -> None:
    connection = op.get_bind()
    now = datetime.now(UTC)
    unlinked = connection.execute(
        sa.select(_subscribers.c.id, _subscribers.c.organization_id, _subscribers.c.email).where(
            _subscribers.c.customer_id.is_(None)
        )
    ).all()
    for subscriber_id, org, email in unlinked:
        customer_id = connection.execute(
            sa.select(_customers.c.id)
            .join(_emails, _emails.c.customer_id == _customers.c.id)
            .where(
                _customers.c.organization_id == org,
                _emails.c.email == email,
                _customers.c.deleted_at.is_(None),
            )
            .order_by(_emails.c.is_primary.desc(), _customers.c.created_at)
            .limit(1)
        ).scalar()
        if customer_id is None:
            customer_id = uuid.uuid4()
            connection.execute(
                _customers.insert().values(
                    id=customer_id,
                    organization_id=org,
                    name="",
                    primary_email=email,
                    attributes={},
                    created_at=now,
                    updated_at=now,
                )
            )
            connection.execute(
                _emails.insert().values(
                    id=uuid.uuid4(),
                    organization_id=org,
                    customer_id=customer_id,
                    email=email,
                    is_primary=True,
                    position=0,
                )
            )
        connection.execute(
            _subscribers.update()
            .where(_subscribers.c.id == subscriber_id)
            .values(customer_id=customer_id)
        )
    # A confirmed subscriber without a recorded email consent is granted it; a consent the
    # customer gave or withdrew otherwise stands.
    consenting = connection.execute(
        sa.select(_subscribers.c.organization_id, _subscribers.c.customer_id)
        .where(
            _subscribers.c.status == "subscribed",
            _subscribers.c.customer_id.is_not(None),
            ~sa.exists().where(
                _consents.c.customer_id == _subscribers.c.customer_id,
                _consents.c.channel == "email",
            ),
        )
        .distinct()
    ).all()
    for org, customer_id in consenting:
        connection.execute(
            _consents.insert().values(
                id=uuid.uuid4(),
                organization_id=org,
                customer_id=customer_id,
                channel="email",
                status="granted",
                source="newsletter subscription",
                updated_at=now,
            )
        )


def downgrade() -> None:
    """Links and consents stay: they are true of the data before this revision too."""
