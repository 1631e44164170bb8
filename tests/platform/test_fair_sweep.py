"""The sweeper takes organizations in turn: a backlog of one does not fill the batch."""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest
from sqlalchemy import insert
from sqlalchemy.orm import Session

from herald.database import Database
from herald.db import utcnow
from herald.events.dispatch import SWEEP_BATCH, due_events
from herald.events.models import Event
from tests.support import Org

pytestmark = pytest.mark.dialects


def _due(session: Session, org: Org, count: int, age: timedelta) -> list[uuid.UUID]:
    at = utcnow() - age
    rows = [
        {
            "id": uuid.uuid4(),
            "organization_id": org.id,
            "type": "page.viewed",
            "occurred_at": at,
            "received_at": at,
            "properties": {},
            "retry_at": at,
        }
        for _ in range(count)
    ]
    session.execute(insert(Event), rows)
    return [row["id"] for row in rows]


def test_one_organizations_backlog_leaves_room_for_anothers_event(
    db: Database, org: Org, other_org: Org
) -> None:
    # Never committed: the running stack's own sweeper (same database) must not dispatch
    # these events before the query looks at them.
    with db.system_session() as session:
        _due(session, org, SWEEP_BATCH + 100, age=timedelta(days=1))
        [waiting] = _due(session, other_org, 1, age=timedelta(minutes=1))
        picked = [event.id for event in session.scalars(due_events(utcnow()))]
        session.rollback()
    assert len(picked) == SWEEP_BATCH
    assert waiting in picked  # although 600 older events of the other organization wait
