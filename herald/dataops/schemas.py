from __future__ import annotations

import uuid
from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field

from herald.dataops.models import ImportKind, ImportStatus


class MappingIn(BaseModel):
    """Which field each column fills: ``{"E-mail": "email", "Points": null}``. Columns left
    out or mapped to null are ignored. Fields: ``GET /v1/imports/fields``."""

    model_config = ConfigDict(extra="forbid")

    columns: dict[str, str | None] = Field(max_length=200)
    react: bool | None = Field(
        default=None,
        description="orders: award points and start journeys as live orders do (by default "
        "imported orders are history); customers: their customer.created events start journeys",
    )


class RowCounts(BaseModel):
    processed: int = 0
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    failed: int = 0


class RowError(BaseModel):
    line: int
    error: str


class ImportOut(BaseModel):
    id: uuid.UUID
    kind: ImportKind
    filename: str
    status: ImportStatus
    headers: list[str]
    mapping: dict[str, str]
    unmapped: list[str] = Field(description="columns no field takes: ignored")
    react: bool
    total_rows: int
    check: RowCounts | None = Field(description="the latest dry run: what the import would do")
    result: RowCounts | None = Field(description="what the import did so far")
    errors: list[RowError] = Field(description="the first failed rows; all in /errors as CSV")
    run_id: str | None = Field(description="the workflow id of the latest run")
    created_by: str
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    error: str | None = Field(description="why the run failed")


class ImportFields(BaseModel):
    kind: ImportKind
    fields: dict[str, str] = Field(description="each field and what it takes")
    patterns: dict[str, str] = Field(description="fields named by a pattern")
