"""Keyset pages for lists that grow, with opaque cursors: the sort value and id of the last row a
page showed."""

from __future__ import annotations

import base64
import binascii
import json
import uuid
from collections.abc import Callable
from datetime import datetime
from typing import Any, Generic, TypeVar

from pydantic import BaseModel
from sqlalchemy import DateTime, Select, tuple_
from sqlalchemy.orm import InstrumentedAttribute, Session

from herald.db import UTCDateTime
from herald.errors import InvalidInput

ItemT = TypeVar("ItemT")


def encode_cursor(value: Any, row_id: uuid.UUID) -> str:
    raw = json.dumps([value.isoformat() if isinstance(value, datetime) else value, str(row_id)])
    return base64.urlsafe_b64encode(raw.encode()).decode()


def decode_cursor(cursor: str, *, timestamp: bool = True) -> tuple[Any, uuid.UUID]:
    """The (sort value, id) a cursor carries; a timestamp unless the sort is on text."""
    try:
        value, raw_id = json.loads(base64.urlsafe_b64decode(cursor.encode()))
        return (datetime.fromisoformat(value) if timestamp else value), uuid.UUID(raw_id)
    except (ValueError, TypeError, binascii.Error) as exc:
        raise InvalidInput("invalid cursor", field="cursor") from exc


class Page(BaseModel, Generic[ItemT]):
    """One page of a list that grows: pass ``next_cursor`` back as ``cursor`` for the next."""

    items: list[ItemT]
    next_cursor: str | None = None


def keyset_page(
    session: Session,
    stmt: Select[Any],
    column: InstrumentedAttribute[Any],
    id_column: InstrumentedAttribute[uuid.UUID],
    *,
    limit: int,
    cursor: str | None,
    descending: bool = True,
) -> tuple[list[Any], str | None]:
    """Up to ``limit`` rows of ``stmt`` after ``cursor`` in (column, id) order, and the cursor
    of the page after them (None on the last page). Rows inserted meanwhile are neither skipped
    nor repeated, unlike with an offset."""
    if cursor:
        timestamp = isinstance(column.type, DateTime | UTCDateTime)
        value, after = decode_cursor(cursor, timestamp=timestamp)
        key = tuple_(column, id_column)
        stmt = stmt.where(key < (value, after) if descending else key > (value, after))
    order = (column.desc(), id_column.desc()) if descending else (column.asc(), id_column.asc())
    rows = list(session.scalars(stmt.order_by(*order).limit(limit + 1)))
    more = len(rows) > limit
    rows = rows[:limit]
    last = rows[-1] if rows else None
    next_cursor = encode_cursor(getattr(last, column.key), last.id) if more and last else None
    return rows, next_cursor


def page_of(
    session: Session,
    stmt: Select[Any],
    column: InstrumentedAttribute[Any],
    id_column: InstrumentedAttribute[uuid.UUID],
    convert: Callable[[Any], ItemT],
    *,
    limit: int,
    cursor: str | None,
    descending: bool = True,
) -> Page[ItemT]:
    """``keyset_page``'s rows, each shaped by ``convert``, as the page an API answers."""
    rows, next_cursor = keyset_page(
        session, stmt, column, id_column, limit=limit, cursor=cursor, descending=descending
    )
    return Page(items=[convert(row) for row in rows], next_cursor=next_cursor)
