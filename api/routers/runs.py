from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query
from temporalio.client import Client

from api.deps import get_temporal, require
from herald.access.permissions import Permission
from herald.access.service import Principal
from herald.runs import service
from herald.runs.schemas import RunDetail, RunPage, RunQuery

router = APIRouter(prefix="/v1/runs", tags=["runs"])


@router.get("", response_model=RunPage)
async def list_runs(
    query: Annotated[RunQuery, Query()],
    principal: Principal = Depends(require(Permission.runs_read)),
    client: Client = Depends(get_temporal),
) -> RunPage:
    return await service.list_runs(client, principal.organization_id, query)


@router.get("/{workflow_id:path}", response_model=RunDetail)
async def get_run(
    workflow_id: str,
    principal: Principal = Depends(require(Permission.runs_read)),
    client: Client = Depends(get_temporal),
) -> RunDetail:
    return await service.get_run(client, principal.organization_id, workflow_id)
