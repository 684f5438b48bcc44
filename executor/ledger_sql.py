"""The ledger's statements, each built once per shape and run with bound values.

Building a SQLAlchemy statement, and computing the cache key that finds its
compiled form, cost more CPU than PostgreSQL spends running it: about a
millisecond a step in a worker whose step, all told, takes a few. So the
ledger's statements are built once per *shape* (which columns a transition
writes, which guard columns are NULL, which probes a claim reads), kept here,
and run with parameters: the compiled form is found by a cache key computed
once, and PostgreSQL (psycopg prepares a statement the fifth time it sees it)
plans it once.

Every statement is against the table, not the ORM class (ORM-enabled DML
takes the ORM's slower path). Bound names: ``w_<column>`` for what a guard
compares, ``v_<column>`` for what a statement writes, ``probe_tenant`` and
``probe_now`` for what probes read (:data:`PROBE_TENANT`, :data:`PROBE_NOW`).

On PostgreSQL (psycopg) a statement is then compiled once and run on the
pooled driver connection (:class:`DriverRunner`): SQLAlchemy's per-execution
machinery (execution context, result metadata from ``cursor.description``,
events) cost a worker as much CPU again as the rest of the ledger. What
SQLAlchemy would send is still what is sent: the same SQL, each value through
its column type's bind processor, each returned value through its result
processor; driver errors are raised as SQLAlchemy's (an ``IntegrityError``
for an unknown tenant, a ``DBAPIError`` with ``connection_invalidated`` for a
lost connection, which is dropped from the pool); and the engine's
``before_cursor_execute`` listeners still see every statement (with no
connection or context), so counting statements counts these. SQLite runs
through SQLAlchemy (:class:`EngineRunner`).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Hashable, Iterator, Mapping, MutableMapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, TypeVar, cast

from sqlalchemy import (
    BindParameter,
    ColumnElement,
    Delete,
    Engine,
    Insert,
    Select,
    String,
    Table,
    Update,
    and_,
    bindparam,
    delete,
    select,
    update,
)
from sqlalchemy.exc import DBAPIError
from sqlalchemy.sql.compiler import SQLCompiler

from store.models import WorkflowActionInvocation
from store.types import UtcDateTime

TABLE = cast(Table, WorkflowActionInvocation.__table__)
COLUMNS = tuple(TABLE.c)
_C = TABLE.c

PROBE_TENANT: BindParameter[str] = bindparam("probe_tenant", type_=String())
"""In a probe: the tenant of the step being claimed."""
PROBE_NOW: BindParameter[datetime] = bindparam("probe_now", type_=UtcDateTime())
"""In a probe: the time of the claim."""


@dataclass(frozen=True, eq=False)
class Probes:
    """Named SQL expressions a claim reads in the statement that takes the lease (the
    tenant's configuration version, whether its integration is available): no extra
    round trip for what every step needs to know.

    Written against :data:`PROBE_TENANT` and :data:`PROBE_NOW`, never a tenant's
    own values: the ledger builds a claim statement once per ``Probes`` (they
    compare by identity) and runs it for every step, so build one per kind of
    step and keep it.
    """

    columns: Mapping[str, ColumnElement[Any]] = field(default_factory=dict)

    def params(self, tenant: str, now: datetime) -> dict[str, Any]:
        """The bound values the probes read."""
        return {"probe_tenant": tenant, "probe_now": now} if self.columns else {}

    def read(self, row: Mapping[str, Any]) -> dict[str, Any]:
        """What the probes read, from a result row of a statement that returned them."""
        return {name: row[f"probe_{name}"] for name in self.columns}


NO_PROBES = Probes()

# Written by a claim that inserts its row; the lease part also by one that starts
# the QUEUED row with the same input.
START_COLUMNS = (
    "tenant",
    "invocation_id",
    "idempotency_key",
    "run_id",
    "step_path",
    "action_id",
    "action_version",
    "input_hash",
    "input_json",
    "created_at",
    "updated_at",
    "status",
    "attempt",
    "lease_owner",
    "lease_expires_at",
    "started_at",
    "history",
)
LEASE_COLUMNS = (
    "status",
    "attempt",
    "lease_owner",
    "lease_expires_at",
    "started_at",
    "updated_at",
    "history",
)
QUEUED_COLUMNS = (
    *START_COLUMNS[: START_COLUMNS.index("status") + 1],
    "attempt",
)

Guard = tuple[bool, bool, bool]
"""Which of a row's ``updated_at``, ``lease_owner``, ``lease_expires_at`` were NULL."""

_S = TypeVar("_S")


def values_of(values: Mapping[str, Any]) -> dict[str, Any]:
    """Bound values for what a statement writes."""
    return {f"v_{name}": value for name, value in values.items()}


def _returning(probes: Probes) -> tuple[ColumnElement[Any], ...]:
    return (*COLUMNS, *(expr.label(f"probe_{name}") for name, expr in probes.columns.items()))


def _set(names: Sequence[str], kept: Mapping[str, ColumnElement[Any]]) -> dict[str, Any]:
    """SET/VALUES: each of ``names`` to its bound value, each of ``kept`` to its expression."""
    return {name: bindparam(f"v_{name}") for name in names} | dict(kept)


class Statements:
    """One ledger's statements (its dialect's upsert), built on first use per shape."""

    def __init__(self, insert_fn: Callable[..., Insert]) -> None:
        self._insert_fn = insert_fn
        self._built: dict[Hashable, Any] = {}
        self._lock = threading.Lock()

    def _memo(self, key: Hashable, build: Callable[[], _S]) -> _S:
        stmt = self._built.get(key)
        if stmt is None:
            with self._lock:
                stmt = self._built.get(key)
                if stmt is None:
                    stmt = self._built[key] = build()
        return stmt

    def get(self) -> Select[Any]:
        """The row of (``w_tenant``, ``w_key``)."""
        return self._memo(
            "get",
            lambda: select(*COLUMNS).where(
                _C.tenant == bindparam("w_tenant"), _C.idempotency_key == bindparam("w_key")
            ),
        )

    def start(self, probes: Probes) -> Insert:
        """Insert a STARTED row, or start the QUEUED one with the same input and no
        history (an operator's retry keeps its history: it is taken by a guarded update)."""

        def build() -> Insert:
            insert: Any = self._insert_fn(TABLE).values(_set(START_COLUMNS, {}))
            stmt: Insert = insert.on_conflict_do_update(
                index_elements=["tenant", "idempotency_key"],
                set_={name: insert.excluded[name] for name in LEASE_COLUMNS},
                where=and_(
                    _C.status == "QUEUED",
                    _C.input_hash == insert.excluded.input_hash,
                    _C.history.is_(None),
                ),
            )
            return stmt.returning(*_returning(probes))

        return self._memo(("start", probes), build)

    def record_queued(self) -> Insert:
        """Insert a QUEUED row unless the key exists."""

        def build() -> Insert:
            insert: Any = self._insert_fn(TABLE).values(_set(QUEUED_COLUMNS, {}))
            stmt: Insert = insert.on_conflict_do_nothing(
                index_elements=["tenant", "idempotency_key"]
            )
            return stmt.returning(*COLUMNS)

        return self._memo("record_queued", build)

    def forget_queued(self) -> Delete:
        """Delete the row (``w_tenant``, ``w_invocation_id``) if still QUEUED."""
        return self._memo(
            "forget_queued",
            lambda: delete(TABLE).where(
                _C.tenant == bindparam("w_tenant"),
                _C.invocation_id == bindparam("w_invocation_id"),
                _C.status == "QUEUED",
            ),
        )

    def guarded(
        self,
        guard: Guard,
        names: Sequence[str],
        *,
        probes: Probes = NO_PROBES,
        kept: Mapping[str, ColumnElement[Any]] | None = None,
        returning: bool = True,
    ) -> Update:
        """Write ``names`` if the row is still exactly as read (see ``Ledger._guarded``).

        Compares ``w_tenant``, ``w_invocation_id``, ``w_status``, ``w_attempt`` and,
        by ``guard``, ``w_updated_at`` (or no condition), ``w_lease_owner`` and
        ``w_lease_expires_at`` (or IS NULL). ``kept``: columns set to an expression
        instead of a bound value.
        """
        kept = kept or {}
        key = ("guarded", guard, tuple(names), probes, tuple(kept.items()), returning)

        def build() -> Update:
            no_updated, no_owner, no_expiry = guard
            stmt = update(TABLE).where(
                _C.tenant == bindparam("w_tenant"),
                _C.invocation_id == bindparam("w_invocation_id"),
                _C.status == bindparam("w_status"),
                _C.attempt == bindparam("w_attempt"),
                _C.lease_owner.is_(None)
                if no_owner
                else _C.lease_owner == bindparam("w_lease_owner"),
                _C.lease_expires_at.is_(None)
                if no_expiry
                else _C.lease_expires_at == bindparam("w_lease_expires_at"),
            )
            if not no_updated:
                stmt = stmt.where(_C.updated_at == bindparam("w_updated_at"))
            stmt = stmt.values(_set(names, kept))
            return stmt.returning(*_returning(probes)) if returning else stmt

        return self._memo(key, build)

    def owned(
        self, names: Sequence[str], *, undispatched: bool = False, returning: bool = True
    ) -> Update:
        """Write ``names`` if the lease holder ``w_owner`` still holds the STARTED row
        (``w_tenant``, ``w_invocation_id``); ``undispatched``: and nothing was dispatched."""
        key = ("owned", tuple(names), undispatched, returning)

        def build() -> Update:
            stmt = update(TABLE).where(
                _C.tenant == bindparam("w_tenant"),
                _C.invocation_id == bindparam("w_invocation_id"),
                _C.status == "STARTED",
                _C.lease_owner == bindparam("w_owner"),
            )
            if undispatched:
                stmt = stmt.where(_C.dispatched_at.is_(None))
            stmt = stmt.values(_set(names, {}))
            return stmt.returning(*COLUMNS) if returning else stmt

        return self._memo(key, build)


# -- running them ---------------------------------------------------------------------------

Row = Mapping[Any, Any]
"""A result row by column name (a probe by its label, ``probe_<name>``)."""

Statement = Select[Any] | Insert | Update | Delete


class EngineRunner:
    """Runs statements through SQLAlchemy, one autocommit connection each."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine.execution_options(isolation_level="AUTOCOMMIT")

    def first(self, stmt: Statement, params: Mapping[str, Any]) -> Row | None:
        """The first row the statement returns, or None."""
        with self._engine.connect() as conn:
            row = conn.execute(stmt, params).first()
        return None if row is None else row._mapping

    def rowcount(self, stmt: Statement, params: Mapping[str, Any]) -> int:
        """How many rows the statement changed."""
        with self._engine.connect() as conn:
            return int(conn.execute(stmt, params).rowcount)


@dataclass(frozen=True)
class _Compiled:
    """A statement compiled for the driver: its SQL, and each value's conversion."""

    compiled: SQLCompiler
    sql: str
    binds: dict[str, Callable[[Any], Any]]
    names: tuple[str, ...]
    results: tuple[Callable[[Any], Any] | None, ...]


class DriverRunner:
    """Runs statements compiled once on the pooled psycopg connection, in autocommit.

    See the module doc for what it keeps of SQLAlchemy's behaviour.
    """

    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        self._dialect = engine.dialect
        self._compiled: dict[int, tuple[Statement, _Compiled]] = {}
        self._lock = threading.Lock()

    def _compile(self, stmt: Statement) -> _Compiled:
        found = self._compiled.get(id(stmt))
        if found is not None and found[0] is stmt:
            return found[1]
        dialect = self._dialect
        compiled = stmt.compile(dialect=dialect)
        assert isinstance(compiled, SQLCompiler)
        # Named parameters with plain names, nothing rendered per execution.
        if compiled.positional or compiled.escaped_bind_names or compiled.post_compile_params:
            raise ValueError("a ledger statement must bind plain named parameters")
        binds: dict[str, Callable[[Any], Any]] = {}
        for bind, name in compiled.bind_names.items():
            process = bind.type.dialect_impl(dialect).bind_processor(dialect)
            if process is not None:
                binds[name] = process
        names: list[str] = []
        results: list[Callable[[Any], Any] | None] = []
        returned = getattr(stmt, "exported_columns", ())
        for column in returned:
            names.append(column.name)
            results.append(column.type.dialect_impl(dialect).result_processor(dialect, None))
        prepared = _Compiled(compiled, compiled.string, binds, tuple(names), tuple(results))
        with self._lock:
            self._compiled[id(stmt)] = (stmt, prepared)
        return prepared

    def _params(self, prepared: _Compiled, params: Mapping[str, Any]) -> MutableMapping[str, Any]:
        values = prepared.compiled.construct_params(dict(params))
        for name, process in prepared.binds.items():
            values[name] = process(values[name])
        return values

    @contextmanager
    def _cursor(self, prepared: _Compiled, params: Mapping[str, Any]) -> Iterator[Any]:
        """A cursor that ran the statement; driver errors raised as SQLAlchemy's."""
        dbapi_error = self._dialect.loaded_dbapi.Error
        fairy = self._engine.raw_connection()
        conn: Any = fairy.driver_connection
        cursor = None
        try:
            conn.autocommit = True
            cursor = conn.cursor()
            listeners = self._engine.dispatch.before_cursor_execute
            if listeners:
                listeners(None, cursor, prepared.sql, params, None, False)
            cursor.execute(prepared.sql, params)
            yield cursor
        except dbapi_error as exc:
            lost = bool(self._dialect.is_disconnect(exc, conn, cursor))
            if lost:
                fairy.invalidate(exc)
            raise DBAPIError.instance(
                prepared.sql,
                None,
                exc,
                dbapi_error,
                hide_parameters=True,
                connection_invalidated=lost,
                dialect=self._dialect,
            ) from exc
        finally:
            if cursor is not None:
                cursor.close()
            if fairy.is_valid:
                try:  # back to what the pool's other users expect: transactions
                    conn.autocommit = False
                except dbapi_error as exc:
                    fairy.invalidate(exc)
            fairy.close()

    def first(self, stmt: Statement, params: Mapping[str, Any]) -> Row | None:
        """The first row the statement returns, or None."""
        prepared = self._compile(stmt)
        with self._cursor(prepared, self._params(prepared, params)) as cursor:
            row = cursor.fetchone()
        if row is None:
            return None
        return {
            name: value if process is None else process(value)
            for name, process, value in zip(prepared.names, prepared.results, row, strict=True)
        }

    def rowcount(self, stmt: Statement, params: Mapping[str, Any]) -> int:
        """How many rows the statement changed."""
        prepared = self._compile(stmt)
        with self._cursor(prepared, self._params(prepared, params)) as cursor:
            return int(cursor.rowcount)


def runner_for(engine: Engine) -> EngineRunner | DriverRunner:
    """The driver runner on PostgreSQL through psycopg; SQLAlchemy's otherwise."""
    if engine.dialect.name == "postgresql" and engine.dialect.driver == "psycopg":
        return DriverRunner(engine)
    return EngineRunner(engine)
