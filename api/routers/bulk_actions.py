"""Bulk actions: one change made to the customers a filter, a segment or a list selects."""

from __future__ import annotations

import uuid

from fastapi import APIRouter, Depends
from fastapi.responses import StreamingResponse
from sqlalchemy.orm import Session

from api.deps import check_allowed, get_principal, get_runtime, org_session, require
from herald.access.permissions import Permission
from herald.access.service import Principal
from herald.dataops import actions, bulk
from herald.dataops.schemas import BulkIn, BulkOut
from herald.runtime import Runtime

router = APIRouter(prefix="/v1/bulk-actions", tags=["customers"])
reader = require(Permission.customers_read)


@router.post(
    "",
    status_code=202,
    response_model=BulkOut,
    summary="Tag, untag, set consent, delete, restore, enroll in a journey, join or leave a "
    "group: the permission of doing it to one customer",
)
async def start_bulk(
    body: BulkIn,
    principal: Principal = Depends(get_principal),
    runtime: Runtime = Depends(get_runtime),
) -> BulkOut:
    check_allowed(principal, bulk.PERMISSIONS[body.action])
    return await actions.start_bulk(runtime, principal.organization_id, body, principal.actor)


@router.get("/{bulk_id}", response_model=BulkOut, summary="A bulk action and its progress")
def get_bulk(
    bulk_id: uuid.UUID,
    _: Principal = Depends(reader),
    session: Session = Depends(org_session),
) -> BulkOut:
    return bulk.get_bulk(session, bulk_id)


@router.post(
    "/{bulk_id}/cancel",
    status_code=202,
    response_model=BulkOut,
    summary="Stop after the batch under way",
)
async def cancel_bulk(
    bulk_id: uuid.UUID,
    principal: Principal = Depends(get_principal),
    runtime: Runtime = Depends(get_runtime),
) -> BulkOut:
    found = await actions.get_bulk(runtime, principal.organization_id, bulk_id)
    check_allowed(principal, bulk.PERMISSIONS[found.action])
    return await actions.cancel_bulk(runtime, principal.organization_id, bulk_id)


@router.get(
    "/{bulk_id}/report",
    response_class=StreamingResponse,
    summary="Each customer's outcome as CSV: customer_id, outcome, error",
)
async def bulk_report(
    bulk_id: uuid.UUID,
    principal: Principal = Depends(reader),
    runtime: Runtime = Depends(get_runtime),
) -> StreamingResponse:
    lines = await actions.bulk_report(runtime, principal.organization_id, bulk_id)
    return StreamingResponse(
        lines,
        media_type="text/csv",
        headers={"Content-Disposition": f'attachment; filename="bulk-{bulk_id}.csv"'},
    )
