"""Data operations for adapters: uploads, dry runs and imports, cancelling them."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

from temporalio.service import RPCError, RPCStatusCode

from herald.dataops import bulk, exports, imports
from herald.dataops.contracts import CANCEL_SIGNAL, BulkRunInput, ExportRunInput, ImportEnd
from herald.dataops.models import ImportKind
from herald.dataops.schemas import BulkIn, BulkOut, ExportIn, ExportOut, ImportOut
from herald.errors import Conflict
from herald.runtime import Runtime


async def upload_import(
    runtime: Runtime,
    organization_id: uuid.UUID,
    kind: ImportKind,
    filename: str,
    raw: bytes,
    actor: str,
) -> ImportOut:
    return await runtime.in_org(
        organization_id, lambda s: imports.upload(s, kind, filename, raw, actor=actor)
    )


async def start_import(
    runtime: Runtime, organization_id: uuid.UUID, import_id: uuid.UUID, *, dry_run: bool, actor: str
) -> ImportOut:
    """Begin the dry run or the import and start its run; a run that cannot start leaves the
    import failed, with the reason, to be started again."""
    start = await runtime.in_org(
        organization_id,
        lambda s: imports.begin(s, import_id, dry_run=dry_run, actor=actor),
    )
    try:
        await runtime.start_run(start)
    except Exception as exc:
        ended = ImportEnd(
            organization_id=organization_id,
            import_id=import_id,
            dry_run=dry_run,
            error=f"the run could not start: {type(exc).__name__}",
        )
        await runtime.in_org(organization_id, lambda s: imports.end(s, ended))
        raise
    return await runtime.in_org(organization_id, lambda s: imports.get_import(s, import_id))


async def cancel_import(
    runtime: Runtime, organization_id: uuid.UUID, import_id: uuid.UUID
) -> ImportOut:
    """Ask the run under way to stop after its current batch."""
    workflow_id = await runtime.in_org(organization_id, lambda s: imports.running_run(s, import_id))
    await _signal_cancel(runtime, workflow_id)
    return await runtime.in_org(organization_id, lambda s: imports.get_import(s, import_id))


async def _signal_cancel(runtime: Runtime, workflow_id: str) -> None:
    client = await runtime.client()
    try:
        await client.get_workflow_handle(workflow_id).signal(CANCEL_SIGNAL)
    except RPCError as exc:
        if exc.status is RPCStatusCode.NOT_FOUND:
            raise Conflict("the run has ended") from exc
        raise


async def import_errors(
    runtime: Runtime, organization_id: uuid.UUID, import_id: uuid.UUID
) -> Iterator[str]:
    """The failed rows as CSV lines, read in a session of their own (iterate them on a worker
    thread); an unknown import is a 404 before anything is streamed."""
    await runtime.in_org(organization_id, lambda s: imports.get_import(s, import_id))
    return runtime.iterate_in_org(organization_id, lambda s: imports.error_report(s, import_id))


async def start_export(
    runtime: Runtime, organization_id: uuid.UUID, data: ExportIn, actor: str
) -> ExportOut:
    keep = runtime.settings.export_lifetime_h * 3600
    start = await runtime.in_org(
        organization_id, lambda s: exports.create(s, data, actor=actor, keep_seconds=keep)
    )
    await runtime.start_run(start)
    assert isinstance(start.arg, ExportRunInput)
    return await get_export(runtime, organization_id, start.arg.export_id)


async def get_export(
    runtime: Runtime, organization_id: uuid.UUID, export_id: uuid.UUID
) -> ExportOut:
    return await runtime.in_org(
        organization_id, lambda s: exports.get_export(s, export_id, runtime.links)
    )


async def cancel_export(
    runtime: Runtime, organization_id: uuid.UUID, export_id: uuid.UUID
) -> ExportOut:
    workflow_id = await runtime.in_org(organization_id, lambda s: exports.running_run(s, export_id))
    await _signal_cancel(runtime, workflow_id)
    return await get_export(runtime, organization_id, export_id)


async def export_file(runtime: Runtime, export_id: uuid.UUID, token: str) -> Iterator[str]:
    """The file a download link opens, read in a session of its own (iterate it on a worker
    thread); a link that opens nothing is a 404 before anything is streamed."""
    organization_id = await runtime.in_system(
        lambda s: exports.download_organization(s, export_id, token, runtime.links)
    )
    return runtime.iterate_in_org(organization_id, lambda s: exports.file_chunks(s, export_id))


async def start_bulk(
    runtime: Runtime, organization_id: uuid.UUID, data: BulkIn, actor: str
) -> BulkOut:
    start = await runtime.in_org(organization_id, lambda s: bulk.create(s, data, actor=actor))
    await runtime.start_run(start)
    assert isinstance(start.arg, BulkRunInput)
    bulk_id = start.arg.bulk_id
    return await runtime.in_org(organization_id, lambda s: bulk.get_bulk(s, bulk_id))


async def get_bulk(runtime: Runtime, organization_id: uuid.UUID, bulk_id: uuid.UUID) -> BulkOut:
    return await runtime.in_org(organization_id, lambda s: bulk.get_bulk(s, bulk_id))


async def cancel_bulk(runtime: Runtime, organization_id: uuid.UUID, bulk_id: uuid.UUID) -> BulkOut:
    workflow_id = await runtime.in_org(organization_id, lambda s: bulk.running_run(s, bulk_id))
    await _signal_cancel(runtime, workflow_id)
    return await runtime.in_org(organization_id, lambda s: bulk.get_bulk(s, bulk_id))


async def bulk_report(
    runtime: Runtime, organization_id: uuid.UUID, bulk_id: uuid.UUID
) -> Iterator[str]:
    """Each customer's outcome as CSV lines, read in a session of their own (iterate them on a
    worker thread); an unknown action is a 404 before anything is streamed."""
    await runtime.in_org(organization_id, lambda s: bulk.get_bulk(s, bulk_id))
    return runtime.iterate_in_org(organization_id, lambda s: bulk.report(s, bulk_id))
