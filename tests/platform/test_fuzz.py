"""A property-based fuzz of the whole HTTP API (schemathesis over /openapi.json) with an owner
key: whatever it sends, Herald answers without a server error.

Each operation gets a bounded number of generated requests, so the run stays within a few
minutes; a failure lists, per operation, a request that caused it, as a curl command to replay.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings

from herald.database import Database
from herald.devserver import wait_for_port
from tests.support import (
    Org,
    TemporalServer,
    api_process,
    herald_env,
    make_org,
    worker_process,
)

pytestmark = pytest.mark.slow

# Streams never end: a fuzz request would wait on one for ever.
NOT_FUZZED = ("/v1/inquiries/stream",)
EXAMPLES_PER_OPERATION = 25


@pytest.fixture(scope="module")
def fuzzed_api(
    database_url: str,
    db: Database,
    temporal_server: TemporalServer,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[tuple[str, Org]]:
    """The API and a worker, for the whole module: one stack for every operation."""
    if not database_url.startswith("sqlite"):
        pytest.skip("fuzzed once, on the embedded database")
    log_dir: Path = tmp_path_factory.mktemp("fuzz")
    env = herald_env(database_url, temporal_server.address, f"herald-fuzz-{uuid.uuid4().hex[:6]}")
    api, base_url = api_process(env, log_dir)
    worker = worker_process(env, log_dir)
    api.start()
    worker.start()
    try:
        wait_for_port(int(base_url.rsplit(":", 1)[1]))
        yield base_url, make_org(db)
    finally:
        api.stop()
        worker.stop()


def _fuzz(operation: Any, base_url: str, org: Org, server_errors: dict[str, str]) -> None:
    """Send the operation's generated requests; note the first server error, if any."""

    @given(case=operation.as_strategy())
    @settings(
        max_examples=EXAMPLES_PER_OPERATION,
        deadline=None,
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    def send(case: Any) -> None:
        response = case.call(base_url=base_url, headers=org.headers(), timeout=30)
        if response.status_code >= 500:
            server_errors.setdefault(
                operation.label, f"{case.as_curl_command()} -> {response.status_code}"
            )

    send()


def test_no_request_gets_a_server_error(fuzzed_api: tuple[str, Org]) -> None:
    base_url, org = fuzzed_api
    schema = schemathesis.openapi.from_url(f"{base_url}/openapi.json")
    server_errors: dict[str, str] = {}
    for found in schema.get_all_operations():
        operation = found.ok()
        if operation.path not in NOT_FUZZED:
            _fuzz(operation, base_url, org, server_errors)
    assert server_errors == {}, "\n".join(server_errors.values())
