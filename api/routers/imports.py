"""CSV imports of customers and past orders: upload, map the columns, dry run, import."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import StreamingResponse
from sqlalchemy.orm import Session

from api.deps import PageCursor, PageLimit, get_runtime, org_session, require
from herald.access.permissions import Permission
from herald.access.service import Principal
from herald.dataops import actions, imports
from herald.dataops.models import ImportKind
from herald.dataops.schemas import ImportFields, ImportOut, MappingIn
from herald.pagination import Page
from herald.runtime import Runtime

router = APIRouter(prefix="/v1/imports", tags=["imports"])
importer = require(Permission.data_import)


@router.get("/fields", response_model=ImportFields, summary="The fields a column can fill")
def import_fields(
    kind: ImportKind = ImportKind.customers, _: Principal = Depends(importer)
) -> ImportFields:
    return imports.fields_of(kind)


@router.post(
    "",
    status_code=201,
    response_model=ImportOut,
    summary="Upload a CSV file (the request body, UTF-8); columns are mapped by their names",
    openapi_extra={
        "requestBody": {"required": True, "content": {"text/csv": {"schema": {"type": "string"}}}}
    },
)
async def upload(
    request: Request,
    kind: ImportKind,
    filename: Annotated[str, Query(min_length=1, max_length=200)] = "upload.csv",
    principal: Principal = Depends(importer),
    runtime: Runtime = Depends(get_runtime),
) -> ImportOut:
    raw = await request.body()
    return await actions.upload_import(
        runtime, principal.organization_id, kind, filename, raw, principal.actor
    )


@router.get("", response_model=Page[ImportOut], summary="Imports, the latest first")
def list_imports(
    limit: PageLimit = 50,
    cursor: PageCursor = None,
    _: Principal = Depends(importer),
    session: Session = Depends(org_session),
) -> Page[ImportOut]:
    return imports.list_imports(session, limit=limit, cursor=cursor)


@router.get("/{import_id}", response_model=ImportOut, summary="An import and its progress")
def get_import(
    import_id: uuid.UUID,
    _: Principal = Depends(importer),
    session: Session = Depends(org_session),
) -> ImportOut:
    return imports.get_import(session, import_id)


@router.delete(
    "/{import_id}",
    status_code=204,
    summary="Forget the file, its rows and error report (what it imported stays)",
)
def delete_import(
    import_id: uuid.UUID,
    _: Principal = Depends(importer),
    session: Session = Depends(org_session),
) -> None:
    imports.delete_import(session, import_id)


@router.put("/{import_id}/mapping", response_model=ImportOut, summary="Map columns to fields")
def set_mapping(
    import_id: uuid.UUID,
    body: MappingIn,
    _: Principal = Depends(importer),
    session: Session = Depends(org_session),
) -> ImportOut:
    return imports.set_mapping(session, import_id, body)


@router.post(
    "/{import_id}/dry-run",
    status_code=202,
    response_model=ImportOut,
    summary="Check every row without writing: what the import would create, update, refuse",
)
async def dry_run(
    import_id: uuid.UUID,
    principal: Principal = Depends(importer),
    runtime: Runtime = Depends(get_runtime),
) -> ImportOut:
    return await actions.start_import(
        runtime, principal.organization_id, import_id, dry_run=True, actor=principal.actor
    )


@router.post(
    "/{import_id}/start",
    status_code=202,
    response_model=ImportOut,
    summary="Import the rows (again after a cancel: the rows not yet done)",
)
async def start(
    import_id: uuid.UUID,
    principal: Principal = Depends(importer),
    runtime: Runtime = Depends(get_runtime),
) -> ImportOut:
    return await actions.start_import(
        runtime, principal.organization_id, import_id, dry_run=False, actor=principal.actor
    )


@router.post(
    "/{import_id}/cancel",
    status_code=202,
    response_model=ImportOut,
    summary="Stop the run under way after its current batch",
)
async def cancel(
    import_id: uuid.UUID,
    principal: Principal = Depends(importer),
    runtime: Runtime = Depends(get_runtime),
) -> ImportOut:
    return await actions.cancel_import(runtime, principal.organization_id, import_id)


@router.get(
    "/{import_id}/errors",
    response_class=StreamingResponse,
    summary="The failed rows as CSV: line, error, then the row as uploaded",
)
async def errors(
    import_id: uuid.UUID,
    principal: Principal = Depends(importer),
    runtime: Runtime = Depends(get_runtime),
) -> StreamingResponse:
    lines = await actions.import_errors(runtime, principal.organization_id, import_id)
    return StreamingResponse(
        lines,
        media_type="text/csv",
        headers={"Content-Disposition": f'attachment; filename="import-{import_id}-errors.csv"'},
    )
