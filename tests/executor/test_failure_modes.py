"""After dispatch only proof allows a retry; hung steps stop; stalled steps are found.

Through the pipeline (no Celery) against the in-process FakeWidgets, on both
databases, with the manual clock shared by the fake and the ledger.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import timedelta

import httpx

from executor.lease import LeaseRenewer
from executor.ledger import ClaimRequest, Ledger, RowSnapshot, Run
from executor.pipeline import Finished, Reschedule
from executor.wire import TaskRequest
from sandbox.core import Fault
from tests.executor.conftest import CANARY_KEY, TENANT, WIDGETS_URL, Harness
from tests.executor.widgets_integration import PROVIDER

CHECKED = "widgets.widgets.create_checked"  # side-effectful, with a read-back
CREATE = "widgets.widgets.create"  # side-effectful, no read-back


def task(key: str, action_id: str = CHECKED, name: str = "patch", **more: object) -> TaskRequest:
    return TaskRequest(
        key=key,
        action_id=action_id,
        version=1,
        tenant_id=TENANT,
        input={"name": name, **more} if action_id != "widgets.debug.hang" else more,
        run_id="run-1",
        step_path="root.steps[0]",
        provider="widgets",
    )


def finished(outcome: object) -> Finished:
    assert isinstance(outcome, Finished), outcome
    return outcome


def posts(harness: Harness) -> int:
    return harness.fake.count("POST", "/v1/widgets")


def request(
    harness: Harness, key: str, *, action_id: str = CREATE, name: str | None = None
) -> ClaimRequest:
    """What a worker's claim carries for ``key`` (the validated input, as the pipeline has it)."""
    pipeline = harness.pipeline()
    spec = pipeline.resolve(action_id, 1)
    data = pipeline.validate_input(spec, {"name": name or key}).model_dump(mode="json")
    return pipeline.claim_request(
        spec, data, tenant_id=TENANT, key=key, run_id="run-1", step_path="root.steps[0]"
    )


# -- a mutating request with no answer ------------------------------------------------


def test_lost_answer_without_a_read_back_is_outcome_unknown_and_not_repeated(
    harness: Harness,
) -> None:
    pipeline = harness.pipeline()
    harness.fake.inject(Fault(disconnect=True), method="POST", path="/v1/widgets")
    done = finished(pipeline.execute(task("plain", CREATE)))
    assert done.row.status == "FAILED"
    assert done.row.error is not None
    assert done.row.error["code"] == "OUTCOME_UNKNOWN"
    assert posts(harness) == 1
    assert len(harness.fake.widgets_created()) == 1  # it did happen; nobody repeats it


def test_lost_answer_settled_by_the_read_back_as_applied(harness: Harness) -> None:
    pipeline = harness.pipeline()
    harness.fake.inject(Fault(disconnect=True), method="POST", path="/v1/widgets")
    done = finished(pipeline.execute(task("applied", name="disk-full")))
    assert done.row.status == "SUCCEEDED"
    assert done.row.attempt == 1
    assert done.row.output is not None
    created = harness.fake.widgets_created()
    assert [w["id"] for w in created] == [done.row.output["widget_id"]]
    assert posts(harness) == 1


def test_lost_request_settled_by_the_read_back_as_not_applied_is_retried(
    harness: Harness,
) -> None:
    pipeline = harness.pipeline()
    # The connection drops before the vendor acts: nothing was created.
    harness.fake.inject(Fault(status=500, disconnect=True), method="POST", path="/v1/widgets")
    first = pipeline.execute(task("not-applied", name="fresh"))
    assert isinstance(first, Reschedule)
    assert first.reason == "retry"
    assert harness.fake.widgets_created() == []
    harness.clock.advance(first.countdown + 1)
    done = finished(pipeline.execute(task("not-applied", name="fresh")))
    assert done.row.status == "SUCCEEDED"
    assert done.row.attempt == 2
    assert len(harness.fake.widgets_created()) == 1


def test_a_read_back_that_cannot_tell_leaves_the_outcome_unknown(harness: Harness) -> None:
    pipeline = harness.pipeline()
    harness.fake.inject(Fault(disconnect=True), method="POST", path="/v1/widgets")
    harness.fake.inject(Fault(status=503, body={"message": "down"}), method="GET")
    done = finished(pipeline.execute(task("cannot-tell", name="x")))
    assert done.row.status == "FAILED"
    assert done.row.error is not None
    assert done.row.error["code"] == "OUTCOME_UNKNOWN"
    assert done.row.error["details"]["read_back"] == "TRANSIENT_FAILURE"
    assert posts(harness) == 1


