"""Segment use cases for adapters that outlive a request's session: the CSV export streams."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

from sqlalchemy.orm import Session

from herald.db import read_snapshot
from herald.runtime import Runtime
from herald.segments import service
from herald.segments.rules import Rule


async def export_csv(
    runtime: Runtime, organization_id: uuid.UUID, segment: str
) -> tuple[str, Iterator[str]]:
    """The segment's key and its members as CSV lines. An unknown segment is a 404 before
    anything is streamed; the lines come from one consistent read in a session of their own
    (iterate them on a worker thread: each read blocks)."""

    def rule(session: Session) -> tuple[str, Rule]:
        found = service.get_segment(session, segment)
        return found.key, service.rule_of(found)

    key, found = await runtime.in_org(organization_id, rule)

    def rows(session: Session) -> Iterator[str]:
        read_snapshot(session)
        yield from service.export_csv(session, found)

    return key, runtime.iterate_in_org(organization_id, rows)
