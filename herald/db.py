"""Database access: the declarative base, column types, and organization-scoped sessions.

Tenancy is enforced here, not in routes: a session opened for an organization adds
``organization_id = :org`` to every ORM select, update and delete on tenant-owned tables and
refuses to flush rows that belong to another organization.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Collection, Sequence
from datetime import UTC, date, datetime
from typing import Any, ClassVar

import psycopg
from psycopg.types.json import Jsonb
from sqlalchemy import (
    JSON,
    Boolean,
    ColumnElement,
    Date,
    DateTime,
    Dialect,
    ForeignKey,
    MetaData,
    String,
    Uuid,
    and_,
    any_,
    bindparam,
    event,
    false,
    insert,
    inspect,
    or_,
    text,
    true,
)
from sqlalchemy.dialects.postgresql import ARRAY, JSONB
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.orm import (
    DeclarativeBase,
    InstrumentedAttribute,
    Mapped,
    ORMExecuteState,
    Session,
    declared_attr,
    mapped_column,
    with_loader_criteria,
)
from sqlalchemy.sql.functions import FunctionElement
from sqlalchemy.types import TypeDecorator

from herald.errors import Conflict

# Stable constraint names, so Alembic migrations look the same on SQLite and PostgreSQL.
NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

JSONType = JSON().with_variant(JSONB(), "postgresql")


def utcnow() -> datetime:
    return datetime.now(UTC)


def start_of_day(day: date) -> datetime:
    """Midnight UTC at the start of ``day``."""
    return datetime(day.year, day.month, day.day, tzinfo=UTC)


class UTCDateTime(TypeDecorator[datetime]):
    """A timestamp that is always timezone-aware UTC, also on SQLite (which stores naive text)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime stored; use timezone-aware UTC")
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map: ClassVar[dict[Any, Any]] = {
        datetime: UTCDateTime,
        dict[str, Any]: JSONType,
        uuid.UUID: Uuid,
    }


class TenantScoped:
    """Mixin for every row that belongs to one organization."""

    @declared_attr
    def organization_id(cls) -> Mapped[uuid.UUID]:
        return mapped_column(
            ForeignKey("organizations.id", ondelete="CASCADE"), index=True, nullable=False
        )


ORG_KEY = "organization_id"


@event.listens_for(Session, "do_orm_execute")
def _scope_statements_to_organization(state: ORMExecuteState) -> None:
    org_id = state.session.info.get(ORG_KEY)
    if org_id is None:
        return
    if state.is_select or state.is_update or state.is_delete:
        state.statement = state.statement.options(
            with_loader_criteria(
                TenantScoped,
                lambda cls: cls.organization_id == org_id,
                include_aliases=True,
            )
        )


@event.listens_for(Session, "before_flush")
def _stamp_and_check_organization(session: Session, flush_context: Any, instances: Any) -> None:
    org_id = session.info.get(ORG_KEY)
    if org_id is None:
        return
    for obj in list(session.new) + list(session.dirty):
        if not isinstance(obj, TenantScoped):
            continue
        if obj.organization_id is None:
            obj.organization_id = org_id
        elif obj.organization_id != org_id:
            raise PermissionError("row of another organization in a scoped session")


def session_organization(session: Session) -> uuid.UUID:
    org_id = session.info.get(ORG_KEY)
    if org_id is None:
        raise RuntimeError("this operation needs an organization-scoped session")
    return org_id


def distinct_values(session: Session, column: Any, *, limit: int) -> list[str]:
    """The organization's distinct values of ``column`` (indexed by organization, then that
    column), first ``limit`` in order: one index probe per value (a loose index scan written
    as a recursive query), not a read of every row as DISTINCT would make on PostgreSQL."""
    table, name = column.table.name, column.name
    rows = session.execute(
        text(
            f"""
            WITH RECURSIVE found(value, n) AS (
                SELECT min({name}), 1 FROM {table} WHERE organization_id = :org
              UNION ALL
                SELECT (SELECT min({name}) FROM {table}
                        WHERE organization_id = :org AND {name} > found.value), n + 1
                FROM found WHERE found.value IS NOT NULL AND n < :limit
            )
            SELECT value FROM found WHERE value IS NOT NULL
            """
        ).bindparams(bindparam("org", type_=Uuid())),
        {"org": session_organization(session), "limit": limit},
    )
    return [row[0] for row in rows]


def read_snapshot(session: Session) -> None:
    """Make the session's next transaction read one consistent snapshot.

    Call before the first query. PostgreSQL's default (read committed) lets two reads of one
    request see different commits, e.g. a balance older than the ledger listed beside it.
    SQLite transactions are serialized already.
    """
    if session.in_transaction():
        raise RuntimeError("read_snapshot must come before the session's first query")
    if session.get_bind().dialect.name == "postgresql":
        session.connection(execution_options={"isolation_level": "REPEATABLE READ"})


