"""Fixtures that run Herald as a user would: a real Temporal dev server, the worker and the API
as processes, against SQLite and PostgreSQL. Only the outside world (SendGrid, Twilio) is faked.
The pieces they are built from are in tests/support.py."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Callable, Iterator

import httpx
import pytest

from herald.database import Database
from herald.devserver import free_port, wait_for_port
from herald.migrate import upgrade
from herald.secrets import SecretKeys, install
from herald.settings import Settings
from herald.temporal import connect
from tests.fakes import FakeProviders
from tests.recording import (  # noqa: F401 (an autouse fixture, registered by its import)
    RECORD_DIR,
    record_time_skipping_histories,
    save_dev_server_histories,
)
from tests.support import (
    TEST_SECRET,
    Org,
    Stack,
    TemporalServer,
    api_process,
    create_pg_database,
    herald_env,
    make_org,
    worker_process,
)


@pytest.fixture(scope="session", autouse=True)
def _secret_keys() -> None:
    """The tests' own process opens sealed credentials the way the API and worker do."""
    install(SecretKeys(TEST_SECRET))


@pytest.fixture(scope="session")
def temporal_server() -> Iterator[TemporalServer]:
    server = TemporalServer(port=free_port())
    server.start()
    yield server
    server.stop()


@pytest.fixture(scope="session", params=["sqlite", "postgresql"])
def database_url(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    """A freshly migrated database of each kind Herald supports."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path_factory.mktemp('sqlite') / 'herald.db'}"
        drop: Callable[[], None] = lambda: None  # noqa: E731
    else:
        url, drop = create_pg_database()
    upgrade(url)
    yield url
    drop()


@pytest.fixture(scope="session")
def db(database_url: str) -> Iterator[Database]:
    database = Database(database_url)
    yield database
    database.dispose()


@pytest.fixture
def org(db: Database) -> Org:
    return make_org(db)


@pytest.fixture
def other_org(db: Database) -> Org:
    return make_org(db)


@pytest.fixture(scope="session")
def stack(
    database_url: str,
    db: Database,
    temporal_server: TemporalServer,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[Stack]:
    """Worker and API processes on one database, sharing the session's Temporal server."""
    log_dir = tmp_path_factory.mktemp("logs")
    env = herald_env(database_url, temporal_server.address, f"herald-{uuid.uuid4().hex[:8]}")
    worker = worker_process(env, log_dir)
    worker.start()
    api, base_url = api_process(env, log_dir)
    api.start()
    wait_for_port(int(base_url.rsplit(":", 1)[1]))
    with httpx.Client(base_url=base_url, timeout=30) as client:
        yield Stack(api=client, db=db, env=env, worker=worker, log_dir=log_dir)
    if RECORD_DIR is not None:
        asyncio.run(_record_stack_histories(env))
    api.stop()
    worker.stop()


async def _record_stack_histories(env: dict[str, str]) -> None:
    client = await connect(
        Settings(temporal_address=env["HERALD_TEMPORAL_ADDRESS"], secret_key=TEST_SECRET)
    )
    await save_dev_server_histories(client, env["HERALD_TASK_QUEUE"])


@pytest.fixture
def fake_providers() -> Iterator[FakeProviders]:
    fake = FakeProviders()
    fake.start()
    yield fake
    fake.stop()


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Tests run on SQLite; those in modules marked ``dialects`` (their SQL differs between the
    two) run on PostgreSQL too."""
    kept, left_out = [], []
    for item in items:
        callspec = getattr(item, "callspec", None)
        on_postgresql = callspec is not None and callspec.params.get("database_url") == "postgresql"
        if on_postgresql and item.get_closest_marker("dialects") is None:
            left_out.append(item)
        else:
            kept.append(item)
    if left_out:
        config.hook.pytest_deselected(items=left_out)
        items[:] = kept
