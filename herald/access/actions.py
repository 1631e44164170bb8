"""API keys for adapters (the API's routes and the console's settings)."""

from __future__ import annotations

import uuid

from sqlalchemy.orm import Session

from herald.access.schemas import ApiKeyCreate, ApiKeyIssued, ApiKeyOut
from herald.access.service import issue_api_key, list_api_keys, revoke_api_key
from herald.runtime import Runtime


def _out(key: object) -> ApiKeyOut:
    return ApiKeyOut.model_validate(key, from_attributes=True)


async def issue_key(
    runtime: Runtime, organization_id: uuid.UUID, data: ApiKeyCreate
) -> ApiKeyIssued:
    def work(session: Session) -> ApiKeyIssued:
        issued = issue_api_key(session, organization_id, data.role, data.name)
        session.commit()
        return ApiKeyIssued(**_out(issued.key).model_dump(), key=issued.secret)

    return await runtime.in_org(organization_id, work)


async def list_keys(runtime: Runtime, organization_id: uuid.UUID) -> list[ApiKeyOut]:
    return await runtime.in_org(organization_id, lambda s: [_out(k) for k in list_api_keys(s)])


async def revoke_key(runtime: Runtime, organization_id: uuid.UUID, key_id: uuid.UUID) -> None:
    await runtime.in_org(organization_id, lambda s: revoke_api_key(s, key_id))
