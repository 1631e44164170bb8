"""A person's traces in uploaded files and written exports, removed at their erasure."""

from __future__ import annotations

import uuid
from collections.abc import Collection

from sqlalchemy import String, cast, delete, func, or_, select, update
from sqlalchemy.orm import Session

from herald.dataops.models import DataExport, ExportChunk, ExportStatus, ImportRow


def forget_person(session: Session, customer_id: uuid.UUID, identifiers: Collection[str]) -> None:
    """In the caller's transaction: delete every uploaded row that names one of the person's
    identifiers (emails, phone numbers in E.164, external id), and withdraw every export file
    that holds their row, written or being written (it expires at once; a run still writing
    it stops at its next chunk)."""
    needles = [i.lower() for i in identifiers if i]
    if needles:
        text = func.lower(cast(ImportRow.cells, String))
        session.execute(
            delete(ImportRow)
            .where(or_(*(text.contains(f'"{n}"', autoescape=True) for n in needles)))
            .execution_options(synchronize_session=False)
        )
    holding = session.scalars(
        select(ExportChunk.export_id)
        .join(DataExport, DataExport.id == ExportChunk.export_id)
        .where(
            DataExport.status.in_((ExportStatus.ready, ExportStatus.running)),
            ExportChunk.text.contains(str(customer_id), autoescape=True),
        )
        .distinct()
    ).all()
    if holding:
        session.execute(
            delete(ExportChunk)
            .where(ExportChunk.export_id.in_(holding))
            .execution_options(synchronize_session=False)
        )
        session.execute(
            update(DataExport)
            .where(DataExport.id.in_(holding))
            .values(status=ExportStatus.expired, error="withdrawn: it held a person since erased")
            .execution_options(synchronize_session=False)
        )
