"""Rate limits every API process shares.

The strategies are the ``limits`` library's; the counters live in Herald's own database by
default (SQLite included), so a budget holds across API replicas without another service, or
in any storage ``limits`` supports when ``HERALD_RATE_LIMIT_STORAGE`` names one
(``redis://host:6379``, with the ``redis`` extra installed).
"""

from __future__ import annotations

import itertools
from datetime import datetime, timedelta
from typing import Any, cast

from limits import RateLimitItem, parse
from limits.storage import Storage, storage_from_string
from limits.strategies import FixedWindowRateLimiter
from sqlalchemy import Engine, String, Table, bindparam, case, delete, select, text
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Mapped, mapped_column

from herald.db import Base, utcnow
from herald.errors import TooManyRequests

# Expired counters are deleted after this many increments in a process.
SWEEP_EVERY = 1_000


class RateLimitCounter(Base):
    """One fixed window's count for one key (a budget and whom it is counted for)."""

    __tablename__ = "rate_limit_counters"

    key: Mapped[str] = mapped_column(String(300), primary_key=True)
    count: Mapped[int]
    expires_at: Mapped[datetime]


COUNTERS = cast(Table, RateLimitCounter.__table__)


class DatabaseCounters(Storage):
    """A ``limits`` storage on Herald's database: one upsert per hit."""

    STORAGE_SCHEME = None

    def __init__(self, engine: Engine) -> None:
        super().__init__()
        self._engine = engine
        self._hits = itertools.count(1)

    @property
    def base_exceptions(self) -> type[Exception] | tuple[type[Exception], ...]:
        return SQLAlchemyError

    def incr(self, key: str, expiry: int, amount: int = 1) -> int:
        table = COUNTERS
        now = utcnow()
        window_end = bindparam(
            "window_end", now + timedelta(seconds=expiry), type_=table.c.expires_at.type
        )
        insert = postgresql_insert if self._engine.dialect.name == "postgresql" else sqlite_insert
        alive = table.c.expires_at > now
        statement = (
            insert(table)
            .values(key=key, count=amount, expires_at=window_end)
            .on_conflict_do_update(
                index_elements=[table.c.key],
                set_={
                    "count": case((alive, table.c.count + amount), else_=amount),
                    "expires_at": case((alive, table.c.expires_at), else_=window_end),
                },
            )
            .returning(table.c.count)
        )
        with self._engine.begin() as conn:
            count = int(conn.execute(statement).scalar_one())
            if next(self._hits) % SWEEP_EVERY == 0:
                conn.execute(delete(table).where(table.c.expires_at <= now))
        return count

    def _row(self, key: str) -> Any:
        table = COUNTERS
        with self._engine.connect() as conn:
            return conn.execute(
                select(table.c.count, table.c.expires_at).where(
                    table.c.key == key, table.c.expires_at > utcnow()
                )
            ).first()

    def get(self, key: str) -> int:
        row = self._row(key)
        return int(row.count) if row else 0

    def get_expiry(self, key: str) -> float:
        row = self._row(key)
        return (row.expires_at if row else utcnow()).timestamp()

    def check(self) -> bool:
        with self._engine.connect() as conn:
            conn.execute(text("SELECT 1"))
        return True

    def reset(self) -> int | None:
        with self._engine.begin() as conn:
            return conn.execute(delete(COUNTERS)).rowcount

    def clear(self, key: str) -> None:
        with self._engine.begin() as conn:
            conn.execute(delete(COUNTERS).where(RateLimitCounter.key == key))


class RateLimits:
    """Spends budgets such as ``"20/minute"``, counted per name and identifiers."""

    def __init__(self, storage: Storage) -> None:
        self._limiter = FixedWindowRateLimiter(storage)

    @classmethod
    def of(cls, storage_uri: str, engine: Engine) -> RateLimits:
        if not storage_uri:
            return cls(DatabaseCounters(engine))
        storage = storage_from_string(storage_uri)
        if not isinstance(storage, Storage):
            raise ValueError(f"{storage_uri} names an asyncio storage; give a synchronous one")
        return cls(storage)

    def check(self, budget: str, name: str, *identifiers: str) -> None:
        """Refuse, without spending, once the budget is spent (what only failures spend)."""
        if not self._limiter.test(parse(budget), name, *identifiers):
            raise TooManyRequests(f"at most {budget.replace('/', ' per ')}; try again later")

    def spend(self, budget: str, name: str, *identifiers: str) -> None:
        item: RateLimitItem = parse(budget)
        if not self._limiter.hit(item, name, *identifiers):
            raise TooManyRequests(f"at most {budget.replace('/', ' per ')}; try again later")
