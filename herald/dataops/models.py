"""Data operations: uploaded files imported as runs, exports written as files, bulk actions.

Each is a row here that its Temporal run moves forward batch by batch; every batch writes its
effects and its rows' outcomes in one transaction, so a retried batch finds its rows settled
and changes nothing twice.
"""

from __future__ import annotations

import enum
import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import Enum, ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from herald.db import Base, JSONType, TenantScoped, utcnow


class ImportKind(enum.StrEnum):
    customers = "customers"
    orders = "orders"


class ImportStatus(enum.StrEnum):
    uploaded = "uploaded"
    checking = "checking"  # a dry run is under way
    checked = "checked"
    importing = "importing"
    imported = "imported"
    cancelled = "cancelled"
    failed = "failed"


class RowOutcome(enum.StrEnum):
    created = "created"
    updated = "updated"
    unchanged = "unchanged"
    failed = "failed"


class DataImport(TenantScoped, Base):
    """An uploaded CSV file: its rows wait in ``import_rows``; a dry run and the import itself
    are runs over them. ``checked`` and ``imported`` count row outcomes (``RowOutcome``)."""

    __tablename__ = "imports"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    kind: Mapped[ImportKind] = mapped_column(Enum(ImportKind, native_enum=False, length=20))
    filename: Mapped[str] = mapped_column(String(200))
    headers: Mapped[list[str]] = mapped_column(JSONType)
    # header → field; headers left out are ignored.
    mapping: Mapped[dict[str, Any]] = mapped_column(default=dict)
    # Orders: award points and start journeys as live orders do (else they are history).
    # Customers: their ``customer.created`` events start journeys.
    react: Mapped[bool] = mapped_column(default=False)
    status: Mapped[ImportStatus] = mapped_column(Enum(ImportStatus, native_enum=False, length=20))
    total_rows: Mapped[int] = mapped_column(default=0)
    checked: Mapped[dict[str, Any]] = mapped_column(default=dict)
    imported: Mapped[dict[str, Any]] = mapped_column(default=dict)
    # Dry runs made so far: each has its own run id.
    checks: Mapped[int] = mapped_column(default=0)
    created_by: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    started_at: Mapped[datetime | None]
    finished_at: Mapped[datetime | None]
    # Why the run failed (an operator reads the rest in its history).
    error: Mapped[str | None] = mapped_column(Text)


class ImportRow(TenantScoped, Base):
    """One data line of an uploaded file (``line``: its line in the file, the header is 1),
    with what the dry run and the import made of it."""

    __tablename__ = "import_rows"
    __table_args__ = (Index("ix_import_rows_line", "import_id", "line", unique=True),)

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    import_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("imports.id", ondelete="CASCADE"))
    line: Mapped[int]
    cells: Mapped[list[str]] = mapped_column(JSONType)
    check_outcome: Mapped[RowOutcome | None] = mapped_column(
        Enum(RowOutcome, native_enum=False, length=10)
    )
    outcome: Mapped[RowOutcome | None] = mapped_column(
        Enum(RowOutcome, native_enum=False, length=10)
    )
    error: Mapped[str | None] = mapped_column(Text)


class ExportKind(enum.StrEnum):
    customers = "customers"
    subscribers = "subscribers"


class ExportStatus(enum.StrEnum):
    running = "running"
    ready = "ready"
    cancelled = "cancelled"
    failed = "failed"
    # The file was deleted at the end of its lifetime.
    expired = "expired"


class DataExport(TenantScoped, Base):
    """A list written as a CSV file, a chunk of rows at a time (``export_chunks``), downloaded
    through an expiring link, deleted when it expires."""

    __tablename__ = "exports"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    kind: Mapped[ExportKind] = mapped_column(Enum(ExportKind, native_enum=False, length=20))
    # What was asked for (``ExportIn`` without the kind): a filter, a segment, ids.
    selection: Mapped[dict[str, Any]] = mapped_column(default=dict)
    status: Mapped[ExportStatus] = mapped_column(Enum(ExportStatus, native_enum=False, length=20))
    rows: Mapped[int] = mapped_column(default=0)
    created_by: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    finished_at: Mapped[datetime | None]
    expires_at: Mapped[datetime | None]
    error: Mapped[str | None] = mapped_column(Text)


class ExportChunk(TenantScoped, Base):
    """Consecutive rows of an export's file; ``after``: the key the next chunk starts after."""

    __tablename__ = "export_chunks"

    export_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("exports.id", ondelete="CASCADE"), primary_key=True
    )
    seq: Mapped[int] = mapped_column(primary_key=True)
    rows: Mapped[int]
    after: Mapped[str | None] = mapped_column(String(100))
    text: Mapped[str] = mapped_column(Text)


class BulkActionKind(enum.StrEnum):
    tag = "tag"
    untag = "untag"
    set_consent = "set_consent"
    delete = "delete"
    restore = "restore"
    enroll = "enroll"
    add_to_group = "add_to_group"
    remove_from_group = "remove_from_group"


class BulkStatus(enum.StrEnum):
    running = "running"
    done = "done"
    cancelled = "cancelled"
    failed = "failed"


class BulkAction(TenantScoped, Base):
    """One action on many customers: who they are is fixed when the run begins
    (``bulk_targets``); ``counts`` adds up the targets' outcomes (``RowOutcome``)."""

    __tablename__ = "bulk_actions"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    action: Mapped[BulkActionKind] = mapped_column(
        Enum(BulkActionKind, native_enum=False, length=20)
    )
    # The tag, the consent, the journey's or the group's key.
    params: Mapped[dict[str, Any]] = mapped_column(default=dict)
    selection: Mapped[dict[str, Any]] = mapped_column(default=dict)
    status: Mapped[BulkStatus] = mapped_column(Enum(BulkStatus, native_enum=False, length=20))
    total: Mapped[int | None]
    counts: Mapped[dict[str, Any]] = mapped_column(default=dict)
    created_by: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    finished_at: Mapped[datetime | None]
    error: Mapped[str | None] = mapped_column(Text)


class BulkTarget(TenantScoped, Base):
    __tablename__ = "bulk_targets"

    bulk_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("bulk_actions.id", ondelete="CASCADE"), primary_key=True
    )
    position: Mapped[int] = mapped_column(primary_key=True)
    customer_id: Mapped[uuid.UUID]
    outcome: Mapped[RowOutcome | None] = mapped_column(
        Enum(RowOutcome, native_enum=False, length=10)
    )
    error: Mapped[str | None] = mapped_column(String(300))