def test_5xx_after_the_vendor_acted_is_not_sent_again(harness: Harness) -> None:
    pipeline = harness.pipeline()
    harness.fake.inject(
        Fault(status=500, body={"message": "oops"}, after=True), method="POST", path="/v1/widgets"
    )
    done = finished(pipeline.execute(task("five-hundred", CREATE)))
    assert done.row.status == "FAILED"
    assert done.row.error is not None
    assert done.row.error["code"] == "OUTCOME_UNKNOWN"
    assert posts(harness) == 1
    assert len(harness.fake.widgets_created()) == 1


def test_5xx_after_the_vendor_acted_with_a_read_back_succeeds(harness: Harness) -> None:
    pipeline = harness.pipeline()
    harness.fake.inject(
        Fault(status=502, body={"message": "bad gateway"}, after=True),
        method="POST",
        path="/v1/widgets",
    )
    done = finished(pipeline.execute(task("five-hundred-checked", name="rb")))
    assert done.row.status == "SUCCEEDED"
    assert posts(harness) == 1
    assert len(harness.fake.widgets_created()) == 1


# -- a worker lost after dispatch -------------------------------------------------------


def _dead_worker_dispatched(harness: Harness, key: str, name: str) -> Ledger:
    """A worker claimed ``key``, marked it dispatched, and died."""
    ledger = harness.pipeline().ledger
    claim = ledger.claim(request(harness, key, action_id=CHECKED, name=name), "dead-worker")
    assert isinstance(claim, Run)
    assert ledger.mark_dispatched(claim.row, "dead-worker")
    harness.clock.advance(31)
    return ledger


def test_a_lost_worker_s_dispatched_step_is_settled_by_the_read_back(harness: Harness) -> None:
    _dead_worker_dispatched(harness, "lost-applied", "made-it")
    # The dead worker's request did reach the vendor.
    with httpx.Client(transport=harness.fake.transport(), base_url=WIDGETS_URL) as vendor:
        sent = vendor.post(
            "/v1/widgets",
            json={"name": "made-it"},
            headers={"Authorization": f"Bearer {CANARY_KEY}"},
        )
    assert sent.status_code == 201
    done = finished(harness.pipeline().execute(task("lost-applied", name="made-it")))
    assert done.row.status == "SUCCEEDED"
    assert done.row.attempt == 1
    assert done.row.output is not None
    assert done.row.output["widget_id"] == sent.json()["id"]
    assert posts(harness) == 1  # only the dead worker's: never sent again


def test_a_lost_worker_s_read_back_waits_for_the_throttle_instead_of_giving_up(
    harness: Harness,
) -> None:
    """The tenant's budget is spent when the read-back runs: it waits, it is not deferred."""
    _dead_worker_dispatched(harness, "lost-busy", "made-it")
    with httpx.Client(transport=harness.fake.transport(), base_url=WIDGETS_URL) as vendor:
        sent = vendor.post(
            "/v1/widgets",
            json={"name": "made-it"},
            headers={"Authorization": f"Bearer {CANARY_KEY}"},
        )
    pipeline = harness.pipeline(rate_limit="1/10s")
    pipeline.throttle.acquire(PROVIDER, TENANT)  # another step took the only token
    done = finished(pipeline.execute(task("lost-busy", name="made-it")))
    assert done.row.status == "SUCCEEDED"
    assert done.row.output is not None
    assert done.row.output["widget_id"] == sent.json()["id"]
    assert posts(harness) == 1


def test_a_lost_worker_s_step_that_did_not_happen_runs_a_new_attempt(harness: Harness) -> None:
    _dead_worker_dispatched(harness, "lost-not-applied", "never")
    pipeline = harness.pipeline()
    again = pipeline.execute(task("lost-not-applied", name="never"))
    assert isinstance(again, Reschedule)
    assert again.reason == "retry"
    done = finished(pipeline.execute(task("lost-not-applied", name="never")))
    assert done.row.status == "SUCCEEDED"
    assert done.row.attempt == 2
    assert posts(harness) == 1


# -- time limits ---------------------------------------------------------------------------


def test_a_hung_handler_is_stopped_at_its_time_limit_and_retried(harness: Harness) -> None:
    pipeline = harness.pipeline()
    started = time.monotonic()
    outcome = pipeline.execute(task("hung", "widgets.debug.hang", seconds=60))
    assert time.monotonic() - started < 30  # stopped, not run for 60 s
    assert isinstance(outcome, Reschedule)
    assert outcome.reason == "retry"  # nothing was dispatched: a plain retry
    row = pipeline.ledger.get(TENANT, "hung")
    assert row is not None
    assert row.error is not None
    assert row.error["code"] == "TIMEOUT"
    assert row.error["details"]["time_limit"] == 1.0
    pipeline.close()


