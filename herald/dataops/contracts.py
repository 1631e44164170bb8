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
