"""Herald's view of its Temporal runs, read from visibility and scoped to one organization."""

from __future__ import annotations

import base64
import binascii
import hashlib
import uuid
from collections.abc import Collection
from typing import Any
from urllib.parse import quote

from temporalio.client import (
    Client,
    WorkflowExecution,
    WorkflowExecutionDescription,
    WorkflowExecutionStatus,
    WorkflowFailureError,
    WorkflowHandle,
    WorkflowUpdateFailedError,
)
from temporalio.service import RPCError, RPCStatusCode

from herald.errors import Conflict, Forbidden, InvalidInput, NotFound
from herald.journeys.contracts import JOURNEY_WORKFLOW, PROGRESS_QUERY
from herald.runs.schemas import RunDetail, RunOut, RunPage, RunQuery, RunStatus
from herald.temporal import (
    CUSTOMER_ID,
    JOURNEY,
    JOURNEY_STEP,
    JOURNEY_VERSION,
    ORGANIZATION_ID,
    RUN_TYPE,
)

_STATUS: dict[WorkflowExecutionStatus, RunStatus] = {
    WorkflowExecutionStatus.RUNNING: "running",
    WorkflowExecutionStatus.COMPLETED: "completed",
    WorkflowExecutionStatus.FAILED: "failed",
    WorkflowExecutionStatus.CANCELED: "canceled",
    WorkflowExecutionStatus.TERMINATED: "terminated",
    WorkflowExecutionStatus.CONTINUED_AS_NEW: "continued_as_new",
    WorkflowExecutionStatus.TIMED_OUT: "timed_out",
}
_VISIBILITY_STATUS = {v: k.name.title().replace("_", "") for k, v in _STATUS.items()}


def _visibility_query(
    organization_id: uuid.UUID, query: RunQuery, types: Collection[str] | None = None
) -> str:
    # Every value is validated (uuid, identifier pattern, enum) before it is put in the query;
    # the types come from Herald's own table of workflow names.
    clauses = [f"{ORGANIZATION_ID.name} = '{organization_id}'"]
    if types is not None:
        clauses.append(f"{RUN_TYPE.name} IN ({', '.join(repr(t) for t in sorted(types))})")
    if query.type:
        clauses.append(f"{RUN_TYPE.name} = '{query.type}'")
    if query.customer_id:
        clauses.append(f"{CUSTOMER_ID.name} = '{query.customer_id}'")
    if query.journey:
        clauses.append(f"{JOURNEY.name} = '{query.journey}'")
    if query.step:
        clauses.append(f"{JOURNEY_STEP.name} = '{query.step}'")
    if query.status:
        clauses.append(f"ExecutionStatus = '{_VISIBILITY_STATUS[query.status]}'")
    # Visibility lists newest first; the dev server's SQLite store refuses an explicit ORDER BY.
    return " AND ".join(clauses)


def _to_out(execution: WorkflowExecution) -> RunOut:
    attrs = execution.typed_search_attributes
    customer = attrs.get(CUSTOMER_ID)
    return RunOut(
        workflow_id=execution.id,
        run_id=execution.run_id,
        type=execution.workflow_type,
        status=_STATUS.get(execution.status or WorkflowExecutionStatus.RUNNING, "running"),
        customer_id=uuid.UUID(customer) if customer else None,
        journey=attrs.get(JOURNEY),
        step=attrs.get(JOURNEY_STEP),
        start_time=execution.start_time,
        close_time=execution.close_time,
    )


async def list_runs(
    client: Client, organization_id: uuid.UUID, query: RunQuery, types: Collection[str]
) -> RunPage:
    """The organization's runs of the given types (those the caller may see), newest first."""
    if query.type and query.type not in types:
        raise Forbidden(f"your role may not see {query.type} runs")
    if not types:
        return RunPage(items=[], next_cursor=None)
    token = _page_token(query.cursor) if query.cursor else None
    pages = client.list_workflows(
        _visibility_query(organization_id, query, types),
        page_size=query.limit,
        next_page_token=token,
    )
    await pages.fetch_next_page()
    items = [_to_out(e) for e in pages.current_page or []]
    next_token = pages.next_page_token
    return RunPage(
        items=items,
        next_cursor=_cursor(next_token) if next_token else None,
    )


def _cursor(token: bytes) -> str:
    """Temporal's page token, with a checksum: a made-up cursor is refused here, instead of
    being retried by Temporal for seconds and failing there."""
    return base64.urlsafe_b64encode(hashlib.sha256(token).digest()[:8] + token).decode()


