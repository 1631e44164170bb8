"""Public addresses name an organization by its slug (``/v1/public/{slug}/...``)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import TypeVar

from sqlalchemy.orm import Session

from herald.errors import NotFound
from herald.organizations.models import Organization
from herald.organizations.service import organization_by_slug
from herald.runtime import Runtime

T = TypeVar("T")


async def in_public_org(
    runtime: Runtime, slug: str, work: Callable[[Session, Organization], T]
) -> T:
    """``work`` for the organization a public address names, in a session scoped to it, on a
    worker thread; an unknown slug is a 404."""

    def run() -> T:
        with runtime.db.system_session() as session:
            org = organization_by_slug(session, slug)
        if org is None:
            raise NotFound("no such organization")
        with runtime.db.session(org.id) as session:
            return work(session, org)

    return await asyncio.to_thread(run)
