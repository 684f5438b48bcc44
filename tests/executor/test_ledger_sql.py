"""The ledger's prepared statements, and the driver runner that runs them on PostgreSQL.

``DriverRunner`` must be indistinguishable from running the same statement
through SQLAlchemy: the same rows stored and returned, SQLAlchemy's errors
(an ``IntegrityError``, a lost connection marked invalidated and dropped from
the pool), its engine's statement listeners, and a pooled connection handed
back as the pool's other users expect it (transactional).
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import replace
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import Engine, create_engine, event, func, select, text
from sqlalchemy.exc import DBAPIError, IntegrityError

from executor import history
from executor.ledger import Ledger, Run
from executor.ledger_sql import (
    NO_PROBES,
    PROBE_NOW,
    PROBE_TENANT,
    DriverRunner,
    EngineRunner,
    Probes,
    Statements,
    runner_for,
    values_of,
)
from store import Store
from store.config_versions import config_version
from store.db import insert_for
from store.models import Tenant, WorkflowActionInvocation
from store.tenants import create_tenant
from store.types import utcnow
from tests.conftest import POSTGRES_URL
from tests.executor.conftest import TENANT, claim_request

CANARY_INPUT = "canary-input-7c1e0d"


@pytest.fixture
def engine(store: Store) -> Engine:
    with store.sessions.begin() as session:
        create_tenant(session, TENANT)
    return store.engine


@pytest.fixture
def postgres(engine: Engine) -> Engine:
    if engine.dialect.name != "postgresql":
        pytest.skip("the driver runner is PostgreSQL's")
    return engine


def start_params(key: str, tenant: str = TENANT) -> dict[str, Any]:
    now = utcnow()
    return values_of(
        {
            "tenant": tenant,
            "invocation_id": uuid.uuid4(),
            "idempotency_key": key,
            "run_id": None,
            "step_path": "root.steps[0]",
            "action_id": "widgets.widgets.create",
            "action_version": 1,
            "input_hash": "h" * 64,
            "input_json": {"name": CANARY_INPUT, "color": None},
            "created_at": now,
            "updated_at": now,
            "status": "STARTED",
            "attempt": 1,
            "lease_owner": "me",
            "lease_expires_at": now + timedelta(seconds=30),
            "started_at": now,
            "history": history.begin((), attempt=1, phase="start", worker="me", at=now),
        }
    ) | {"probe_tenant": tenant, "probe_now": now}


def test_a_statement_is_built_once_per_shape() -> None:
    statements = Statements(insert_for(create_engine("sqlite://")))
    probes = Probes({"v": config_version(PROBE_TENANT)})
    assert statements.start(probes) is statements.start(probes)
    assert statements.start(probes) is not statements.start(Probes(dict(probes.columns)))
    assert statements.owned(("status", "updated_at")) is statements.owned(("status", "updated_at"))
    assert statements.owned(("status",)) is not statements.owned(("status", "updated_at"))
    guard = (False, False, False)
    assert statements.guarded(guard, ("status",)) is statements.guarded(guard, ("status",))
    assert statements.guarded(guard, ("status",)) is not statements.guarded(
        (False, True, True), ("status",)
    )


def test_probes_read_what_their_parameters_say(engine: Engine, store: Store) -> None:
    """A claim's probes are parameterised by the step's tenant and the claim's time."""
    with store.sessions.begin() as session:
        create_tenant(session, "other")
    ledger = Ledger(engine, lease_seconds=30)
    probes = Probes(
        {"tenant": PROBE_TENANT, "now": PROBE_NOW, "version": config_version(PROBE_TENANT)}
    )
    for tenant in (TENANT, "other"):
        req = replace(claim_request(f"probe-{tenant}"), tenant_id=tenant)
        claim = ledger.claim(req, "me", probes)
        assert isinstance(claim, Run)
        assert claim.probes["tenant"] == tenant
        assert claim.probes["now"] == claim.row.started_at
        assert claim.probes["version"] is None  # no configuration change yet


