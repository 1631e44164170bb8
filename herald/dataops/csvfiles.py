"""Reading an uploaded CSV file, and writing CSV a spreadsheet opens without running a formula."""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterator

from herald.errors import InvalidInput
from herald.segments.service import spreadsheet_safe

MAX_COLUMNS = 200
MAX_CELL = 10_000
_SEPARATORS = ",;\t"


def header_key(header: str) -> str:
    """A header compared loosely: "E-mail Address" and "email_address" are one."""
    return re.sub(r"[^a-z0-9:]+", "_", header.strip().lower()).strip("_")


def decoded(raw: bytes) -> str:
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise InvalidInput(
            f"the file is not UTF-8 text (byte {exc.start}); save it as CSV UTF-8"
        ) from exc


def read_rows(text: str) -> tuple[list[str], Iterator[tuple[int, list[str]]]]:
    """The header and each data row with its line in the file (blank rows skipped). The
    separator is the first of comma, semicolon and tab found in the header line."""
    first_line = text.split("\n", 1)[0]
    separator = next((s for s in _SEPARATORS if s in first_line), ",")
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=separator, strict=True)
    try:
        headers = [h.strip() for h in next(reader)]
    except StopIteration:
        raise InvalidInput("the file is empty") from None
    except csv.Error as exc:
        raise InvalidInput(f"line 1: {exc}") from exc
    if len(headers) > MAX_COLUMNS:
        raise InvalidInput(f"at most {MAX_COLUMNS} columns")
    if any(not h for h in headers):
        raise InvalidInput("every column needs a header")
    keys = [header_key(h) for h in headers]
    repeated = sorted({h for h, k in zip(headers, keys, strict=True) if keys.count(k) > 1})
    if repeated:
        raise InvalidInput(f"columns named more than once: {', '.join(repeated)}")

    def rows() -> Iterator[tuple[int, list[str]]]:
        line = reader.line_num
        while True:
            try:
                cells = next(reader)
            except StopIteration:
                return
            except csv.Error as exc:
                raise InvalidInput(f"line {reader.line_num}: {exc}") from exc
            if any(c.strip() for c in cells):
                yield line + 1, [c.strip()[:MAX_CELL] for c in cells]
            line = reader.line_num

    return headers, rows()


class CsvChunks:
    """Rows written as CSV text, taken a chunk at a time; every cell spreadsheet-safe."""

    def __init__(self) -> None:
        self._out = io.StringIO()
        self._writer = csv.writer(self._out)

    def write(self, cells: list[object]) -> None:
        self._writer.writerow(
            [spreadsheet_safe(c) if isinstance(c, str) else "" if c is None else c for c in cells]
        )

    def take(self) -> str:
        chunk = self._out.getvalue()
        self._out.seek(0)
        self._out.truncate()
        return chunk
