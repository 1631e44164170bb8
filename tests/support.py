"""What the tests share: the real Temporal dev server, worker and API processes as an operator
starts them, organizations with a key per role, and small API helpers. The fixtures that hand
these out are in conftest.py."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import tempfile
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import psycopg

from herald.access.models import Role
from herald.access.service import issue_api_key
from herald.database import Database
from herald.devserver import free_port, herald_command, start_dev_server, wait_for_port
from herald.organizations.service import create_organization
from herald.outbound import Outbound
from tests.recording import (  # noqa: F401 (an autouse fixture, registered by its import)
    RECORD_DIR,
    record_time_skipping_histories,
    save_dev_server_histories,
)

ROOT = Path(__file__).resolve().parent.parent

# The secret of every process the tests start, and of the tests' own process (conftest).
TEST_SECRET = "test-secret-key"

# Where the fakes of the outside world listen: allowed past the outbound guard in tests only.
FAKES_NETWORK = "127.0.0.1"
TO_FAKES = Outbound.allowing(FAKES_NETWORK)

PG_ADMIN_URL = os.environ.get(
    "HERALD_TEST_PG_ADMIN", "postgresql://postgres@127.0.0.1:5432/postgres"
)


def wait_until(
    predicate: Callable[[], Any], timeout_s: float = 30.0, interval_s: float = 0.1
) -> Any:
    deadline = time.monotonic() + timeout_s
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {timeout_s}s")
        time.sleep(interval_s)


@dataclass
class TemporalServer:
    port: int
    process: subprocess.Popen[bytes] | None = None
    # Where it keeps its state; None: in memory (lost when it stops).
    db_file: Path | None = None

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    def start(self) -> None:
        self.process = start_dev_server(port=self.port, ui_port=None, db_file=self.db_file)
        wait_for_port(self.port)

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(timeout=15)


@dataclass
class PostgresServer:
    """A PostgreSQL server of a test's own, which the test may crash and start again (the
    shared one serves every other test)."""

    port: int = field(default_factory=free_port)
    data_dir: Path = field(default_factory=lambda: Path(tempfile.mkdtemp(prefix="herald-pg-")))

    @property
    def url(self) -> str:
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/postgres"

    def init(self) -> None:
        if os.geteuid() == 0:  # PostgreSQL refuses to run as root: its own user owns the files
            shutil.chown(self.data_dir, "postgres", "postgres")
        self._run("initdb", "-D", str(self.data_dir), "-U", "postgres", "-A", "trust")

    def start(self) -> None:
        options = f"-p {self.port} -k {self.data_dir} -c listen_addresses=127.0.0.1"
        self._run(
            "pg_ctl", "start", "-w", "-D", str(self.data_dir), "-l", str(self._log), "-o", options
        )

    def crash(self) -> None:
        """Every server process stopped at once, with no checkpoint: recovery replays the WAL."""
        self._run("pg_ctl", "stop", "-m", "immediate", "-D", str(self.data_dir))

    def remove(self) -> None:
        if (self.data_dir / "postmaster.pid").exists():
            self._run("pg_ctl", "stop", "-m", "fast", "-D", str(self.data_dir))
        shutil.rmtree(self.data_dir, ignore_errors=True)

    @property
    def _log(self) -> Path:
        return self.data_dir / "server.log"

    def _run(self, program: str, *args: str) -> None:
        bindir = subprocess.run(
            ["pg_config", "--bindir"], check=True, capture_output=True, text=True
        ).stdout.strip()
        command = [str(Path(bindir) / program), *args]
        if os.geteuid() == 0:
            command = ["runuser", "-u", "postgres", "--", *command]
        subprocess.run(command, check=True, capture_output=True)


def create_pg_database() -> tuple[str, Callable[[], None]]:
    name = f"herald_test_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')

    def drop() -> None:
        with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    base = PG_ADMIN_URL.rsplit("/", 1)[0].replace("postgresql://", "postgresql+psycopg://")
    return f"{base}/{name}", drop


@dataclass
class Org:
    id: uuid.UUID
    slug: str
    keys: dict[Role, str] = field(default_factory=dict)

    def headers(self, role: Role = Role.owner) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.keys[role]}"}


def make_org(db: Database) -> Org:
    """A new brand with one key per staff role. Each test gets its own, so tests never collide."""
    with db.system_session() as session:
        org, owner = create_organization(session, f"Shop {uuid.uuid4().hex[:8]}")
        keys = {Role.owner: owner.secret}
        for role in (Role.manager, Role.cashier, Role.marketing, Role.sales):
            keys[role] = issue_api_key(session, org.id, role, name=role.value).secret
        session.commit()
    return Org(id=org.id, slug=org.slug, keys=keys)


@dataclass
class Process:
    """A Herald process (worker or API) started the way an operator starts it."""

    args: list[str]
    env: dict[str, str]
    log: Path
    popen: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        with open(self.log, "ab") as output:  # the child keeps its own copy of the descriptor
            self.popen = subprocess.Popen(
                self.args, env=self.env, cwd=ROOT, stdout=output, stderr=subprocess.STDOUT
            )

    def kill(self) -> None:
        """SIGKILL: no clean shutdown, as when a machine dies."""
        if self.popen and self.popen.poll() is None:
            self.popen.send_signal(signal.SIGKILL)
            self.popen.wait(timeout=10)

    def stop(self) -> None:
        if self.popen and self.popen.poll() is None:
            self.popen.terminate()
            try:
                self.popen.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.kill()


def herald_env(database_url: str, temporal_address: str, task_queue: str) -> dict[str, str]:
    return {
        **os.environ,
        "HERALD_DATABASE_URL": database_url,
        "HERALD_TEMPORAL_ADDRESS": temporal_address,
        "HERALD_TASK_QUEUE": task_queue,
        "HERALD_DISPATCH_INTERVAL_S": "0.3",
        "HERALD_LEGACY_RUN_CHECK_S": "0.2",
        "HERALD_SECRET_KEY": TEST_SECRET,
        # The fake providers and webhook receivers listen on this machine.
        "HERALD_OUTBOUND_ALLOW": FAKES_NETWORK,
        "PYTHONUNBUFFERED": "1",
    }


def worker_process(env: dict[str, str], log_dir: Path) -> Process:
    return Process(herald_command("worker"), env, log_dir / "worker.log")


def api_process(env: dict[str, str], log_dir: Path) -> tuple[Process, str]:
    port = free_port()
    env = {**env, "HERALD_API_PORT": str(port), "HERALD_API_ACCESS_LOG": "false"}
    return Process(herald_command("api"), env, log_dir / "api.log"), f"http://127.0.0.1:{port}"


@dataclass
class Stack:
    api: httpx.Client
    db: Database
    env: dict[str, str]
    worker: Process
    log_dir: Path


def create_customer(stack: Stack, org: Org, **fields: Any) -> dict[str, Any]:
    body = {"name": "Ada Lovelace", "emails": [f"{uuid.uuid4().hex[:10]}@example.com"], **fields}
    response = stack.api.post("/v1/customers", json=body, headers=org.headers())
    assert response.status_code == 201, response.text
    return response.json()  # type: ignore[no-any-return]


def order_paid(
    customer_id: str, order_id: str, amount: str = "10.00", currency: str = "EUR"
) -> dict[str, Any]:
    return {
        "type": "order.paid",
        "customer": {"id": customer_id},
        "properties": {"order_id": order_id, "amount": amount, "currency": currency},
    }


def points(stack: Stack, org: Org, customer_id: str) -> dict[str, Any]:
    response = stack.api.get(f"/v1/customers/{customer_id}/points", headers=org.headers())
    assert response.status_code == 200, response.text
    return response.json()  # type: ignore[no-any-return]


def wait_for_entries(
    stack: Stack, org: Org, customer_id: str, count: int, timeout_s: float = 30
) -> dict[str, Any]:
    return wait_until(  # type: ignore[no-any-return]
        lambda: (p := points(stack, org, customer_id)) and len(p["entries"]) >= count and p,
        timeout_s=timeout_s,
    )
