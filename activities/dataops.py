from __future__ import annotations

from collections.abc import Callable
from typing import Any

from temporalio import activity

from herald.database import Database
from herald.dataops import imports
from herald.dataops.contracts import ImportBatchDone, ImportEnd, ImportRunInput


class DataActivities:
    def __init__(self, db: Database) -> None:
        self._db = db

    def all_activities(self) -> list[Callable[..., Any]]:
        return [self.import_batch, self.end_import]

    @activity.defn
    def import_batch(self, run: ImportRunInput) -> ImportBatchDone:
        with self._db.session(run.organization_id) as session:
            return imports.import_batch(session, run)

    @activity.defn
    def end_import(self, end: ImportEnd) -> None:
        with self._db.session(end.organization_id) as session:
            imports.end(session, end)