def commit_or_conflict(session: Session, detail: str, field: str | None = None) -> None:
    """Commit; a unique constraint the commit runs into (a duplicate key, or a concurrent
    insert that won the race) is a 409 saying ``detail``, and nothing is written."""
    try:
        session.commit()
    except IntegrityError as exc:
        session.rollback()
        raise Conflict(detail, field=field) from exc


def insert_if_absent(
    session: Session,
    model: type[Base],
    values: dict[str, Any] | list[dict[str, Any]],
    unique: list[str],
) -> None:
    """INSERT ... ON CONFLICT DO NOTHING on the unique columns, in either dialect: the rows
    exist afterwards, whoever wrote them."""
    insert = pg_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert
    session.execute(insert(model).values(values).on_conflict_do_nothing(index_elements=unique))


class shifted(FunctionElement[datetime]):
    """``timestamp + seconds`` (whole seconds, either sign) in SQL, per row, in either dialect
    (a window that starts at each row's own time, such as an attribution window after a
    message was sent)."""

    type = UTCDateTime()
    inherit_cache = True


@compiles(shifted, "postgresql")
def _shifted_postgresql(element: shifted, compiler: Any, **kw: Any) -> str:
    moment, seconds = list(element.clauses)
    return f"({compiler.process(moment, **kw)} + make_interval(secs => {compiler.process(seconds, **kw)}))"


@compiles(shifted, "sqlite")
def _shifted_sqlite(element: shifted, compiler: Any, **kw: Any) -> str:
    # SQLite keeps timestamps as ISO text; strftime gives the same shape, so they compare.
    moment, seconds = list(element.clauses)
    return (
        f"strftime('%Y-%m-%d %H:%M:%f', {compiler.process(moment, **kw)}, "
        f"printf('%+d seconds', {compiler.process(seconds, **kw)}))"
    )


class period_start(FunctionElement[date]):
    """The first day of the UTC day, week (Monday) or month a timestamp falls in, in either
    dialect: ``period_start(column, "month")``. The unit is a word of Herald's, never input."""

    type = Date()
    inherit_cache = False  # the unit is part of the SQL: statements are not cached by shape

    def __init__(self, moment: Any, unit: str) -> None:
        if unit not in ("day", "week", "month"):
            raise ValueError(f"no such period: {unit}")
        self.unit = unit
        super().__init__(moment)


@compiles(period_start, "postgresql")
def _period_start_postgresql(element: period_start, compiler: Any, **kw: Any) -> str:
    (moment,) = list(element.clauses)
    utc = f"({compiler.process(moment, **kw)} AT TIME ZONE 'UTC')"
    return f"CAST(date_trunc('{element.unit}', {utc}) AS DATE)"


@compiles(period_start, "sqlite")
def _period_start_sqlite(element: period_start, compiler: Any, **kw: Any) -> str:
    (moment,) = list(element.clauses)
    shift = {"day": "", "week": ", 'weekday 0', '-6 days'", "month": ", 'start of month'"}
    return f"date({compiler.process(moment, **kw)}{shift[element.unit]})"


class joined_text(FunctionElement[str]):
    """The values of a text column over a group, joined by ", " in their order, in either
    dialect (an aggregate: ``select(joined_text(Tag.tag)).where(...)``)."""

    type = String()
    inherit_cache = True


@compiles(joined_text, "postgresql")
def _joined_text_postgresql(element: joined_text, compiler: Any, **kw: Any) -> str:
    (column,) = list(element.clauses)
    value = compiler.process(column, **kw)
    return f"string_agg({value}, ', ' ORDER BY {value})"


@compiles(joined_text, "sqlite")
def _joined_text_sqlite(element: joined_text, compiler: Any, **kw: Any) -> str:
    # SQLite joins in the order rows are read: an index on the column gives its order.
    (column,) = list(element.clauses)
    return f"group_concat({compiler.process(column, **kw)}, ', ')"


class _parenthesized(FunctionElement[bool]):
    """A condition in parentheses that SQLAlchemy keeps (it flattens ``(a OR b) OR c``)."""

    type = Boolean()
    inherit_cache = True


@compiles(_parenthesized)
def _parenthesized_sql(element: _parenthesized, compiler: Any, **kw: Any) -> str:
    (inner,) = list(element.clauses)
    return f"({compiler.process(inner, **kw)})"


# SQLite parses ``a OR b OR c ...`` into a chain as deep as the list is long and refuses one
# deeper than 1,000; a rule of 2,000 conditions is valid. Longer lists are split in halves,
# each in parentheses, so the depth grows with the logarithm of the length instead.
_FLAT_CONDITIONS = 32


