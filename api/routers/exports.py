"""Exports of the customer and subscriber lists as CSV files, downloaded by expiring links."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Depends, Query
from fastapi.responses import StreamingResponse

from api.deps import get_runtime, require
from herald.access.permissions import Permission
from herald.access.service import Principal
from herald.dataops import actions
from herald.dataops.schemas import ExportIn, ExportOut
from herald.runtime import Runtime

router = APIRouter(prefix="/v1/exports", tags=["exports"])
exporter = require(Permission.data_export)


@router.post(
    "",
    status_code=202,
    response_model=ExportOut,
    summary="Write the customer or subscriber list as a CSV file (poll for its download link)",
)
async def start_export(
    body: ExportIn,
    principal: Principal = Depends(exporter),
    runtime: Runtime = Depends(get_runtime),
) -> ExportOut:
    return await actions.start_export(runtime, principal.organization_id, body, principal.actor)


@router.get("/{export_id}", response_model=ExportOut, summary="An export, its link when ready")
async def get_export(
    export_id: uuid.UUID,
    principal: Principal = Depends(exporter),
    runtime: Runtime = Depends(get_runtime),
) -> ExportOut:
    return await actions.get_export(runtime, principal.organization_id, export_id)


@router.post(
    "/{export_id}/cancel", status_code=202, response_model=ExportOut, summary="Stop writing it"
)
async def cancel_export(
    export_id: uuid.UUID,
    principal: Principal = Depends(exporter),
    runtime: Runtime = Depends(get_runtime),
) -> ExportOut:
    return await actions.cancel_export(runtime, principal.organization_id, export_id)


@router.get(
    "/{export_id}/file",
    response_class=StreamingResponse,
    summary="The file, through the signed link the export gives (no key: open it in a browser)",
)
async def export_file(
    export_id: uuid.UUID,
    token: Annotated[str, Query(min_length=10, max_length=200)],
    runtime: Runtime = Depends(get_runtime),
) -> StreamingResponse:
    chunks = await actions.export_file(runtime, export_id, token)
    return StreamingResponse(
        chunks,
        media_type="text/csv; charset=utf-8",
        headers={
            "Content-Disposition": f'attachment; filename="export-{export_id}.csv"',
            "Cache-Control": "private, no-store",
        },
    )
