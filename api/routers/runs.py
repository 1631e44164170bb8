from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query
from temporalio.client import Client

from api.deps import require, temporal_client
from herald.access.permissions import Permission
from herald.access.service import Principal
from herald.assembly import visible_run_types
from herald.journeys.contracts import EXIT_UPDATE, SKIP_WAIT_UPDATE
from herald.runs import service
from herald.runs.schemas import ExitRequest, RunDetail, RunPage, RunQuery

router = APIRouter(prefix="/v1/runs", tags=["runs"])


@router.get("", response_model=RunPage)
async def list_runs(
    query: Annotated[RunQuery, Query()],
    principal: Principal = Depends(require(Permission.runs_read)),
    client: Client = Depends(temporal_client),
) -> RunPage:
    return await service.list_runs(
        client, principal.organization_id, query, visible_run_types(principal.role)
    )


@router.get("/{workflow_id:path}", response_model=RunDetail)
async def get_run(
    workflow_id: str,
    principal: Principal = Depends(require(Permission.runs_read)),
    client: Client = Depends(temporal_client),
) -> RunDetail:
    return await service.get_run(
        client, principal.organization_id, workflow_id, visible_run_types(principal.role)
    )


@router.post("/{workflow_id:path}/exit", summary="End a journey run now, with a reason")
async def exit_run(
    workflow_id: str,
    body: ExitRequest,
    principal: Principal = Depends(require(Permission.journeys_operate)),
    client: Client = Depends(temporal_client),
) -> dict[str, str]:
    reason = await service.update_run(
        client, principal.organization_id, workflow_id, EXIT_UPDATE, body.reason
    )
    return {"workflow_id": workflow_id, "exit_reason": reason}


@router.post("/{workflow_id:path}/skip-wait", summary="End a journey run's current wait now")
async def skip_wait(
    workflow_id: str,
    principal: Principal = Depends(require(Permission.journeys_operate)),
    client: Client = Depends(temporal_client),
) -> dict[str, str]:
    step = await service.update_run(
        client, principal.organization_id, workflow_id, SKIP_WAIT_UPDATE
    )
    return {"workflow_id": workflow_id, "step": step}
