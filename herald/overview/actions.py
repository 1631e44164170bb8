"""The overview for adapters (the console's home page)."""

from __future__ import annotations

import uuid

from herald.overview.service import Overview, Section, overview
from herald.runtime import Runtime


async def shop_overview(
    runtime: Runtime, organization_id: uuid.UUID, sections: set[Section]
) -> Overview:
    return await runtime.in_org(organization_id, lambda s: overview(s, sections))
