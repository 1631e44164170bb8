"""Temporal wiring shared by the API, the worker and the CLI: client, data converter, search attributes."""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from pydantic import BaseModel
from temporalio.api.enums.v1 import IndexedValueType
from temporalio.api.operatorservice.v1 import (
    AddSearchAttributesRequest,
    ListSearchAttributesRequest,
)
from temporalio.client import Client, WorkflowHandle
from temporalio.common import (
    Priority,
    SearchAttributeIndexedValueType,
    SearchAttributeKey,
    SearchAttributePair,
    TypedSearchAttributes,
    WorkflowIDConflictPolicy,
    WorkflowIDReusePolicy,
)
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.exceptions import WorkflowAlreadyStartedError
from temporalio.runtime import Runtime
from temporalio.service import RPCError, RPCStatusCode

from herald import tracing
from herald.payloads import encrypting_converter
from herald.settings import Settings, get_settings, secret_keys

log = logging.getLogger(__name__)

# Herald's own search attributes. They carry ids and keys only, never personal data.
ORGANIZATION_ID = SearchAttributeKey.for_keyword("HeraldOrganizationId")
CUSTOMER_ID = SearchAttributeKey.for_keyword("HeraldCustomerId")
RUN_TYPE = SearchAttributeKey.for_keyword("HeraldRunType")
# A journey run's journey key, version and current step: "everyone waiting in step 3".
JOURNEY = SearchAttributeKey.for_keyword("HeraldJourney")
JOURNEY_VERSION = SearchAttributeKey.for_int("HeraldJourneyVersion")
JOURNEY_STEP = SearchAttributeKey.for_keyword("HeraldJourneyStep")
# An inquiry follow-up's status: "every inquiry still new".
INQUIRY_STATUS = SearchAttributeKey.for_keyword("HeraldInquiryStatus")
SEARCH_ATTRIBUTES: tuple[SearchAttributeKey[Any], ...] = (
    ORGANIZATION_ID,
    CUSTOMER_ID,
    RUN_TYPE,
    JOURNEY,
    JOURNEY_VERSION,
    JOURNEY_STEP,
    INQUIRY_STATUS,
)
_INDEXED_TYPE = {
    SearchAttributeIndexedValueType.KEYWORD: (
        "Keyword",
        IndexedValueType.INDEXED_VALUE_TYPE_KEYWORD,
    ),
    SearchAttributeIndexedValueType.INT: ("Int", IndexedValueType.INDEXED_VALUE_TYPE_INT),
}

# Fail fast when the server is unreachable: callers keep the work and try again later.
START_RPC_TIMEOUT = timedelta(seconds=5)


def tenant_workflow_id(workflow: str, organization_id: uuid.UUID, *subject: object) -> str:
    """The one id scheme of a per-organization run: ``<Type>/<organization>/<subject...>``,
    the subject being what the run happens once for (an order, a customer and year, a
    campaign). Cross-tenant sweeps are ``<Type>/<task queue>`` (``herald.schedules``)."""
    return "/".join([workflow, str(organization_id), *(str(part) for part in subject)])


def search_attribute_flags() -> list[str]:
    """``temporal server start-dev`` flags registering Herald's search attributes."""
    flags = []
    for key in SEARCH_ATTRIBUTES:
        flags += ["--search-attribute", f"{key.name}={_INDEXED_TYPE[key.indexed_value_type][0]}"]
    return flags


def run_search_attributes(
    run_type: str,
    organization_id: str,
    customer_id: str | None = None,
    journey: str | None = None,
) -> TypedSearchAttributes:
    pairs: list[SearchAttributePair[str]] = [
        SearchAttributePair(RUN_TYPE, run_type),
        SearchAttributePair(ORGANIZATION_ID, organization_id),
    ]
    if customer_id is not None:
        pairs.append(SearchAttributePair(CUSTOMER_ID, customer_id))
    if journey is not None:
        pairs.append(SearchAttributePair(JOURNEY, journey))
    return TypedSearchAttributes(pairs)


async def connect(
    settings: Settings, *, lazy: bool = False, runtime: Runtime | None = None
) -> Client:
    """A client whose payloads are encrypted under the deployment's secret (herald.payloads),
    carrying the current trace into the runs it starts when tracing is on (herald.tracing)."""
    return await Client.connect(
        settings.temporal_address,
        namespace=settings.temporal_namespace,
        data_converter=(
            encrypting_converter(secret_keys(settings))
            if settings.payload_encryption
            else pydantic_data_converter
        ),
        interceptors=tracing.temporal_interceptors(),
        lazy=lazy,
        runtime=runtime,
    )


async def register_search_attributes(
    client: Client, namespace: str, keys: tuple[SearchAttributeKey[Any], ...] = SEARCH_ATTRIBUTES
) -> None:
    await client.operator_service.add_search_attributes(
        AddSearchAttributesRequest(
            namespace=namespace,
            search_attributes={key.name: _INDEXED_TYPE[key.indexed_value_type][1] for key in keys},
        )
    )


async def ensure_search_attributes(client: Client, namespace: str) -> None:
    """Register Herald's search attributes if the namespace lacks them (idempotent)."""
    existing = await client.operator_service.list_search_attributes(
        ListSearchAttributesRequest(namespace=namespace)
    )
    missing = tuple(k for k in SEARCH_ATTRIBUTES if k.name not in existing.custom_attributes)
    if missing:
        log.info("registering search attributes %s", sorted(k.name for k in missing))
        await register_search_attributes(client, namespace, missing)