def _page_token(cursor: str) -> bytes:
    try:
        raw = base64.urlsafe_b64decode(cursor.encode())
    except (binascii.Error, ValueError) as exc:
        raise InvalidInput("invalid cursor", field="cursor") from exc
    check, token = raw[:8], raw[8:]
    if not token or hashlib.sha256(token).digest()[:8] != check:
        raise InvalidInput("invalid cursor", field="cursor")
    return token


async def running_journey_runs(
    client: Client, organization_id: uuid.UUID, journey: str, below_version: int
) -> list[str]:
    """The workflow ids of a journey's running runs on versions before ``below_version``."""
    query = _visibility_query(organization_id, RunQuery(journey=journey, status="running"))
    query += f" AND {JOURNEY_VERSION.name} < {int(below_version)}"
    return [execution.id async for execution in client.list_workflows(query)]


async def count_runs(client: Client, organization_id: uuid.UUID, query: RunQuery) -> int:
    counted = await client.count_workflows(_visibility_query(organization_id, query))
    return counted.count


async def _describe(
    client: Client, organization_id: uuid.UUID, workflow_id: str
) -> tuple[WorkflowHandle[Any, Any], WorkflowExecutionDescription]:
    handle = client.get_workflow_handle(workflow_id)
    try:
        description = await handle.describe()
    except RPCError as exc:
        if exc.status in (RPCStatusCode.NOT_FOUND, RPCStatusCode.INVALID_ARGUMENT):
            raise NotFound("no such run") from exc
        raise
    # Another brand's run is indistinguishable from a missing one.
    if description.typed_search_attributes.get(ORGANIZATION_ID) != str(organization_id):
        raise NotFound("no such run")
    return handle, description


async def get_run(
    client: Client, organization_id: uuid.UUID, workflow_id: str, types: Collection[str]
) -> RunDetail:
    handle, description = await _describe(client, organization_id, workflow_id)
    run = _to_out(description)
    if run.type not in types:  # as if it were not there, like another brand's run
        raise NotFound("no such run")
    progress = None
    if run.type == JOURNEY_WORKFLOW:
        progress = await handle.query(PROGRESS_QUERY)
    result: Any = None
    failure = None
    if description.status is WorkflowExecutionStatus.COMPLETED:
        result = await handle.result(follow_runs=False)
    elif description.status is WorkflowExecutionStatus.FAILED:
        try:
            await handle.result(follow_runs=False)
        except WorkflowFailureError as exc:
            cause = exc.cause
            failure = f"{cause}" if cause is None else f"{type(cause).__name__}: {cause}"
    return RunDetail(
        **run.model_dump(),
        result=result,
        failure=failure,
        progress=progress,
        temporal_ui_path=f"/namespaces/{client.namespace}/workflows/{quote(workflow_id, safe='')}/{run.run_id}",
    )


async def update_run(
    client: Client,
    organization_id: uuid.UUID,
    workflow_id: str,
    update: str,
    *args: Any,
    update_id: str | None = None,
) -> Any:
    """Ask a running run to change course (exit, skip a wait, move an inquiry on); the run's
    validator decides. The same ``update_id`` twice is one change, answered twice."""
    handle, description = await _describe(client, organization_id, workflow_id)
    if description.status is not WorkflowExecutionStatus.RUNNING:
        raise Conflict("the run is not running")
    try:
        return await handle.execute_update(update, args=list(args), id=update_id)
    except WorkflowUpdateFailedError as exc:
        raise Conflict(str(exc.cause or exc)) from exc
    except RPCError as exc:
        if exc.status is RPCStatusCode.NOT_FOUND:  # finished in the meantime
            raise Conflict("the run is not running") from exc
        raise


async def end_customer_runs(
    client: Client, organization_id: uuid.UUID, customer_id: uuid.UUID, reason: str
) -> int:
    """Terminate every running run of one customer (their erasure): journeys, tier reviews,
    reward holds... How many were ended."""
    query = _visibility_query(organization_id, RunQuery(customer_id=customer_id, status="running"))
    ended = 0
    async for execution in client.list_workflows(query):
        try:
            await client.get_workflow_handle(execution.id, run_id=execution.run_id).terminate(
                reason=reason
            )
        except RPCError as exc:
            if exc.status is not RPCStatusCode.NOT_FOUND:  # it closed meanwhile: fine
                raise
            continue
        ended += 1
    return ended
