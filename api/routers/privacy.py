from __future__ import annotations

import uuid

from fastapi import APIRouter, Depends
from fastapi.responses import Response

from api.deps import get_runtime, require
from herald.access.permissions import Permission
from herald.access.service import Principal
from herald.privacy import actions
from herald.privacy.actions import ErasureOut
from herald.runtime import Runtime

router = APIRouter(prefix="/v1/customers", tags=["customers"])


@router.get(
    "/{customer_id}/export",
    response_class=Response,
    responses={200: {"content": {"application/zip": {}}}},
    summary="Everything Herald holds about the person, as a zip of JSON files",
)
async def export_person(
    customer_id: uuid.UUID,
    principal: Principal = Depends(require(Permission.personal_data_export)),
    runtime: Runtime = Depends(get_runtime),
) -> Response:
    archive = await actions.export(runtime, principal.organization_id, customer_id)
    return Response(
        archive,
        media_type="application/zip",
        headers={"Content-Disposition": f'attachment; filename="customer-{customer_id}.zip"'},
    )


@router.post(
    "/{customer_id}/erase",
    response_model=ErasureOut,
    summary="Erase the person's data everywhere, irreversibly (owner only)",
)
async def erase_person(
    customer_id: uuid.UUID,
    principal: Principal = Depends(require(Permission.personal_data_erase)),
    runtime: Runtime = Depends(get_runtime),
) -> ErasureOut:
    return await actions.erase(runtime, principal.organization_id, customer_id, principal.actor)
