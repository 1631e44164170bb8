"""Migrations that change data, checked on a database that has the rows they change."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
import sqlalchemy as sa

from herald.database import Database
from herald.migrate import upgrade
from herald.organizations.service import create_organization
from tests.support import create_pg_database

# SQL here differs between SQLite and PostgreSQL: run on both.
pytestmark = pytest.mark.dialects

_campaigns = sa.table(
    "campaigns",
    sa.column("id", sa.Uuid()),
    sa.column("organization_id", sa.Uuid()),
    sa.column("key", sa.String()),
    sa.column("name", sa.String()),
    sa.column("channel", sa.String()),
    sa.column("status", sa.String()),
    sa.column("audience", sa.JSON()),
    sa.column("variants", sa.JSON()),
    sa.column("attribution_hours", sa.Integer()),
    sa.column("created_at", sa.DateTime(timezone=True)),
    sa.column("updated_at", sa.DateTime(timezone=True)),
    sa.column("workflow_id", sa.String()),
)


@pytest.fixture(params=["sqlite", "postgresql"])
def empty_database(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'herald.db'}"
        return
    url, drop = create_pg_database()
    yield url
    drop()


def test_sends_started_before_the_id_scheme_keep_their_run_id(empty_database: str) -> None:
    upgrade(empty_database, "0020")
    db = Database(empty_database)
    with db.system_session() as session:
        org, _ = create_organization(session, "Old Shop")
    now = datetime.now(UTC)
    ids = {status: uuid.uuid4() for status in ("draft", "running", "completed")}
    with db.engine.begin() as connection:
        for status, campaign_id in ids.items():
            connection.execute(
                _campaigns.insert().values(
                    id=campaign_id,
                    organization_id=org.id,
                    key=status,
                    name=status,
                    channel="email",
                    status=status,
                    audience={"segment": "readers"},
                    variants=[],
                    attribution_hours=120,
                    created_at=now,
                    updated_at=now,
                )
            )
    upgrade(empty_database, "0021")
    with db.engine.connect() as connection:
        kept = dict(connection.execute(sa.select(_campaigns.c.id, _campaigns.c.workflow_id)).all())
    db.dispose()
    assert kept == {
        ids["draft"]: None,
        ids["running"]: f"campaign-{ids['running']}",
        ids["completed"]: f"campaign-{ids['completed']}",
    }
