"""ImportRun: a dry run or an import of an uploaded file, a batch of rows per activity.
ExportRun: a list written as a file, a chunk per activity, deleted when it expires.
BulkActionRun: one change made to many customers, a batch per activity."""

from __future__ import annotations

from datetime import timedelta

from temporalio import workflow
from temporalio.exceptions import ActivityError, ApplicationError, FailureError

from workflows.policies import DB_RETRY, DB_TIMEOUT, SWEEP_TIMEOUT

with workflow.unsafe.imports_passed_through():
    from activities.dataops import DataActivities
    from herald.dataops.contracts import (
        BULK_WORKFLOW,
        CANCEL_SIGNAL,
        EXPORT_WORKFLOW,
        IMPORT_WORKFLOW,
        BulkEnd,
        BulkRunInput,
        ExportEnd,
        ExportRunInput,
        ImportEnd,
        ImportRunInput,
    )


@workflow.defn(name=IMPORT_WORKFLOW)
class ImportRun:
    """Each batch is one activity and one transaction that settles its rows; ``cancel`` stops
    after the batch under way. The import's status records how the run ended."""

    def __init__(self) -> None:
        self._cancelled = False

    @workflow.signal(name=CANCEL_SIGNAL)
    def cancel(self) -> None:
        self._cancelled = True

    @workflow.run
    async def run(self, run: ImportRunInput) -> int:
        done = 0
        end = ImportEnd(
            organization_id=run.organization_id, import_id=run.import_id, dry_run=run.dry_run
        )
        try:
            while not self._cancelled:
                batch = await workflow.execute_activity_method(
                    DataActivities.import_batch,
                    run,
                    start_to_close_timeout=DB_TIMEOUT,
                    retry_policy=DB_RETRY,
                )
                if batch.last_line is None:
                    break
                done += batch.rows
                run = run.model_copy(update={"after_line": batch.last_line})
                if workflow.info().is_continue_as_new_suggested():
                    workflow.continue_as_new(run)
            end.cancelled = self._cancelled
        except ActivityError as failure:
            cause = failure.cause
            end.error = cause.message if isinstance(cause, FailureError) else failure.message
        await workflow.execute_activity_method(
            DataActivities.end_import, end, start_to_close_timeout=DB_TIMEOUT, retry_policy=DB_RETRY
        )
        if end.error is not None:
            raise ApplicationError(
                f"the import failed: {end.error}", type="ImportFailed", non_retryable=True
            )
        return done


@workflow.defn(name=EXPORT_WORKFLOW)
class ExportRun:
    """Writes the file a chunk per activity, keeps it for its lifetime, then deletes it;
    ``cancel`` stops the writing and deletes what was written."""

    def __init__(self) -> None:
        self._cancelled = False

    @workflow.signal(name=CANCEL_SIGNAL)
    def cancel(self) -> None:
        self._cancelled = True

    @workflow.run
    async def run(self, run: ExportRunInput) -> int:
        end = ExportEnd(
            organization_id=run.organization_id,
            export_id=run.export_id,
            keep_seconds=run.keep_seconds,
        )
        written = 0
        try:
            while not self._cancelled:
                chunk = await workflow.execute_activity_method(
                    DataActivities.write_export_chunk,
                    run,
                    start_to_close_timeout=DB_TIMEOUT,
                    retry_policy=DB_RETRY,
                )
                written += chunk.rows
                if chunk.after is None:
                    break
                run = run.model_copy(update={"seq": run.seq + 1, "after": chunk.after})
                if workflow.info().is_continue_as_new_suggested():
                    workflow.continue_as_new(run)
            end.cancelled = self._cancelled
        except ActivityError as failure:
            cause = failure.cause
            end.error = cause.message if isinstance(cause, FailureError) else failure.message
        await workflow.execute_activity_method(
            DataActivities.end_export, end, start_to_close_timeout=DB_TIMEOUT, retry_policy=DB_RETRY
        )
        if end.error is not None:
            raise ApplicationError(
                f"the export failed: {end.error}", type="ExportFailed", non_retryable=True
            )
        if not end.cancelled:
            await workflow.sleep(timedelta(seconds=run.keep_seconds))
            await workflow.execute_activity_method(
                DataActivities.expire_export,
                end,
                start_to_close_timeout=DB_TIMEOUT,
                retry_policy=DB_RETRY,
            )
        return written


@workflow.defn(name=BULK_WORKFLOW)
class BulkActionRun:
    """Fixes who the action is for, then acts a batch per activity; ``cancel`` stops after
    the batch under way (the customers done stay done)."""

    def __init__(self) -> None:
        self._cancelled = False

    @workflow.signal(name=CANCEL_SIGNAL)
    def cancel(self) -> None:
        self._cancelled = True

    @workflow.run
    async def run(self, run: BulkRunInput) -> None:
        end = BulkEnd(organization_id=run.organization_id, bulk_id=run.bulk_id)
        try:
            await workflow.execute_activity_method(
                DataActivities.snapshot_bulk,
                run,
                start_to_close_timeout=SWEEP_TIMEOUT,
                retry_policy=DB_RETRY,
            )
            while not self._cancelled:
                batch = await workflow.execute_activity_method(
                    DataActivities.bulk_batch,
                    run,
                    start_to_close_timeout=DB_TIMEOUT,
                    retry_policy=DB_RETRY,
                )
                if batch.last is None:
                    break
                run = run.model_copy(update={"after": batch.last})
                if workflow.info().is_continue_as_new_suggested():
                    workflow.continue_as_new(run)
            end.cancelled = self._cancelled
        except ActivityError as failure:
            cause = failure.cause
            end.error = cause.message if isinstance(cause, FailureError) else failure.message
        await workflow.execute_activity_method(
            DataActivities.end_bulk, end, start_to_close_timeout=DB_TIMEOUT, retry_policy=DB_RETRY
        )
        if end.error is not None:
            raise ApplicationError(
                f"the bulk action failed: {end.error}", type="BulkActionFailed", non_retryable=True
            )
