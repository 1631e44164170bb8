from __future__ import annotations

from collections.abc import Callable
from typing import Any

from temporalio import activity

from herald.database import Database
from herald.dataops import bulk, exports, imports
from herald.dataops.contracts import (
    BulkBatchDone,
    BulkEnd,
    BulkRunInput,
    ExportChunkDone,
    ExportEnd,
    ExportRunInput,
    ImportBatchDone,
    ImportEnd,
    ImportRunInput,
)


class DataActivities:
    def __init__(self, db: Database) -> None:
        self._db = db

    def all_activities(self) -> list[Callable[..., Any]]:
        return [
            self.import_batch,
            self.end_import,
            self.write_export_chunk,
            self.end_export,
            self.expire_export,
            self.snapshot_bulk,
            self.bulk_batch,
            self.end_bulk,
        ]

    @activity.defn
    def import_batch(self, run: ImportRunInput) -> ImportBatchDone:
        with self._db.session(run.organization_id) as session:
            return imports.import_batch(session, run)

    @activity.defn
    def end_import(self, end: ImportEnd) -> None:
        with self._db.session(end.organization_id) as session:
            imports.end(session, end)

    @activity.defn
    def write_export_chunk(self, run: ExportRunInput) -> ExportChunkDone:
        with self._db.session(run.organization_id) as session:
            return exports.write_chunk(session, run)

    @activity.defn
    def end_export(self, end: ExportEnd) -> None:
        with self._db.session(end.organization_id) as session:
            exports.end(session, end)

    @activity.defn
    def expire_export(self, end: ExportEnd) -> None:
        with self._db.session(end.organization_id) as session:
            exports.expire(session, end.export_id)

    @activity.defn
    def snapshot_bulk(self, run: BulkRunInput) -> int:
        with self._db.session(run.organization_id) as session:
            return bulk.snapshot(session, run)

    @activity.defn
    def bulk_batch(self, run: BulkRunInput) -> BulkBatchDone:
        with self._db.session(run.organization_id) as session:
            return bulk.bulk_batch(session, run)

    @activity.defn
    def end_bulk(self, end: BulkEnd) -> None:
        with self._db.session(end.organization_id) as session:
            bulk.end(session, end)
