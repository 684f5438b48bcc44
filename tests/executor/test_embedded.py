"""The Python API over a real Celery consumer in this process (memory:// broker)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest
from celery.signals import before_task_publish

from actionkit.errors import IdempotencyConflict, UnknownAction, ValidationFailed
from executor.api import EnqueueFailed, Executor, derive_key
from executor.app import ExecutorRuntime
from executor.embedded import EmbeddedWorker
from executor.housekeeping import LedgerSweeper
from executor.settings import Settings
from sandbox.widgets import FakeWidgets
from store import Store
from tests.executor.conftest import CANARY_KEY, TENANT, connect_widgets
from tests.executor.widgets_integration import PROVIDER, widgets_catalog


@pytest.fixture
def fake() -> FakeWidgets:
    return FakeWidgets({CANARY_KEY: "acct-acme"}, job_duration=0.6)


@pytest.fixture
def executor(store: Store, settings: Settings, fake: FakeWidgets) -> Iterator[Executor]:
    connect_widgets(store, TENANT, CANARY_KEY)
    runtime = ExecutorRuntime(
        settings.model_copy(update={"broker_url": "memory://", "retry_backoff": 0.05}),
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


def test_enqueue_runs_once_and_a_finished_key_is_answered_without_sending(
    executor: Executor, fake: FakeWidgets
) -> None:
    handle = executor.enqueue(
        "widgets.widgets.create",
        tenant_id=TENANT,
        input={"name": "w1"},
        run_id="r1",
        step_path="root.steps[0]",
    )
    assert handle.key == derive_key("r1", "root.steps[0]", "widgets.widgets.create", 1)
    assert handle.key == "r1:root.steps[0]:widgets.widgets.create@1"
    outcome = handle.wait(10)
    assert outcome.status == "SUCCEEDED"
    assert outcome.output is not None
    assert outcome.output["name"] == "w1"
    again = executor.enqueue(
        "widgets.widgets.create",
        tenant_id=TENANT,
        input={"name": "w1"},
        run_id="r1",
        step_path="root.steps[0]",
    )
    assert again.sent is False
    replayed = again.wait(1)
    assert (outcome.replayed, replayed.replayed) == (False, True)
    assert replayed.model_copy(update={"replayed": False}) == outcome
    assert fake.count("POST", "/v1/widgets") == 1
    assert executor.result(handle.key, TENANT) == outcome


def test_bad_requests_fail_at_once_and_send_nothing(executor: Executor, fake: FakeWidgets) -> None:
    sent: list[Any] = []

    def on_publish(**kwargs: Any) -> None:
        sent.append(kwargs)

    before_task_publish.connect(on_publish, weak=False)
    try:
        with pytest.raises(ValidationFailed) as invalid:
            executor.enqueue(
                "widgets.widgets.create",
                tenant_id=TENANT,
                input={"color": "red"},
                idempotency_key="k1",
            )
        assert invalid.value.field == "name"
        with pytest.raises(UnknownAction):
            executor.enqueue("widgets.nothing.here", tenant_id=TENANT, input={})
        with pytest.raises(ValidationFailed) as no_key:
            executor.enqueue("widgets.widgets.create", tenant_id=TENANT, input={"name": "x"})
        assert no_key.value.field == "idempotency_key"
        with pytest.raises(ValidationFailed) as tenant:
            executor.enqueue(
                "widgets.widgets.create",
                tenant_id="nobody",
                input={"name": "x"},
                idempotency_key="k2",
            )
        assert tenant.value.field == "tenant_id"
    finally:
        before_task_publish.disconnect(on_publish)
    assert sent == []
    assert fake.count() == 0


def test_same_key_different_input_is_refused_before_sending(executor: Executor) -> None:
    executor.enqueue(
        "widgets.widgets.create", tenant_id=TENANT, input={"name": "a"}, idempotency_key="same"
    ).wait(10)
    with pytest.raises(IdempotencyConflict):
        executor.enqueue(
            "widgets.widgets.create",
            tenant_id=TENANT,
            input={"name": "b"},
            idempotency_key="same",
        )


def test_flower_sees_action_tenant_and_key_but_never_the_input(executor: Executor) -> None:
    headers: list[dict[str, Any]] = []

    def on_publish(headers: dict[str, Any] | None = None, **_: Any) -> None:
        headers_list.append(dict(headers or {}))

    headers_list = headers
    before_task_publish.connect(on_publish, weak=False)
    try:
        executor.enqueue(
            "widgets.widgets.create",
            tenant_id=TENANT,
            input={"name": "secret-ish-input"},
            idempotency_key="flower-1",
        ).wait(10)
    finally:
        before_task_publish.disconnect(on_publish)
    first = headers[0]
    assert first["task"] == "patchbay.run.widgets"
    assert first["id"] == f"{TENANT}/flower-1"
    assert "widgets.widgets.create@1" in first["kwargsrepr"]
    assert TENANT in first["kwargsrepr"]
    assert "flower-1" in first["kwargsrepr"]
    assert "secret-ish-input" not in first["kwargsrepr"] + first["argsrepr"]


def test_a_waiting_step_does_not_hold_the_only_worker_slot(
    executor: Executor, fake: FakeWidgets
) -> None:
    job = executor.enqueue(
        "widgets.jobs.run",
        tenant_id=TENANT,
        input={"duration": 2.0, "check_every": 0.2},
        idempotency_key="job-1",
    )
    others = [
        executor.enqueue(
            "widgets.widgets.create",
            tenant_id=TENANT,
            input={"name": f"w{i}"},
            idempotency_key=f"other-{i}",
        )
        for i in range(4)
    ]
    done_others = [h.wait(10) for h in others]
    still = job.result()
    assert all(o.status == "SUCCEEDED" for o in done_others)
    # The single worker slot ran the other steps while the job was waiting.
    assert still is not None
    assert still.status in ("WAITING", "STARTED")
    outcome = job.wait(10)
    assert outcome.status == "SUCCEEDED"
    assert outcome.output is not None
    assert outcome.output["status"] == "succeeded"
    assert fake.count("POST", "/v1/jobs") == 1
    assert fake.count("GET") >= 2  # re-checks
    # A duplicate enqueue of the finished key is answered from the ledger: no
    # message is published, so no worker can call the vendor for it, now or later.
    published: list[str] = []

    def on_publish(headers: dict[str, Any] | None = None, **_: Any) -> None:
        published.append(str((headers or {}).get("id")))

    vendor_calls = fake.count()
    before_task_publish.connect(on_publish, weak=False)
    try:
        again = executor.enqueue(
            "widgets.jobs.run",
            tenant_id=TENANT,
            input={"duration": 2.0, "check_every": 0.2},
            idempotency_key="job-1",
        )
    finally:
        before_task_publish.disconnect(on_publish)
    assert again.sent is False
    assert f"{TENANT}/job-1" not in published
    replayed = again.result()
    assert replayed is not None
    assert replayed.replayed is True
    assert replayed.model_copy(update={"replayed": False}) == outcome
    assert fake.count() == vendor_calls
    assert fake.count("POST", "/v1/jobs") == 1


def test_retries_after_a_transient_failure_through_celery(
    executor: Executor, fake: FakeWidgets
) -> None:
    from sandbox.core import Fault

    fake.inject(Fault(status=503, body={"message": "maintenance"}), method="POST")
    # Safe to repeat: a 503 to a POST of any other action would be OUTCOME_UNKNOWN.
    outcome = executor.enqueue(
        "widgets.widgets.create_idempotent",
        tenant_id=TENANT,
        input={"name": "r"},
        idempotency_key="retry-1",
    ).wait(10)
    assert outcome.status == "SUCCEEDED"
    assert outcome.attempt == 2
    assert fake.count("POST", "/v1/widgets") == 2
    assert len(fake.widgets_created()) == 1


def test_sending_a_key_again_revives_a_waiting_step_whose_message_was_lost(
    store: Store, settings: Settings, fake: FakeWidgets
) -> None:
    """``patchbay run --timeout 1`` stops its in-process worker while a step waits: the
    countdown message dies with it. Sending the key again carries the step on."""
    connect_widgets(store, TENANT, CANARY_KEY)
    runtime = ExecutorRuntime(
        settings.model_copy(update={"broker_url": "memory://"}),
        widgets_catalog(),
        transports={PROVIDER: fake.transport()},
    )
    executor = Executor(runtime)

    def purge() -> None:
        with runtime.app.connection_for_write() as conn:
            channel: Any = conn.default_channel
            for queue in ("patchbay.widgets", "patchbay.core"):
                channel.queue_purge(queue)

    purge()
    job = {"duration": 1.0, "check_every": 0.3}
    worker = EmbeddedWorker(runtime.app, concurrency=1).start()
    try:
        handle = executor.enqueue(
            "widgets.jobs.run", tenant_id=TENANT, input=job, idempotency_key="lost-wait"
        )
        deadline = time.monotonic() + 20
        while (r := handle.result()) is None or r.status != "WAITING":
            assert time.monotonic() < deadline, r
            time.sleep(0.02)
    finally:
        worker.stop()
    purge()  # the process that held the re-check is gone
    assert (current := handle.result()) is not None
    assert current.status == "WAITING"
    worker = EmbeddedWorker(runtime.app, concurrency=1).start()
    try:
        again = executor.enqueue(
            "widgets.jobs.run", tenant_id=TENANT, input=job, idempotency_key="lost-wait"
        )
        assert again.sent is True
        done = again.wait(30)
    finally:
        worker.stop()
        runtime.close()
    assert done.status == "SUCCEEDED"
    assert len(fake.jobs_created()) == 1  # carried on, not started again


def test_a_step_the_broker_refuses_is_not_left_recorded(store: Store, settings: Settings) -> None:
    connect_widgets(store, TENANT, CANARY_KEY)
    runtime = ExecutorRuntime(
        # Nothing listens on port 9: every publish fails.
        settings.model_copy(update={"broker_url": "redis://127.0.0.1:9/0"}),
        widgets_catalog(),
    )
    executor = Executor(runtime)
    try:
        with pytest.raises(EnqueueFailed) as refused:
            executor.enqueue(
                "widgets.widgets.create",
                tenant_id=TENANT,
                input={"name": "nowhere"},
                idempotency_key="refused-1",
            )
        assert "refused-1" in str(refused.value)
        assert "send it again" in str(refused.value)
        assert executor.result("refused-1", TENANT) is None  # nothing half-written
    finally:
        runtime.close()


def test_the_sweeper_republishes_a_queued_step_only_once_its_queue_is_empty(
    store: Store, settings: Settings
) -> None:
    """A QUEUED step in a backlog is most likely still in the queue: no copies then."""
    connect_widgets(store, TENANT, CANARY_KEY)
    runtime = ExecutorRuntime(
        settings.model_copy(update={"broker_url": "memory://", "redrive_after": 0.05}),
        widgets_catalog(),
    )
    executor = Executor(runtime)
    sweeper = LedgerSweeper(executor)

    def depth() -> int:
        found = executor.queue_depth("patchbay.widgets")
        assert found is not None
        return found

    try:
        with runtime.app.connection_for_write() as conn:
            channel: Any = conn.default_channel
            channel.queue_purge("patchbay.widgets")
        executor.enqueue(  # in the queue, no worker: a backlog of one
            "widgets.widgets.create", tenant_id=TENANT, input={"name": "a"}, idempotency_key="a"
        )
        time.sleep(0.1)  # older than redrive_after
        assert executor.queue_depth("patchbay.never-declared") == 0  # unknown: empty
        assert depth() == 1
        assert sweeper.sweep_once() == []  # "a" is still in the queue: left alone
        with runtime.app.connection_for_write() as conn:
            channel = conn.default_channel
            channel.queue_purge("patchbay.widgets")  # the broker lost it
        assert sweeper.sweep_once() == ["a"]
        assert depth() == 1
        assert sweeper.sweep_once() == []  # re-driven once per redrive_after
    finally:
        sweeper.release()
        runtime.close()
