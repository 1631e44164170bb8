"""The organization's own settings for adapters (the API and the console)."""

from __future__ import annotations

import uuid

from herald.organizations.schemas import OrganizationOut, OrganizationUpdate
from herald.organizations.service import get_organization, update_organization
from herald.runtime import Runtime


async def organization(runtime: Runtime, organization_id: uuid.UUID) -> OrganizationOut:
    return await runtime.in_org(organization_id, get_organization)


async def update(
    runtime: Runtime, organization_id: uuid.UUID, change: OrganizationUpdate
) -> OrganizationOut:
    return await runtime.in_org(organization_id, lambda s: update_organization(s, change))
