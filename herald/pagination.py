"""Opaque keyset cursors: the sort value and id of the last row a page showed."""

from __future__ import annotations

import base64
import binascii
import json
import uuid
from datetime import datetime
from typing import Any

from herald.errors import InvalidInput


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
