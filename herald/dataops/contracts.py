"""The data operations' Temporal names and the payloads their runs exchange: ids only."""

from __future__ import annotations

import uuid

from pydantic import BaseModel

IMPORT_WORKFLOW = "ImportRun"
# Stop after the batch under way; the rows done stay done, the rest wait for a restart.
CANCEL_SIGNAL = "cancel"
# Rows one activity imports in one transaction.
IMPORT_BATCH = 500


class ImportRunInput(BaseModel):
    organization_id: uuid.UUID
    import_id: uuid.UUID
    dry_run: bool
    actor: str = "import"
    # Where a continued run goes on from: the last line done.
    after_line: int = 0


class ImportBatchDone(BaseModel):
    rows: int
    last_line: int | None  # None: no rows were left


class ImportEnd(BaseModel):
    organization_id: uuid.UUID
    import_id: uuid.UUID
    dry_run: bool
    cancelled: bool = False
    error: str | None = None


EXPORT_WORKFLOW = "ExportRun"
# Rows one activity writes as one chunk of the file.
EXPORT_CHUNK_ROWS = 10_000


class ExportRunInput(BaseModel):
    organization_id: uuid.UUID
    export_id: uuid.UUID
    # How long the file is kept once written: the run waits this out, then deletes it.
    keep_seconds: float
    # The next chunk to write, and the key it starts after (continue-as-new carries them).
    seq: int = 0
    after: str | None = None


class ExportChunkDone(BaseModel):
    rows: int
    after: str | None  # None: that was the last chunk


class ExportEnd(BaseModel):
    organization_id: uuid.UUID
    export_id: uuid.UUID
    keep_seconds: float = 0
    cancelled: bool = False
    error: str | None = None


BULK_WORKFLOW = "BulkActionRun"
# Customers one activity acts on in one transaction.
BULK_BATCH = 500


class BulkRunInput(BaseModel):
    organization_id: uuid.UUID
    bulk_id: uuid.UUID
    actor: str
    # The last position done (continue-as-new carries it).
    after: int = -1


class BulkBatchDone(BaseModel):
    last: int | None  # None: no targets were left


class BulkEnd(BaseModel):
    organization_id: uuid.UUID
    bulk_id: uuid.UUID
    cancelled: bool = False
    error: str | None = None