def test_the_driver_runner_stores_and_returns_what_sqlalchemy_does(postgres: Engine) -> None:
    statements = Statements(insert_for(postgres))
    probes = Probes({"version": config_version(PROBE_TENANT)})
    driver, engine_runner = DriverRunner(postgres), EngineRunner(postgres)
    assert isinstance(runner_for(postgres), DriverRunner)
    returned = {}
    for name, runner in (("driver", driver), ("engine", engine_runner)):
        params = start_params(f"same-{name}")
        row = runner.first(statements.start(probes), params)
        assert row is not None
        where = {
            "w_tenant": TENANT,
            "w_invocation_id": row["invocation_id"],
            "w_owner": "me",
        }
        done_at = utcnow()
        changed = runner.rowcount(
            statements.owned(("dispatched_at", "updated_at"), undispatched=True, returning=False),
            where | values_of({"dispatched_at": done_at, "updated_at": done_at}),
        )
        assert changed == 1
        names = ("status", "output_json", "error_json", "wait_state", "lease_owner", "updated_at")
        final = runner.first(
            statements.owned(names),
            where
            | values_of(
                {
                    "status": "SUCCEEDED",
                    "output_json": {"id": "w_1"},
                    "error_json": None,
                    "wait_state": None,
                    "lease_owner": None,
                    "updated_at": done_at,
                }
            ),
        )
        assert final is not None
        returned[name] = (dict(row), dict(final))
    volatile = {"invocation_id", "idempotency_key", "created_at", "updated_at", "started_at"}
    volatile |= {"lease_expires_at", "dispatched_at", "history"}

    def stable(row: dict[str, Any]) -> dict[str, Any]:
        return {k: v for k, v in row.items() if k not in volatile}

    assert stable(returned["driver"][0]) == stable(returned["engine"][0])
    assert stable(returned["driver"][1]) == stable(returned["engine"][1])
    assert returned["driver"][0]["probe_version"] is None
    assert returned["driver"][1]["created_at"].tzinfo is not None
    # Stored alike, down to how a JSON null is written.
    with postgres.connect() as conn:
        stored = conn.execute(
            text(
                "SELECT idempotency_key, jsonb_typeof(error_json), jsonb_typeof(output_json),"
                " history IS NULL, input_json->>'name' FROM workflow_action_invocations"
                " ORDER BY idempotency_key"
            )
        ).all()
    assert [tuple(r[1:]) for r in stored] == [("null", "object", False, CANARY_INPUT)] * 2


def test_an_unknown_tenant_is_an_integrity_error_without_the_values(engine: Engine) -> None:
    """The pipeline turns it into a VALIDATION_ERROR; the values stay out of the message."""
    statements = Statements(insert_for(engine))
    runner = runner_for(engine)
    with pytest.raises(IntegrityError) as caught:
        runner.first(statements.start(NO_PROBES), start_params("nobody", tenant="no-such-tenant"))
    if engine.dialect.name == "postgresql":
        assert CANARY_INPUT not in str(caught.value)
    # The connection is still good for the next statement.
    assert runner.first(statements.start(NO_PROBES), start_params("somebody")) is not None


def test_statement_listeners_see_every_ledger_statement(engine: Engine) -> None:
    seen: list[str] = []

    def record(_conn: object, _cursor: object, statement: str, *_: object) -> None:
        seen.append(statement.split()[0])

    ledger = Ledger(engine, lease_seconds=30)
    event.listen(engine, "before_cursor_execute", record)
    try:
        claim = ledger.claim(claim_request("listened"), "me")
        assert isinstance(claim, Run)
        assert ledger.mark_dispatched(claim.row, "me")
        assert ledger.succeed(claim.row, "me", {"ok": True}) is not None
    finally:
        event.remove(engine, "before_cursor_execute", record)
    assert seen == ["INSERT", "UPDATE", "UPDATE"]


def test_a_pooled_connection_goes_back_transactional(postgres: Engine, store: Store) -> None:
    """The runner switches a connection to autocommit for one statement, and back."""
    ledger = Ledger(postgres, lease_seconds=30)
    for i in range(3):
        assert isinstance(ledger.claim(claim_request(f"auto-{i}"), "me"), Run)
    with pytest.raises(IntegrityError):
        ledger.claim(replace(claim_request("bad"), tenant_id="no-such-tenant"), "me")
    # Every connection the pool holds now: a rolled-back session leaves nothing.
    for _ in range(max(1, postgres.pool.checkedin())):  # type: ignore[attr-defined]
        with store.sessions() as session:
            create_tenant(session, f"rolled-back-{uuid.uuid4().hex[:6]}")
            session.flush()
            session.rollback()
    with store.sessions() as session:
        assert session.scalar(select(func.count()).where(Tenant.tenant.like("rolled-back-%"))) == 0


@pytest.fixture
def admin() -> Iterator[Engine]:
    engine = create_engine(POSTGRES_URL, isolation_level="AUTOCOMMIT")
    try:
        yield engine
    finally:
        engine.dispose()


def test_a_lost_connection_is_invalidated_and_the_next_statement_reconnects(
    postgres: Engine, admin: Engine
) -> None:
    """What ``executor.app`` retries on: a ``DBAPIError`` marked ``connection_invalidated``."""
    ledger = Ledger(postgres, lease_seconds=30)
    claim = ledger.claim(claim_request("before"), "me")
    assert isinstance(claim, Run)
    # One pooled connection so far (one thread, one statement at a time): kill it.
    fairy = postgres.raw_connection()
    try:
        cursor = fairy.cursor()
        cursor.execute("SELECT pg_backend_pid()")
        (pid,) = cursor.fetchone() or (None,)
        cursor.close()
    finally:
        fairy.close()
    with admin.connect() as conn:
        assert conn.scalar(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})
    with pytest.raises(DBAPIError) as caught:
        ledger.mark_dispatched(claim.row, "me")
    assert caught.value.connection_invalidated
    # The dead connection left the pool; the retry works.
    assert ledger.mark_dispatched(claim.row, "me")
    done = ledger.succeed(claim.row, "me", {"ok": True})
    assert done is not None and done.status == "SUCCEEDED"
    with postgres.connect() as conn:
        stored = conn.scalar(
            select(WorkflowActionInvocation.status).where(
                WorkflowActionInvocation.idempotency_key == "before"
            )
        )
    assert stored == "SUCCEEDED"
