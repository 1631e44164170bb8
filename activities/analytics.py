from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

from temporalio import activity

from herald.analytics.contracts import AnalyticsRollupInput
from herald.analytics.rollup import RollupOutcome, organizations_due, refresh
from herald.database import Database


class AnalyticsActivities:
    """Revenue analytics' rollups: which organizations have something new, and bringing one
    organization's rollups up to date."""

    def __init__(self, db: Database) -> None:
        self._db = db

    def all_activities(self) -> list[Callable[..., Any]]:
        return [self.list_organizations_due, self.refresh_rollups]

    @activity.defn
    def list_organizations_due(self) -> list[uuid.UUID]:
        with self._db.system_session() as session:
            return organizations_due(session)

    @activity.defn
    def refresh_rollups(self, request: AnalyticsRollupInput) -> RollupOutcome:
        with self._db.session(request.organization_id) as session:
            return refresh(session, full=request.full)