def test_a_step_within_its_time_limit_is_not_interrupted(harness: Harness) -> None:
    pipeline = harness.pipeline()
    done = finished(pipeline.execute(task("quick", "widgets.debug.hang", seconds=0.2)))
    assert done.row.status == "SUCCEEDED"
    pipeline.close()


def test_a_lease_is_renewed_until_the_hard_limit_and_not_after(harness: Harness) -> None:
    # Real time here: the renewer runs on the wall clock.
    ledger = Ledger(harness.store.engine, lease_seconds=0.3)
    row = _claim_row(harness, ledger, "overrun")
    renewer = LeaseRenewer(ledger, grace=0.5)

    def expiry() -> object:
        current = ledger.get(TENANT, "overrun")
        assert current is not None
        return current.lease_expires_at

    first = expiry()
    with renewer.hold(row, "me", time_limit=0.2) as handle:
        wait_until(lambda: expiry() != first)  # renewed while within its limit
        wait_until(lambda: handle.fired)  # the limit passed (outside limited(): no raise)
        hard = handle.hard_deadline
        assert hard is not None
        wait_until(lambda: time.monotonic() > hard + 0.15)
        settled = expiry()
        time.sleep(0.4)  # four renewal intervals
        assert expiry() == settled  # never renewed past the hard limit
    renewer.stop()


def wait_until(predicate: Callable[[], object], timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "condition not met"
        time.sleep(0.01)


def _claim_row(harness: Harness, ledger: Ledger, key: str) -> RowSnapshot:
    claim = ledger.claim(request(harness, key), "me")
    assert isinstance(claim, Run)
    return claim.row


# -- what the sweeper sees ------------------------------------------------------------------


def test_stalled_steps_are_listed_once_per_grace(harness: Harness) -> None:
    ledger = harness.pipeline().ledger
    grace = timedelta(seconds=60)
    queued = ledger.record_queued(request(harness, "queued"))
    assert queued is not None
    assert queued.status == "QUEUED"
    assert queued.attempt == 0
    running = ledger.claim(request(harness, "running"), "worker-a")
    waiting = ledger.claim(request(harness, "waiting"), "worker-b")
    assert ledger.wait(waiting.row, "worker-b", kind="retry", due_in=5)
    now = harness.clock()
    assert ledger.stalled(now, grace=grace) == []  # nothing is late yet

    harness.clock.advance(31)  # the running step's lease expired
    keys = {r.key for r in ledger.stalled(harness.clock(), grace=grace)}
    assert keys == {"running"}
    assert running is not None

    harness.clock.advance(60)  # the QUEUED row and the overdue wait are past the grace
    stalled = ledger.stalled(harness.clock(), grace=grace)
    assert {r.key for r in stalled} == {"running", "queued", "waiting"}
    for row in stalled:
        assert ledger.mark_redriven(row, harness.clock())
    assert ledger.stalled(harness.clock(), grace=grace) == []  # re-driven: left alone
    harness.clock.advance(61)
    assert {r.key for r in ledger.stalled(harness.clock(), grace=grace)} == {
        "running",
        "queued",
        "waiting",
    }


def test_a_queued_step_is_started_by_its_message_in_one_claim(harness: Harness) -> None:
    pipeline = harness.pipeline()
    queued_request = request(harness, "from-enqueue")
    queued = pipeline.ledger.record_queued(queued_request)
    assert queued is not None
    assert pipeline.ledger.record_queued(queued_request) is None  # the key exists
    done = finished(pipeline.execute(task("from-enqueue", CREATE, name="from-enqueue")))
    assert done.row.status == "SUCCEEDED"
    assert done.row.attempt == 1
    assert done.row.invocation_id == queued.invocation_id
    assert pipeline.ledger.forget_queued(done.row) is False  # only QUEUED rows go


def test_one_sweeper_at_a_time(harness: Harness) -> None:
    ledger = harness.pipeline().ledger
    assert ledger.try_lock("ledger-sweeper", "a", ttl=10)
    assert not ledger.try_lock("ledger-sweeper", "b", ttl=10)
    assert ledger.try_lock("ledger-sweeper", "a", ttl=10)  # the holder extends it
    harness.clock.advance(11)
    assert ledger.try_lock("ledger-sweeper", "b", ttl=10)  # expired: taken over
    assert not ledger.try_lock("ledger-sweeper", "a", ttl=10)
    ledger.unlock("ledger-sweeper", "b")
    assert ledger.try_lock("ledger-sweeper", "a", ttl=10)
