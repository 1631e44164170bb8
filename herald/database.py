"""Engines and the per-process ``Database``: one engine and session factory, sessions opened per
unit of work (organization-scoped ones enforce tenancy, see ``herald.db``).

Apart from ``herald.db`` so that the model registry (every table, needed before the first
flush sorts tables by foreign key) is imported here, above the models, not by the module the
models themselves import.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine, event
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session, sessionmaker

import herald.models  # noqa: F401  (every mapped class, before the first flush)
from herald.db import ORG_KEY


def _configure_sqlite(engine: Engine) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Let SQLAlchemy issue BEGIN itself, so we can make it IMMEDIATE: the API and the worker
        # are separate processes writing one file; a deferred transaction that later upgrades to
        # a write lock fails with "database is locked" instead of waiting.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Any) -> None:
        conn.exec_driver_sql("BEGIN IMMEDIATE")


def make_engine(url: str) -> Engine:
    if url.startswith("sqlite"):
        path = url.split("///", 1)[-1]
        if path and path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(
            url, connect_args={"check_same_thread": False, "timeout": 30}, hide_parameters=True
        )
        _configure_sqlite(engine)
        return engine
    # hide_parameters: an error's SQL is logged without its values (emails, names).
    return create_engine(
        url, pool_size=10, max_overflow=20, pool_pre_ping=True, hide_parameters=True
    )


class Database:
    """One engine and session factory per process; sessions are opened per unit of work."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.engine = make_engine(url)
        self._sessions = sessionmaker(self.engine, expire_on_commit=False)

    @contextmanager
    def session(self, organization_id: uuid.UUID) -> Iterator[Session]:
        """A session that can only see and write rows of one organization."""
        with self._sessions() as session:
            session.info[ORG_KEY] = organization_id
            yield session

    @contextmanager
    def system_session(self) -> Iterator[Session]:
        """An unscoped session for cross-organization system work (key lookup, event sweeps)."""
        with self._sessions() as session:
            yield session

    def dispose(self) -> None:
        self.engine.dispose()