def _balanced(
    combine: Callable[..., ColumnElement[bool]], conditions: Sequence[ColumnElement[bool]]
) -> ColumnElement[bool]:
    if len(conditions) <= _FLAT_CONDITIONS:
        return combine(*conditions)
    half = len(conditions) // 2
    return combine(
        _parenthesized(_balanced(combine, conditions[:half])),
        _parenthesized(_balanced(combine, conditions[half:])),
    )


def all_true(conditions: Sequence[ColumnElement[bool]]) -> ColumnElement[bool]:
    """Every condition holds (``TRUE`` for none), however many there are, in either dialect."""
    return _balanced(and_, [true(), *conditions])


def any_true(conditions: Sequence[ColumnElement[bool]]) -> ColumnElement[bool]:
    """At least one condition holds (``FALSE`` for none), however many, in either dialect."""
    return _balanced(or_, [false(), *conditions])


def analyze(session: Session, model: type[Base], *, sqlite: bool = False) -> None:
    """Refresh the planner's statistics of a table that just grew by many rows, so the next
    queries are planned for its real size. PostgreSQL always; SQLite when asked (``sqlite``):
    it plans most queries well without statistics, but not joins where each table has an
    index on the organization and one on the customer (it may pick the first and read the
    organization's rows once per customer). SQLite samples a bounded number of rows."""
    dialect = session.get_bind().dialect.name
    if dialect == "postgresql":
        session.execute(text(f"ANALYZE {model.__tablename__}"))
    elif sqlite and dialect == "sqlite":
        session.execute(text("PRAGMA analysis_limit = 1000"))
        session.execute(text(f"ANALYZE {model.__tablename__}"))


def one_of(
    session: Session, column: InstrumentedAttribute[Any], values: Collection[Any]
) -> ColumnElement[bool]:
    """``column IN values``; on PostgreSQL ``column = ANY(array)``: one parameter instead of
    one per value, so a batch's look-up of a thousand ids is not a statement of a thousand
    parameters for SQLAlchemy to render and psycopg to parse (three times slower)."""
    if session.get_bind().dialect.name == "postgresql":
        return column == any_(bindparam(None, list(values), type_=ARRAY(column.type)))
    return column.in_(values)


def insert_rows(
    session: Session, model: type[Base], objects: Sequence[Base] | Sequence[dict[str, Any]]
) -> None:
    """New rows of ``model`` (objects never added to the session, or dicts of column values),
    written in its transaction: COPY on PostgreSQL (the fastest bulk write: no statement to
    build or parse, half the time of a multi-row INSERT), one multi-row INSERT elsewhere.
    Either way the unit of work, which would cascade, track and flush each object, is left out.
    A value not given takes the column's Python-side default, as a flush would give it; values
    go through the columns' own bind processing; a duplicate key is an IntegrityError."""
    if not objects:
        return
    keys = [(attribute.key, attribute.columns[0]) for attribute in inspect(model).column_attrs]
    values = _row_values(keys)
    bind = session.connection()
    if bind.dialect.name != "postgresql":
        rows = [dict(zip([key for key, _ in keys], values(obj), strict=True)) for obj in objects]
        session.execute(insert(model), rows)
        return
    processors = [_copy_processor(column, bind.dialect) for _, column in keys]
    names = ", ".join(f'"{column.name}"' for _, column in keys)
    raw = bind.connection.dbapi_connection
    assert isinstance(raw, psycopg.Connection)
    statement = f'COPY "{model.__tablename__}" ({names}) FROM STDIN'
    try:
        with raw.cursor() as cursor, cursor.copy(statement) as copy:
            for obj in objects:
                copy.write_row(
                    [process(v) for process, v in zip(processors, values(obj), strict=True)]
                )
    except psycopg.errors.IntegrityError as exc:
        raise IntegrityError(statement, None, exc) from exc


def _row_values(
    keys: Sequence[tuple[str, ColumnElement[Any]]],
) -> Callable[[Base | dict[str, Any]], list[Any]]:
    """Reads a row's values in column order; a value not set takes the column's default."""
    defaults: list[Any] = [getattr(column, "default", None) for _, column in keys]

    def default_of(default: Any) -> Any:
        if default is None or default.is_sequence or default.is_clause_element:
            return None
        return default.arg(None) if default.is_callable else default.arg

    def values(obj: Base | dict[str, Any]) -> list[Any]:
        given = obj if isinstance(obj, dict) else obj.__dict__
        return [
            given[key] if key in given else default_of(default)
            for (key, _), default in zip(keys, defaults, strict=True)
        ]

    return values


def _copy_processor(column: ColumnElement[Any], dialect: Dialect) -> Callable[[Any], Any]:
    """A value as COPY takes it: the column's own bind processing, JSON as jsonb."""
    if isinstance(column.type.dialect_impl(dialect), JSON):
        return lambda value: None if value is None else Jsonb(value)
    return column.type.bind_processor(dialect) or (lambda value: value)