@dataclass(frozen=True)
class LegacyId:
    """The id the same run had under a workflow-id scheme Herald no longer starts, and the
    prefix every such id has. While runs under it are still open, what is meant for the run
    reaches the old one, instead of a second run starting beside it."""

    workflow_id: str
    prefix: str


class _LegacyRuns:
    """Whether any run under a retired id scheme is still open, asked of Temporal's visibility
    at most every ``legacy_run_check_s`` per process and scheme."""

    def __init__(self) -> None:
        self._known: dict[tuple[str, str], tuple[float, bool]] = {}

    async def open(self, client: Client, workflow: str, prefix: str) -> bool:
        now = time.monotonic()
        checked = self._known.get((workflow, prefix))
        if checked is not None and now - checked[0] < get_settings().legacy_run_check_s:
            return checked[1]
        found = await client.count_workflows(
            f"WorkflowType = '{workflow}' AND ExecutionStatus = 'Running' "
            f"AND WorkflowId STARTS_WITH '{prefix}'",
            rpc_timeout=START_RPC_TIMEOUT,
        )
        self._known[(workflow, prefix)] = (now, found.count > 0)
        return found.count > 0


_legacy_runs = _LegacyRuns()


async def _signal_legacy(
    client: Client, workflow: str, legacy: LegacyId, signal: str, arg: BaseModel | None
) -> bool:
    """Signal the run under the legacy id if one is open; whether it took the signal."""
    if not await _legacy_runs.open(client, workflow, legacy.prefix):
        return False
    try:
        await client.get_workflow_handle(legacy.workflow_id).signal(
            signal, *([arg] if arg is not None else []), rpc_timeout=START_RPC_TIMEOUT
        )
    except RPCError as exc:
        if exc.status is not RPCStatusCode.NOT_FOUND:
            raise
        return False
    return True


@dataclass(frozen=True)
class WorkflowStart:
    """A Herald run to start: its workflow id is derived from its subject, so it starts once."""

    workflow: str
    workflow_id: str
    arg: BaseModel
    organization_id: uuid.UUID
    customer_id: uuid.UUID | None
    # What the run is, for an operator reading the Temporal UI's list: ids, keys and names of
    # things the merchant made, never personal data. ``details`` (markdown) shows on its page.
    summary: str
    details: str | None = None
    # Signal-with-start: the signal reaches the run whether it was running or starts now, so
    # the event that starts a run is never lost.
    signal: str | None = None
    signal_arg: BaseModel | None = None
    # Whether a new run may follow a closed one under the same id (the workflow then applies
    # its own entry rules). Never two at once.
    rerun: bool = False
    # Journey runs: the journey's key as a search attribute from the start, its name as memo.
    journey: str | None = None
    memo: dict[str, str] | None = None
    legacy: LegacyId | None = None


@dataclass(frozen=True)
class WorkflowSignal:
    """A signal for the run under this id if one is running; without one, nobody listens."""

    workflow: str
    workflow_id: str
    signal: str
    arg: BaseModel
    legacy: LegacyId | None = None


async def send_signal(client: Client, signal: WorkflowSignal) -> None:
    try:
        await client.get_workflow_handle(signal.workflow_id).signal(
            signal.signal, signal.arg, rpc_timeout=START_RPC_TIMEOUT
        )
    except RPCError as exc:
        if exc.status is not RPCStatusCode.NOT_FOUND:
            raise
        if signal.legacy is not None:
            await _signal_legacy(client, signal.workflow, signal.legacy, signal.signal, signal.arg)


def tenant_priority(organization_id: uuid.UUID | str) -> Priority:
    """The organization is the run's fairness key: the task queue serves organizations in turn,
    so one's burst does not starve another's. Activities and child runs inherit it."""
    return Priority(fairness_key=str(organization_id))


async def start_run(
    client: Client, task_queue: str, start: WorkflowStart
) -> WorkflowHandle[Any, Any]:
    """Start the run, or return the one its id already names (a duplicate start is success).
    A signal-with-start for a subject whose run is still open under its legacy id goes to that
    run instead."""
    if (
        start.legacy is not None
        and start.signal is not None
        and await _signal_legacy(
            client, start.workflow, start.legacy, start.signal, start.signal_arg
        )
    ):
        return client.get_workflow_handle(start.legacy.workflow_id)
    try:
        return await client.start_workflow(
            start.workflow,
            start.arg,
            id=start.workflow_id,
            task_queue=task_queue,
            id_reuse_policy=WorkflowIDReusePolicy.ALLOW_DUPLICATE
            if start.rerun
            else WorkflowIDReusePolicy.REJECT_DUPLICATE,
            id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING
            if start.signal
            else WorkflowIDConflictPolicy.FAIL,
            start_signal=start.signal,
            start_signal_args=[start.signal_arg] if start.signal_arg is not None else [],
            search_attributes=run_search_attributes(
                start.workflow,
                str(start.organization_id),
                str(start.customer_id) if start.customer_id else None,
                start.journey,
            ),
            memo=start.memo,
            priority=tenant_priority(start.organization_id),
            static_summary=start.summary,
            static_details=start.details,
            rpc_timeout=START_RPC_TIMEOUT,
        )
    except WorkflowAlreadyStartedError:
        return client.get_workflow_handle(start.workflow_id)


class TemporalConnection:
    """Connects on first use and again after a failure, so a process can start before Temporal."""

    def __init__(self, settings: Settings) -> None:
        self._settings = settings
        self._client: Client | None = None
        self._lock = asyncio.Lock()

    async def client(self) -> Client:
        if self._client is None:
            async with self._lock:
                if self._client is None:
                    self._client = await connect(self._settings)
        return self._client
