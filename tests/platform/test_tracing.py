"""Traces an operator can follow: one order posted to the API is one trace, from the request
through the workflow it starts to the activity that awards the points, sent by the API and the
worker to the collector OpenTelemetry's variables name — and no span holds a person's data."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from herald.devserver import wait_for_port
from herald.messaging.unsubscribe import Links
from tests.fakes import FakeCollector, ReceivedSpan
from tests.support import (
    TEST_SECRET,
    Org,
    Stack,
    api_process,
    order_paid,
    wait_until,
    worker_process,
)


@pytest.fixture
def collector() -> Iterator[FakeCollector]:
    collector = FakeCollector()
    collector.start()
    yield collector
    collector.stop()


def test_an_order_is_one_trace_from_request_to_activity(
    stack: Stack, org: Org, collector: FakeCollector, tmp_path: Path
) -> None:
    env = {
        **stack.env,
        "HERALD_TASK_QUEUE": f"traced-{uuid.uuid4().hex[:8]}",
        "OTEL_EXPORTER_OTLP_ENDPOINT": collector.url,
        "OTEL_BSP_SCHEDULE_DELAY": "200",  # milliseconds between batches
    }
    worker = worker_process(env, tmp_path)
    api, base_url = api_process(env, tmp_path)
    worker.start()
    api.start()
    email = f"ada-{uuid.uuid4().hex[:8]}@example.com"
    try:
        wait_for_port(int(base_url.rsplit(":", 1)[1]))
        with httpx.Client(base_url=base_url, headers=org.headers(), timeout=30) as client:
            customer = client.post("/v1/customers", json={"name": "Ada", "emails": [email]})
            customer_id = customer.json()["id"]
            posted = client.post("/v1/events", json=order_paid(customer_id, "TRACE-1"))
            assert posted.status_code == 202, posted.text
            client.get("/v1/customers", params={"q": email})
            unsubscribe = Links(base_url, TEST_SECRET).unsubscribe_url(
                org.slug, org.id, uuid.UUID(customer_id)
            )
            assert httpx.get(unsubscribe).status_code == 200
            wait_until(
                lambda: client.get(f"/v1/customers/{customer_id}/points").json()["entries"],
                timeout_s=30,
            )
        run = wait_until(lambda: _named(collector.spans, "RunActivity:award_order_points"))
    finally:
        api.stop()
        worker.stop()

    [request] = [
        s for s in collector.spans if s.name == "POST /v1/events" and s.parent_span_id == ""
    ]
    chain = _ancestry(collector.spans, run[0])
    assert [(s.service, s.name) for s in chain] == [
        ("herald-api", "POST /v1/events"),
        ("herald-api", "StartWorkflow:AwardOrderPoints"),
        ("herald-worker", "StartActivity:award_order_points"),
        ("herald-worker", "RunActivity:award_order_points"),
    ]
    # The workflow's own spans hang from its start too (they last no time: replay-safe).
    started = chain[1]
    assert {s.name for s in collector.spans if s.parent_span_id == started.span_id} >= {
        "RunWorkflow:AwardOrderPoints",
        "CompleteWorkflow:AwardOrderPoints",
    }
    assert chain[0] == request
    everything = repr(collector.spans)
    for secret in (email, unsubscribe.rsplit("/", 1)[1]):
        assert secret not in everything
    searched = _named(collector.spans, "GET /v1/customers")
    assert searched and searched[0].attributes.get("url.query", "").endswith('"[query]"')


def _named(spans: list[ReceivedSpan], name: str) -> list[ReceivedSpan]:
    return [s for s in spans if s.name == name]


def _ancestry(spans: list[ReceivedSpan], last: ReceivedSpan) -> list[ReceivedSpan]:
    by_id = {(s.trace_id, s.span_id): s for s in spans}
    chain = [last]
    while chain[0].parent_span_id:
        chain.insert(0, by_id[(last.trace_id, chain[0].parent_span_id)])
    return chain
