"""Task ids on the wire carry the tenant: ``<tenant_id>/<key>``, and a foreign id is refused."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from actionkit.errors import ValidationFailed
from executor.api import Executor
from executor.app import ExecutorRuntime
from executor.embedded import EmbeddedWorker
from executor.settings import Settings
from executor.wire import MalformedTaskId, parse_task_id, refusal, task_id_for
from sandbox.core import Fault
from sandbox.widgets import FakeWidgets
from store import Store
from tests.executor.conftest import CANARY_KEY, OTHER_KEY, OTHER_TENANT, TENANT, connect_widgets
from tests.executor.widgets_integration import PROVIDER, widgets_catalog

CREATE = "widgets.widgets.create"
TENANT_IDS = st.from_regex(r"[A-Za-z0-9][A-Za-z0-9_-]{0,63}", fullmatch=True)
KEYS = st.text(
    st.characters(codec="utf-8", exclude_characters=[*map(chr, range(32)), "\x7f"]),
    min_size=1,
    max_size=512,
)


@given(TENANT_IDS, KEYS)
def test_a_task_id_parses_back_to_its_tenant_and_key(tenant_id: str, key: str) -> None:
    assert parse_task_id(task_id_for(tenant_id, key)) == (tenant_id, key)


def test_the_tenant_ends_at_the_first_slash_and_the_key_keeps_the_rest() -> None:
    task_id = task_id_for("acme", "run-1:root/steps[0]:a.b@1")
    assert task_id == "acme/run-1:root/steps[0]:a.b@1"
    assert parse_task_id(task_id) == ("acme", "run-1:root/steps[0]:a.b@1")


@pytest.mark.parametrize(
    "task_id",
    [
        "run-1:root.steps[0]:a.b@1",  # the bare key: no tenant prefix
        "/key",
        "-acme/key",
        "ac me/key",
        "acme/",
        "acme/" + "k" * 513,
        "acme/line\nbreak",
        "acme/trailing-newline\n",
        "acme/tab\tkey",
        "acme/del\x7f",
    ],
)
def test_a_malformed_task_id_does_not_parse(task_id: str) -> None:
    with pytest.raises(MalformedTaskId):
        parse_task_id(task_id)


@pytest.mark.parametrize(
    ("tenant_id", "key"), [("a/b", "k"), ("", "k"), ("acme", ""), ("acme", "k\n")]
)
def test_no_task_id_is_made_of_a_malformed_tenant_or_key(tenant_id: str, key: str) -> None:
    with pytest.raises(MalformedTaskId):
        task_id_for(tenant_id, key)


def test_a_task_runs_only_under_its_own_tenants_id() -> None:
    assert refusal("acme/k", {"tenant_id": "acme", "input": {}}) is None
    foreign = refusal("acme/k", {"tenant_id": "globex", "input": {"secret": "s3"}})
    assert foreign is not None
    assert "'acme'" in foreign and "'globex'" in foreign and "s3" not in foreign
    assert refusal("k", {"tenant_id": "acme"}) == (
        "the task id has no tenant prefix (<tenant_id>/<key>)"
    )
    assert refusal("acme/k", {}) is not None  # no tenant_id at all
    assert refusal("acme/k", ["acme"]) is not None  # kwargs that are not a mapping
    assert refusal(None, {"tenant_id": "acme"}) is not None


# -- through a real Celery consumer in this process (memory:// broker) ----------------


@pytest.fixture
def fake() -> FakeWidgets:
    return FakeWidgets({CANARY_KEY: "acct-acme", OTHER_KEY: "acct-globex"})


@pytest.fixture
def executor(store: Store, settings: Settings, fake: FakeWidgets) -> Iterator[Executor]:
    connect_widgets(store, TENANT, CANARY_KEY)
    connect_widgets(store, OTHER_TENANT, OTHER_KEY)
    runtime = ExecutorRuntime(
        settings.model_copy(update={"broker_url": "memory://"}),
        widgets_catalog(),
        transports={PROVIDER: fake.transport()},
    )
    with runtime.app.connection_for_write() as conn:
        # memory:// queues are process-wide: drop what an earlier test left behind.
        channel: Any = conn.default_channel
        for queue in ("patchbay.widgets", "patchbay.core"):
            channel.queue_purge(queue)
    worker = EmbeddedWorker(runtime.app, concurrency=1).start()
    try:
        yield Executor(runtime)
    finally:
        worker.stop()
        runtime.close()


def send(executor: Executor, task_id: str, tenant_id: str, name: str) -> None:
    """A plain Celery message, as an engine sends it."""
    executor.runtime.app.send_task(
        "patchbay.run.widgets",
        kwargs={
            "action_id": CREATE,
            "version": 1,
            "tenant_id": tenant_id,
            "input": {"name": name},
            "run_id": None,
            "step_path": None,
        },
        task_id=task_id,
        queue="patchbay.widgets",
    )


def stored(executor: Executor, task_id: str) -> dict[str, Any]:
    """What the result backend holds under ``task_id`` now (not Celery's cached copy).

    A failure's exception as its repr: exceptions do not compare equal.
    """
    meta = executor.runtime.app.backend.get_task_meta(task_id, cache=False)
    result = meta.get("result")
    return {
        "status": meta["status"],
        "result": repr(result) if isinstance(result, BaseException) else result,
        "date_done": meta.get("date_done"),
    }


def finished(executor: Executor, task_id: str, timeout: float = 20.0) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while (meta := stored(executor, task_id))["status"] not in ("SUCCESS", "FAILURE"):
        assert time.monotonic() < deadline, f"{task_id} has no result: {meta}"
        time.sleep(0.02)
    return meta


def test_two_tenants_with_one_key_each_get_their_own_result(
    executor: Executor, fake: FakeWidgets
) -> None:
    key = f"shared-{uuid.uuid4()}"
    send(executor, task_id_for(TENANT, key), TENANT, "acme's")
    send(executor, task_id_for(OTHER_TENANT, key), OTHER_TENANT, "globex's")
    mine = finished(executor, task_id_for(TENANT, key))["result"]
    theirs = finished(executor, task_id_for(OTHER_TENANT, key))["result"]
    assert (mine["tenant_id"], mine["key"], mine["output"]["name"]) == (TENANT, key, "acme's")
    assert (theirs["tenant_id"], theirs["key"], theirs["output"]["name"]) == (
        OTHER_TENANT,
        key,
        "globex's",
    )
    assert fake.count("POST", "/v1/widgets") == 2


def test_a_foreign_or_bare_task_id_is_refused_before_anything_is_stored(
    executor: Executor, fake: FakeWidgets
) -> None:
    # acme's results: a success, and a failure (Celery would let STARTED overwrite that).
    fake.inject(Fault(status=400, body={"message": "no"}), method="POST")
    failed = executor.enqueue(
        CREATE, tenant_id=TENANT, input={"name": "f"}, idempotency_key=f"f-{uuid.uuid4()}"
    )
    assert failed.wait(20).status == "FAILED"
    ok = executor.enqueue(
        CREATE, tenant_id=TENANT, input={"name": "a"}, idempotency_key=f"a-{uuid.uuid4()}"
    )
    ok.wait(20)
    before = {h.task_id: finished(executor, h.task_id) for h in (ok, failed)}
    assert [m["status"] for m in before.values()] == ["SUCCESS", "FAILURE"]
    bare = f"bare-{uuid.uuid4()}"
    for handle in (ok, failed):  # globex under acme's ids
        send(executor, handle.task_id, OTHER_TENANT, "intruder")
    send(executor, bare, TENANT, "bare")
    # One consumer slot takes the queue in order: once this one is done, so are those.
    after = executor.enqueue(
        CREATE, tenant_id=OTHER_TENANT, input={"name": "after"}, idempotency_key=f"after-{bare}"
    ).wait(20)
    assert after.status == "SUCCEEDED"
    assert {task_id: stored(executor, task_id) for task_id in before} == before
    assert stored(executor, bare)["status"] == "PENDING"  # nothing stored
    assert [r.key for r in executor.invocations(OTHER_TENANT)] == [after.key]
    assert executor.result(bare, TENANT) is None
    assert sorted(w["name"] for w in fake.widgets_created()) == ["a", "after"]


def test_a_foreign_task_id_is_refused_outside_a_worker_too(executor: Executor) -> None:
    task = executor.runtime.app.tasks["patchbay.run.widgets"]
    key = f"eager-{uuid.uuid4()}"
    result = task.apply(
        kwargs={"action_id": CREATE, "version": 1, "tenant_id": OTHER_TENANT, "input": {}},
        task_id=task_id_for(TENANT, key),
    )
    assert str(result.state) == "IGNORED"
    assert executor.result(key, OTHER_TENANT) is None
    assert executor.result(key, TENANT) is None


def test_enqueue_refuses_a_key_ending_in_a_newline(executor: Executor) -> None:
    with pytest.raises(ValidationFailed) as refused:
        executor.enqueue(CREATE, tenant_id=TENANT, input={"name": "n"}, idempotency_key="k\n")
    assert refused.value.field == "idempotency_key"


def test_text_holding_a_nul_is_refused_before_the_ledger_whatever_sends_it(
    executor: Executor, fake: FakeWidgets
) -> None:
    # JSON carries U+0000; PostgreSQL's jsonb, which keeps every step's input, cannot.
    key = f"nul-{uuid.uuid4()}"
    with pytest.raises(ValidationFailed) as refused:
        executor.enqueue(
            CREATE, tenant_id=TENANT, input={"name": "disk\x00full"}, idempotency_key=key
        )
    assert refused.value.field == "name"
    task = executor.runtime.app.tasks["patchbay.run.widgets"]
    result = task.apply(
        kwargs={"action_id": CREATE, "version": 1, "tenant_id": TENANT, "input": {"name": "a\x00"}},
        task_id=task_id_for(TENANT, key),
    )
    assert result.failed()
    payload = json.loads(str(result.result))
    assert payload["code"] == "VALIDATION_ERROR"
    assert payload["details"]["field"] == "name"
    assert executor.result(key, TENANT) is None  # no ledger row
    assert fake.count("POST", "/v1/widgets") == 0
