"""Segment entries and exits as events: a journey starts when a customer enters a segment,
and a run waiting for the exit hears it (dev server, worker and API processes)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from temporalio.client import Client

from herald.journeys.contracts import journey_workflow_id
from herald.schedules import SEGMENT_SWEEP_EVERY, segment_sweep_schedule_id
from herald.segments.contracts import SEGMENT_SWEEP_WORKFLOW, SegmentSweepInput
from herald.settings import Settings
from herald.temporal import connect
from tests.journeys.test_journeys_api import _journey, _run, _subjects, _templates
from tests.support import TEST_SECRET, Org, Stack, create_customer, wait_until

# SQL here differs between SQLite and PostgreSQL: run on both.
pytestmark = pytest.mark.dialects

VIP_WELCOME: dict[str, Any] = {
    "name": "VIP welcome",
    "trigger": {"event": "segment.entered", "where": {"segment": "vip"}},
    "steps": [
        {"id": "hello", "type": "send", "channel": "email", "template": "hello", "next": "stay"},
        {
            "id": "stay",
            "type": "wait_for_event",
            "event": "segment.exited",
            "where": {"segment": "vip"},
            "timeout": "P30D",
            "on_event": "mark",
            "on_timeout": None,
        },
        {"id": "mark", "type": "update", "set_attributes": {"left_vip": True}, "next": None},
    ],
}


async def _sweep(stack: Stack, client: Client, at: datetime) -> dict[str, Any]:
    """A sweep at ``at``, as the schedule starts one."""
    return await client.execute_workflow(  # type: ignore[no-any-return]
        SEGMENT_SWEEP_WORKFLOW,
        SegmentSweepInput(at=at),
        id=f"sweep-test-{at.timestamp()}",
        task_queue=stack.env["HERALD_TASK_QUEUE"],
        result_type=dict,
    )


def _tags(stack: Stack, org: Org, customer: dict[str, Any], tags: list[str]) -> None:
    response = stack.api.patch(
        f"/v1/customers/{customer['id']}", json={"tags": tags}, headers=org.headers()
    )
    assert response.status_code == 200, response.text


async def test_entering_a_segment_starts_a_journey_and_leaving_it_reaches_the_waiting_run(
    stack: Stack, org: Org
) -> None:
    _templates(stack, org)
    segment = {"key": "vip", "name": "VIP", "rule": {"tag": "vip"}}
    assert stack.api.post("/v1/segments", json=segment, headers=org.headers()).status_code == 201
    already = create_customer(stack, org, tags=["vip"])
    newcomer = create_customer(stack, org)
    _journey(stack, org, VIP_WELCOME, key="vip-welcome")
    shown = stack.api.get("/v1/segments/vip", headers=org.headers()).json()
    assert shown["track_entries"] is True  # publishing the journey turned tracking on

    client = await connect(
        Settings(temporal_address=stack.env["HERALD_TEMPORAL_ADDRESS"], secret_key=TEST_SECRET)
    )
    schedule = client.get_schedule_handle(segment_sweep_schedule_id(stack.env["HERALD_TASK_QUEUE"]))
    spec = (await schedule.describe()).schedule.spec
    assert spec.intervals[0].every == SEGMENT_SWEEP_EVERY

    now = datetime.now(UTC)
    first = await _sweep(stack, client, now)
    assert first["entered"] == 0  # the first sweep takes today's members as the baseline

    _tags(stack, org, newcomer, ["vip"])
    second = await _sweep(stack, client, now + timedelta(minutes=5))
    assert second["entered"] >= 1
    wait_until(lambda: _subjects(stack, org, newcomer) == ["hello"])
    assert _subjects(stack, org, already) == []  # in before tracking began: no entry

    workflow_id = journey_workflow_id(org.id, "vip-welcome", uuid.UUID(newcomer["id"]))
    wait_until(lambda: _run(stack, org, workflow_id)["step"] == "stay")
    _tags(stack, org, newcomer, [])
    third = await _sweep(stack, client, now + timedelta(minutes=10))
    assert third["exited"] >= 1
    wait_until(lambda: _run(stack, org, workflow_id)["status"] == "completed")
    profile = stack.api.get(f"/v1/customers/{newcomer['id']}", headers=org.headers()).json()
    assert profile["attributes"]["left_vip"] is True
    # Once left, a later sweep records nothing more for them.
    fourth = await _sweep(stack, client, now + timedelta(minutes=15))
    assert (fourth["entered"], fourth["exited"]) == (0, 0)
