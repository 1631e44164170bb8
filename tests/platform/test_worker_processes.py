"""`herald worker` with HERALD_WORKER_PROCESSES=2: two processes share the task queue, one
that dies is replaced, and none outlives its supervisor."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import uuid
from pathlib import Path

import httpx
import pytest

from herald.devserver import free_port, wait_for_port
from herald.secrets import SecretKeys, operator_token
from tests.support import (
    TEST_SECRET,
    Org,
    Stack,
    TemporalServer,
    api_process,
    create_customer,
    herald_env,
    order_paid,
    points,
    wait_until,
    worker_process,
)

# SQL here differs between SQLite and PostgreSQL: run on both.
pytestmark = pytest.mark.dialects


def _children(pid: int) -> set[int]:
    path = Path(f"/proc/{pid}/task/{pid}/children")
    return {int(p) for p in path.read_text().split()} if path.exists() else set()


def _free_ports_in_a_row(count: int, taken: int) -> int:
    """The first of ``count`` consecutive free ports, none of them ``taken`` (by a process not
    started yet): the worker's metrics port and, after it, one per process. A port in use would
    stop its process from starting, again and again."""
    while True:
        first = free_port()
        if taken in range(first, first + count):
            continue
        with contextlib.ExitStack() as held:
            try:
                for port in range(first + 1, first + count):
                    sock = held.enter_context(socket.socket())
                    sock.bind(("127.0.0.1", port))
            except OSError:
                continue
        return first


def _alive(pid: int) -> bool:
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except FileNotFoundError:
        return False
    return "State:\tZ" not in status  # a zombie has exited; its parent has not reaped it yet


def _award(client: httpx.Client, stack: Stack, org: Org, customer: str, orders: list[str]) -> None:
    batch = {"events": [order_paid(customer, order, "2") for order in orders]}
    response = client.post("/v1/events", json=batch, headers=org.headers())
    assert response.status_code == 202, response.text


@pytest.mark.slow  # chaos: processes killed, or a database taken away
def _sample(exposition: str, name: str) -> float:
    """The value of an unlabelled sample in a Prometheus text exposition."""
    [value] = [line.split()[-1] for line in exposition.splitlines() if line.startswith(name + " ")]
    return float(value)


def _metrics_of(port: int) -> str | None:
    try:
        return httpx.get(f"http://127.0.0.1:{port}/metrics").text
    except httpx.ConnectError:
        return None


def _polling(port: int) -> bool:
    return "temporal_worker_task_slots_available" in (_metrics_of(port) or "")


def test_two_worker_processes_share_the_work_and_a_dead_one_is_replaced(
    database_url: str, stack: Stack, org: Org, temporal_server: TemporalServer, tmp_path: Path
) -> None:
    env = herald_env(database_url, temporal_server.address, f"herald-two-{uuid.uuid4().hex[:6]}")
    env["HERALD_WORKER_PROCESSES"] = "2"
    api, base_url = api_process(env, tmp_path)
    api_port = int(base_url.rsplit(":", 1)[1])
    env["HERALD_WORKER_METRICS_PORT"] = str(metrics_port := _free_ports_in_a_row(3, api_port))
    worker = worker_process(env, tmp_path)
    worker.start()
    api.start()
    assert worker.popen is not None
    supervisor = worker.popen.pid
    try:
        wait_for_port(api_port)
        first = wait_until(lambda: len(c := _children(supervisor)) == 2 and c, timeout_s=30)
        customer = create_customer(stack, org)["id"]
        with httpx.Client(base_url=base_url, timeout=30) as client:
            _award(client, stack, org, customer, [f"TWO-{i}" for i in range(20)])
            wait_until(lambda: points(stack, org, customer)["balance"] == 40, timeout_s=60)
            # The worker's metrics add both processes up; the API's count its requests.
            worker_metrics = f"http://127.0.0.1:{metrics_port}/metrics"
            assert _sample(httpx.get(worker_metrics).text, "herald_points_awarded_total") == 40
            for place in (1, 2):  # each process's Temporal SDK metrics, on the ports after
                # A process may have done none of the work yet: its port opens once it is up,
                # and its worker's own series appear once the worker polls (before, only its
                # client's requests are counted).
                wait_until(
                    lambda p=place: (
                        "temporal_worker_task_slots_available"
                        in (_metrics_of(metrics_port + p) or "")
                    ),
                    timeout_s=30,
                )
            token = operator_token(SecretKeys(TEST_SECRET))
            api_metrics = client.get("/metrics", headers={"Authorization": f"Bearer {token}"})
            assert _sample(api_metrics.text, "herald_events_dispatched_total") >= 20
            assert 'route="/v1/events",status="202"' in api_metrics.text
            assert client.get("/metrics").status_code == 404  # not without the token

            # One process dies outright: the supervisor starts another, and work goes on.
            lost = min(first)
            os.kill(lost, signal.SIGKILL)
            second = wait_until(
                lambda: len(c := _children(supervisor)) == 2 and lost not in c and c,
                timeout_s=30,
            )
            assert max(first) in second
            _award(client, stack, org, customer, [f"TWO-{i}" for i in range(20, 30)])
            wait_until(lambda: points(stack, org, customer)["balance"] == 60, timeout_s=60)
            # What the killed process counted still counts.
            assert _sample(httpx.get(worker_metrics).text, "herald_points_awarded_total") == 60
        assert points(stack, org, customer)["balance"] == 60  # each order counted once

        # The supervisor itself killed outright: its processes notice and stop.
        worker.kill()
        wait_until(lambda: not any(_alive(pid) for pid in second), timeout_s=30)
    finally:
        api.stop()
        worker.stop()


@pytest.mark.slow  # chaos: processes killed, or a database taken away
def test_stopping_the_supervisor_stops_its_processes(
    database_url: str, temporal_server: TemporalServer, tmp_path: Path
) -> None:
    env = herald_env(database_url, temporal_server.address, f"herald-stop-{uuid.uuid4().hex[:6]}")
    env["HERALD_WORKER_PROCESSES"] = "2"
    worker = worker_process(env, tmp_path)
    worker.start()
    assert worker.popen is not None
    supervisor = worker.popen.pid
    children = wait_until(lambda: len(c := _children(supervisor)) == 2 and c, timeout_s=30)
    worker.popen.send_signal(signal.SIGTERM)
    assert worker.popen.wait(timeout=60) == 0
    assert not any(_alive(pid) for pid in children)
