from __future__ import annotations

import uuid

from fastapi import APIRouter, Depends

from api.deps import get_runtime, require
from herald.access import actions
from herald.access.permissions import Permission
from herald.access.schemas import ApiKeyCreate, ApiKeyIssued, ApiKeyOut
from herald.access.service import Principal
from herald.runtime import Runtime

router = APIRouter(prefix="/v1/api-keys", tags=["api keys"])
manage = require(Permission.api_keys_manage)


@router.post("", status_code=201, response_model=ApiKeyIssued)
async def create_key(
    body: ApiKeyCreate,
    principal: Principal = Depends(manage),
    runtime: Runtime = Depends(get_runtime),
) -> ApiKeyIssued:
    return await actions.issue_key(runtime, principal.organization_id, body)


@router.get("", response_model=list[ApiKeyOut])
async def list_keys(
    principal: Principal = Depends(manage), runtime: Runtime = Depends(get_runtime)
) -> list[ApiKeyOut]:
    return await actions.list_keys(runtime, principal.organization_id)


@router.delete("/{key_id}", status_code=204)
async def revoke_key(
    key_id: uuid.UUID,
    principal: Principal = Depends(manage),
    runtime: Runtime = Depends(get_runtime),
) -> None:
    await actions.revoke_key(runtime, principal.organization_id, key_id)
