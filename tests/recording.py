"""Recording workflow histories for the replay test (``scripts/record_histories.py``).

With ``HERALD_RECORD_HISTORIES=<folder>`` set, every run the tests start is saved there as
Temporal history JSON: runs on time-skipping servers as their environment shuts down, and runs
on the session's dev server as the stack stops. Without it, nothing here does anything.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from temporalio.client import (
    Client,
    Interceptor,
    OutboundInterceptor,
    StartWorkflowInput,
    WorkflowHandle,
)
from temporalio.testing import WorkflowEnvironment

RECORD_DIR = os.environ.get("HERALD_RECORD_HISTORIES")
# Runs kept per workflow type from one dev-server stack: plenty to choose from.
PER_TYPE = 40


async def save_history(client: Client, workflow_id: str, run_id: str | None) -> None:
    assert RECORD_DIR is not None
    history = await client.get_workflow_handle(workflow_id, run_id=run_id).fetch_history()
    started = history.events[0].workflow_execution_started_event_attributes
    name = f"{started.workflow_type.name}-{uuid.uuid4().hex[:12]}.json"
    (Path(RECORD_DIR) / name).write_text(history.to_json())


async def save_dev_server_histories(client: Client, task_queue: str) -> None:
    """Every closed run of the stack's task queue, up to ``PER_TYPE`` of each type."""
    kept: dict[str, int] = {}
    async for run in client.list_workflows(
        f"TaskQueue = '{task_queue}' AND ExecutionStatus != 'Running'"
    ):
        if kept.get(run.workflow_type, 0) < PER_TYPE:
            kept[run.workflow_type] = kept.get(run.workflow_type, 0) + 1
            await save_history(client, run.id, run.run_id)


class _RecordStarts(OutboundInterceptor):
    def __init__(self, next: OutboundInterceptor, started: list[tuple[str, str | None]]) -> None:
        super().__init__(next)
        self._started = started

    async def start_workflow(self, input: StartWorkflowInput) -> WorkflowHandle[Any, Any]:
        handle = await super().start_workflow(input)
        self._started.append((handle.id, handle.first_execution_run_id))
        return handle


class _Recorder(Interceptor):
    def __init__(self) -> None:
        self.started: list[tuple[str, str | None]] = []

    def intercept_client(self, next: OutboundInterceptor) -> OutboundInterceptor:
        return _RecordStarts(next, self.started)


@pytest.fixture(scope="session", autouse=True)
def record_time_skipping_histories() -> Iterator[None]:
    """Wrap the time-skipping server so each environment saves its runs before it stops."""
    if RECORD_DIR is None:
        yield
        return
    original = WorkflowEnvironment.start_time_skipping

    async def start_time_skipping(*args: Any, **kwargs: Any) -> WorkflowEnvironment:
        recorder = _Recorder()
        kwargs["interceptors"] = [*kwargs.get("interceptors", []), recorder]
        env = await original(*args, **kwargs)
        shutdown = env.shutdown

        async def save_then_shutdown() -> None:
            for workflow_id, run_id in recorder.started:
                await save_history(env.client, workflow_id, run_id)
            await shutdown()

        env.shutdown = save_then_shutdown  # type: ignore[method-assign]
        return env

    WorkflowEnvironment.start_time_skipping = staticmethod(start_time_skipping)  # type: ignore[method-assign,assignment]
    yield
    WorkflowEnvironment.start_time_skipping = original  # type: ignore[method-assign]
