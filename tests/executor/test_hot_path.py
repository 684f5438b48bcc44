"""The hot path: how many statements a step costs, and what it may remember between steps.

A step's claim reads the tenant's configuration version and its integration's
availability in the statement that takes the lease; the worker remembers the
tenant's connection row and secrets while that version stands. So a read-only
step is two round trips (claim, outcome) and a side-effectful one three (claim,
dispatched mark, outcome) — and a disconnect, a rotated key or a moved URL is
seen by the very next step, on both databases.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace

import pytest
from pydantic import SecretStr
from sqlalchemy import event, func, select, update

from executor.api import Executor
from executor.app import ExecutorRuntime
from executor.housekeeping import LedgerSweeper
from executor.pipeline import Pipeline, Reschedule
from executor.settings import Settings
from executor.tenant_cache import TenantConfigCache
from executor.wire import TaskRequest
from store import Store
from store.config_versions import config_version
from store.models import RmmIntegration, TenantConfigChange
from tests.executor.conftest import CANARY_KEY, TENANT, Harness, connect_widgets
from tests.executor.test_pipeline import finished, task
from tests.executor.widgets_integration import SECRET, widgets_catalog

GET = "widgets.widgets.get"
CREATE = "widgets.widgets.create"


@contextmanager
def statements(harness: Harness) -> Iterator[list[str]]:
    """Every SQL statement sent to the database in the block (first word and table)."""
    seen: list[str] = []

    def record(_conn: object, _cursor: object, statement: str, *_: object) -> None:
        seen.append(" ".join(statement.split()[:4]))

    event.listen(harness.store.engine, "before_cursor_execute", record)
    try:
        yield seen
    finally:
        event.remove(harness.store.engine, "before_cursor_execute", record)


def warm(pipeline: Pipeline, widget_id: str) -> None:
    """One step for the tenant, so what the worker remembers of it is loaded."""
    assert finished(pipeline.execute(get_task("warm", widget_id))).succeeded


def get_task(key: str, widget_id: str) -> TaskRequest:
    return task(key=key, action_id=GET, input={"widget_id": widget_id})


def created_widget(pipeline: Pipeline) -> str:
    done = finished(pipeline.execute(task(key="seed", action_id=CREATE)))
    assert done.row.output is not None
    return str(done.row.output["widget_id"])


def test_a_read_only_step_is_two_round_trips_and_a_side_effect_three(harness: Harness) -> None:
    pipeline = harness.pipeline()
    widget = created_widget(pipeline)
    warm(pipeline, widget)

    with statements(harness) as read:
        assert finished(pipeline.execute(get_task("read-1", widget))).succeeded
    with statements(harness) as write:
        assert finished(pipeline.execute(task(key="write-1", action_id=CREATE))).succeeded
    with statements(harness) as replay:
        assert finished(pipeline.execute(task(key="write-1", action_id=CREATE))).replayed

    # The claim (with the version and availability), the outcome.
    assert len(read) == 2, read
    # The claim, the dispatched mark (what makes OUTCOME_UNKNOWN honest), the outcome.
    assert len(write) == 3, write
    assert [s.split()[0] for s in write] == ["INSERT", "UPDATE", "UPDATE"]
    # A duplicate of a finished step reads it back and calls nothing.
    assert len(replay) == 2, replay
    assert harness.fake.count("GET") == 2


def test_a_re_check_reads_its_row_first_three_round_trips(harness: Harness) -> None:
    pipeline = harness.pipeline()
    job = task(key="job", action_id="widgets.jobs.run", input={"duration": 5, "check_every": 2})
    assert isinstance(pipeline.execute(job), Reschedule)
    harness.clock.advance(2)
    # The re-check comes back as a message the worker sent again (Celery's retries).
    with statements(harness) as recheck:
        assert isinstance(pipeline.execute(replace(job, redeliveries=1)), Reschedule)

    # Read the row, take it for the check, record the wait again.
    assert [s.split()[0] for s in recheck] == ["SELECT", "UPDATE", "UPDATE"], recheck
    harness.clock.advance(4)
    done = finished(pipeline.execute(replace(job, redeliveries=2)))
    assert done.row.status == "SUCCEEDED" and harness.fake.count("POST", "/v1/jobs") == 1


def test_a_disconnect_is_seen_by_the_next_step(harness: Harness) -> None:
    pipeline = harness.pipeline()
    widget = created_widget(pipeline)
    warm(pipeline, widget)
    with harness.store.sessions.begin() as session:
        session.execute(update(RmmIntegration).values(is_active=False))

    outcome = finished(pipeline.execute(get_task("after-disconnect", widget)))

    assert outcome.row.error is not None
    assert outcome.row.error["code"] == "INTEGRATION_INACTIVE"
    with harness.store.sessions.begin() as session:
        session.execute(update(RmmIntegration).values(is_active=True))
    assert finished(pipeline.execute(get_task("reconnected", widget))).succeeded


def test_a_rotated_secret_is_used_by_the_next_step(harness: Harness) -> None:
    pipeline = harness.pipeline()
    widget = created_widget(pipeline)
    warm(pipeline, widget)

    harness.store.secrets.set(TENANT, SECRET, SecretStr("wk-not-a-key-anymore"))
    refused = finished(pipeline.execute(get_task("rotated-wrong", widget)))
    assert refused.row.status == "FAILED"
    assert refused.row.error is not None and refused.row.error["vendor"]["status"] == 401

    assert harness.fake.requests[-1].headers["authorization"] == "Bearer wk-not-a-key-anymore"
    harness.store.secrets.set(TENANT, SECRET, SecretStr(CANARY_KEY))
    assert finished(pipeline.execute(get_task("rotated-back", widget))).succeeded
    assert harness.fake.requests[-1].headers["authorization"] == f"Bearer {CANARY_KEY}"


def test_a_moved_url_is_used_by_the_next_step(harness: Harness) -> None:
    pipeline = harness.pipeline()
    widget = created_widget(pipeline)
    warm(pipeline, widget)
    with harness.store.sessions.begin() as session:
        session.execute(update(RmmIntegration).values(instance_url="https://widgets-eu.test"))

    assert finished(pipeline.execute(get_task("moved", widget))).succeeded

    assert harness.fake.requests[-1].headers["host"] == "widgets-eu.test"


def test_each_worker_process_loads_a_tenant_once_per_version(harness: Harness) -> None:
    pipeline = harness.pipeline()
    widget = created_widget(pipeline)  # the first step loads the tenant's URL and key
    with statements(harness) as warm_steps:
        assert finished(pipeline.execute(get_task("warm", widget))).succeeded
    # Any change to the tenant's connections or secrets moves the version the claim
    # reads: the next step loads them again, once.
    harness.store.secrets.set(TENANT, "unrelated_secret", SecretStr("x"))
    with statements(harness) as after_change:
        assert finished(pipeline.execute(get_task("after-change", widget))).succeeded
    with statements(harness) as warm_again:
        assert finished(pipeline.execute(get_task("warm-again", widget))).succeeded
    assert len(warm_steps) == len(warm_again) == 2, (warm_steps, warm_again)
    assert len(after_change) == 4, after_change  # + the connection row and the key
    assert "rmm_integrations" in after_change[1] and "tenant_secrets" in after_change[2]


# -- the cache itself ----------------------------------------------------------------------


def test_a_view_holds_one_tenants_values_for_one_version() -> None:
    cache = TenantConfigCache()
    loads: list[str] = []

    def load(what: str) -> str:
        loads.append(what)
        return what

    acme = cache.view("acme", 7)
    assert acme.remember("url", lambda: load("acme-url")) == "acme-url"
    assert cache.view("acme", 7).remember("url", lambda: load("again")) == "acme-url"
    # Another tenant never sees it; a new version drops it.
    assert cache.view("globex", 7).remember("url", lambda: load("globex-url")) == "globex-url"
    assert cache.view("acme", 8).remember("url", lambda: load("acme-url-8")) == "acme-url-8"
    assert loads == ["acme-url", "globex-url", "acme-url-8"]
    view = cache.view("acme", 8)
    view.forget("url")
    assert view.remember("url", lambda: load("reloaded")) == "reloaded"


@pytest.mark.parametrize("size", [1, 3])
def test_the_cache_forgets_the_least_recently_used_tenants(size: int) -> None:
    cache = TenantConfigCache(max_tenants=size)
    for tenant in ("a", "b", "c", "d"):
        cache.view(tenant, 1).remember("k", lambda: "v")
    assert len(cache) == size
    calls: list[str] = []

    def load() -> str:
        calls.append("loaded")
        return "v"

    assert cache.view("d", 1).remember("k", load) == "v"
    assert calls == []  # the most recent one is kept
    cache.view("a", 1).remember("k", load)
    assert calls == ["loaded"]  # the oldest one was forgotten


def test_the_sweeper_prunes_superseded_changes_and_keeps_each_version(
    store: Store, settings: Settings
) -> None:
    connect_widgets(store, TENANT, CANARY_KEY)
    for value in ("a", "b", "c"):
        store.secrets.set(TENANT, "rotating", SecretStr(value))
    with store.engine.connect() as conn:
        version = conn.scalar(select(config_version(TENANT)))
        assert (conn.scalar(select(func.count()).select_from(TenantConfigChange)) or 0) > 1
    runtime = ExecutorRuntime(
        settings.model_copy(update={"broker_url": "memory://"}), widgets_catalog()
    )
    sweeper = LedgerSweeper(Executor(runtime))
    try:
        sweeper.sweep_once()
        with store.engine.connect() as conn:
            left = conn.execute(
                select(TenantConfigChange.tenant, TenantConfigChange.change_id)
            ).all()
        assert left == [(TENANT, version)]
    finally:
        sweeper.release()
        runtime.close()
