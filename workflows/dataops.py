"""ImportRun: a dry run or an import of an uploaded file, a batch of rows per activity.
ExportRun: a list written as a file, a chunk per activity, deleted when it expires.
BulkActionRun: one change made to many customers, a batch per activity."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import Any, TypeVar

from pydantic import BaseModel
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


async def _database(activity: Callable[..., Any], arg: BaseModel) -> Any:
    return await workflow.execute_activity_method(
        activity, arg, start_to_close_timeout=DB_TIMEOUT, retry_policy=DB_RETRY
    )


RunInput = TypeVar("RunInput", ImportRunInput, ExportRunInput, BulkRunInput)


class _BatchRun:
    """What the three runs share: batches until none is left, a ``cancel`` signal that stops
    them after the batch under way (what is done stays done), and an end that records how the
    run went before a failure fails the run visibly."""

    def __init__(self) -> None:
        self._cancelled = False

    @workflow.signal(name=CANCEL_SIGNAL)
    def cancel(self) -> None:
        self._cancelled = True

    async def _batches(
        self, run: RunInput, batch: Callable[[RunInput], Awaitable[RunInput | None]]
    ) -> tuple[bool, str | None]:
        """Run ``batch`` on ``run``, then on the input it returns for the next batch, until it
        returns none or a cancel arrives; a long run continues as new where it got to.
        Whether it was cancelled, and the error of a batch that failed for good."""
        try:
            while not self._cancelled:
                following = await batch(run)
                if following is None:
                    break
                run = following
                if workflow.info().is_continue_as_new_suggested():
                    workflow.continue_as_new(run)
        except ActivityError as failure:
            cause = failure.cause
            return False, cause.message if isinstance(cause, FailureError) else failure.message
        return self._cancelled, None

    @staticmethod
    async def _end(
        ending: Callable[..., Any], end: ImportEnd | ExportEnd | BulkEnd, what: str, failed: str
    ) -> None:
        await _database(ending, end)
        if end.error is not None:
            raise ApplicationError(
                f"the {what} failed: {end.error}", type=failed, non_retryable=True
            )


@workflow.defn(name=IMPORT_WORKFLOW)
class ImportRun(_BatchRun):
    """Each batch is one activity and one transaction that settles its rows. The import's
    status records how the run ended."""

    @workflow.run
    async def run(self, run: ImportRunInput) -> int:
        done = 0

        async def batch(run: ImportRunInput) -> ImportRunInput | None:
            nonlocal done
            batch = await _database(DataActivities.import_batch, run)
            if batch.last_line is None:
                return None
            done += batch.rows
            return run.model_copy(update={"after_line": batch.last_line})

        cancelled, error = await self._batches(run, batch)
        ended = ImportEnd(
            organization_id=run.organization_id,
            import_id=run.import_id,
            dry_run=run.dry_run,
            cancelled=cancelled,
            error=error,
        )
        await self._end(DataActivities.end_import, ended, "import", "ImportFailed")
        return done


@workflow.defn(name=EXPORT_WORKFLOW)
class ExportRun(_BatchRun):
    """Writes the file a chunk per activity, keeps it for its lifetime, then deletes it; a
    cancel deletes what was written."""

    @workflow.run
    async def run(self, run: ExportRunInput) -> int:
        written = 0

        async def chunk(run: ExportRunInput) -> ExportRunInput | None:
            nonlocal written
            chunk = await _database(DataActivities.write_export_chunk, run)
            written += chunk.rows
            if chunk.after is None:
                return None
            return run.model_copy(update={"seq": run.seq + 1, "after": chunk.after})

        cancelled, error = await self._batches(run, chunk)
        ended = ExportEnd(
            organization_id=run.organization_id,
            export_id=run.export_id,
            keep_seconds=run.keep_seconds,
            cancelled=cancelled,
            error=error,
        )
        await self._end(DataActivities.end_export, ended, "export", "ExportFailed")
        if not cancelled:
            await workflow.sleep(timedelta(seconds=run.keep_seconds))
            await _database(DataActivities.expire_export, ended)
        return written


@workflow.defn(name=BULK_WORKFLOW)
class BulkActionRun(_BatchRun):
    """Fixes who the action is for before its first batch, then acts a batch per activity."""

    @workflow.run
    async def run(self, run: BulkRunInput) -> None:
        async def batch(run: BulkRunInput) -> BulkRunInput | None:
            if run.after < 0:
                await workflow.execute_activity_method(
                    DataActivities.snapshot_bulk,
                    run,
                    start_to_close_timeout=SWEEP_TIMEOUT,
                    retry_policy=DB_RETRY,
                )
            batch = await _database(DataActivities.bulk_batch, run)
            if batch.last is None:
                return None
            return run.model_copy(update={"after": batch.last})

        cancelled, error = await self._batches(run, batch)
        ended = BulkEnd(
            organization_id=run.organization_id,
            bulk_id=run.bulk_id,
            cancelled=cancelled,
            error=error,
        )
        await self._end(DataActivities.end_bulk, ended, "bulk action", "BulkActionFailed")
