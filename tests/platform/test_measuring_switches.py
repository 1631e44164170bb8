"""The switches the benchmarks use to measure what encryption and metrics cost: off, they are
really off; on (the default), really on."""

from __future__ import annotations

import uuid

import httpx
import pytest
from temporalio.client import Client
from temporalio.contrib.pydantic import pydantic_data_converter

from api.app import create_app
from herald.secrets import SecretKeys, operator_token
from herald.settings import Settings
from herald.temporal import connect
from tests.support import TEST_SECRET, TemporalServer


@pytest.mark.parametrize("encrypted", [True, False])
async def test_payload_encryption_off_leaves_payloads_plain(
    temporal_server: TemporalServer, encrypted: bool
) -> None:
    settings = Settings(
        temporal_address=temporal_server.address,
        secret_key=TEST_SECRET,
        payload_encryption=encrypted,
    )
    herald = await connect(settings)
    handle = await herald.start_workflow(
        "NobodyRunsThis", "plain words", id=f"switch-{uuid.uuid4()}", task_queue="nobody"
    )
    try:
        outsider = await Client.connect(
            temporal_server.address, data_converter=pydantic_data_converter
        )
        history = await outsider.get_workflow_handle(handle.id).fetch_history()
        [payload] = history.events[0].workflow_execution_started_event_attributes.input.payloads
        assert (b"plain words" in payload.data) is not encrypted
    finally:
        await handle.terminate()


@pytest.mark.fast
@pytest.mark.parametrize("metrics", [True, False])
async def test_metrics_off_serves_no_metrics(metrics: bool) -> None:
    settings = Settings(secret_key=TEST_SECRET, metrics=metrics, database_url="sqlite://")
    token = operator_token(SecretKeys(TEST_SECRET))
    transport = httpx.ASGITransport(app=create_app(settings))
    async with httpx.AsyncClient(transport=transport, base_url="http://herald") as client:
        answer = await client.get("/metrics", headers={"Authorization": f"Bearer {token}"})
    assert answer.status_code == (200 if metrics else 404)
