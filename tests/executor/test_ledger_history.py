"""The ledger's attempt history, and an operator's cancel and retry, through the pipeline.

Vendor calls go to the in-process FakeWidgets (its request log says what was
sent); time is the manual clock shared by the fake and the ledger. Every test
runs on SQLite and PostgreSQL (the ``backend`` fixture under ``harness``).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import event

from executor.control import StepRefused, cancel_step, reopen_step
from executor.decision import Answer, decide, operator_refusal
from executor.history import MAX_ENTRIES
from executor.ledger import Ledger, RowSnapshot, Run
from executor.pipeline import Finished, Reschedule
from executor.wire import TaskRequest
from sandbox.core import Fault
from tests.executor.conftest import CANARY_KEY, TENANT, Harness, claim_request

CREATE = "widgets.widgets.create"
CREATE_SAFE = "widgets.widgets.create_idempotent"
JOB = "widgets.jobs.run"
OPERATOR = "ops@console"


def task(key: str, action_id: str = CREATE, input: dict[str, Any] | None = None) -> TaskRequest:
    return TaskRequest(
        key=key,
        action_id=action_id,
        version=1,
        tenant_id=TENANT,
        input={"name": "disk cleanup"} if input is None else input,
        run_id="run-1",
        step_path="root.steps[0]",
        provider="widgets",
    )


def job(key: str = "job-1") -> TaskRequest:
    return task(key, JOB, {"duration": 60, "check_every": 2})


def finished(outcome: object) -> Finished:
    assert isinstance(outcome, Finished), outcome
    return outcome


def row_of(ledger: Ledger, key: str) -> RowSnapshot:
    row = ledger.get(TENANT, key)
    assert row is not None
    return row


def results(row: RowSnapshot) -> list[tuple[int, str, str | None]]:
    return [(e["attempt"], e["phase"], e.get("result")) for e in row.history]


# -- the history of each kind of run -------------------------------------------------


def test_a_success_is_one_closed_entry_with_its_worker_and_times(harness: Harness) -> None:
    pipeline = harness.pipeline()
    harness.fake.inject(Fault(delay=1.5, status=None))
    done = finished(pipeline.execute(task("ok"), owner="worker-a"))
    (entry,) = done.row.history
    assert entry["attempt"] == 1
    assert entry["phase"] == "start"
    assert entry["worker"] == "worker-a"
    assert entry["result"] == "SUCCEEDED"
    assert entry["started_at"] == "2026-11-28T12:00:00+00:00"
    assert entry["ended_at"] == "2026-11-28T12:00:01.500000+00:00"
    assert "error" not in entry


def test_a_retryable_failure_then_success_is_two_entries(harness: Harness) -> None:
    pipeline = harness.pipeline()
    harness.fake.inject(Fault(status=503, body={"message": "down for a moment"}))
    first = pipeline.execute(task("retried", CREATE_SAFE))
    assert isinstance(first, Reschedule)
    waiting = row_of(pipeline.ledger, "retried")
    (entry,) = waiting.history
    assert entry["result"] == "WAITING"
    assert entry["error"]["code"] == "TRANSIENT_FAILURE"
    assert entry["wait"]["kind"] == "retry"
    assert waiting.next_check_at is not None
    assert entry["wait"]["due_at"] == waiting.next_check_at.isoformat()
    harness.clock.advance(first.countdown)
    done = finished(pipeline.execute(task("retried", CREATE_SAFE)))
    assert results(done.row) == [(1, "start", "WAITING"), (2, "start", "SUCCEEDED")]


def test_a_wait_on_the_vendor_records_each_check(harness: Harness) -> None:
    pipeline = harness.pipeline()
    assert isinstance(pipeline.execute(job()), Reschedule)
    harness.clock.advance(2)
    assert isinstance(pipeline.execute(job()), Reschedule)
    row = row_of(pipeline.ledger, "job-1")
    assert results(row) == [(1, "start", "WAITING"), (1, "check", "WAITING")]
    assert [e["wait"]["kind"] for e in row.history] == ["check", "check"]
    assert row.history[-1]["wait"]["due_at"] == "2026-11-28T12:00:04+00:00"


def test_a_lost_worker_is_recorded_and_the_takeover_marked(harness: Harness) -> None:
    pipeline = harness.pipeline()
    claim = pipeline.ledger.claim(claim_request("lost"), "dead-worker")
    assert isinstance(claim, Run)
    harness.clock.advance(31)
    done = finished(pipeline.execute(task("lost"), owner="rescuer"))
    lost, taken = done.row.history
    assert (lost["worker"], lost["result"]) == ("dead-worker", "LOST")
    assert lost["note"] == "taken over by rescuer"
    assert lost["ended_at"] == "2026-11-28T12:00:31+00:00"
    assert (taken["worker"], taken["attempt"], taken["takeover"]) == ("rescuer", 2, True)
    assert taken["result"] == "SUCCEEDED"


def test_a_lost_worker_after_dispatch_ends_its_entry_outcome_unknown(harness: Harness) -> None:
    pipeline = harness.pipeline()
    claim = pipeline.ledger.claim(claim_request("lost-sent"), "dead-worker")
    assert isinstance(claim, Run)
    assert pipeline.ledger.mark_dispatched(claim.row, "dead-worker")
    harness.clock.advance(31)
    done = finished(pipeline.execute(task("lost-sent")))
    (entry,) = done.row.history
    assert entry["result"] == "LOST"
    assert entry["error"]["code"] == "OUTCOME_UNKNOWN"
    assert harness.fake.count() == 0


def test_a_secret_in_a_vendor_error_never_reaches_the_history(harness: Harness) -> None:
    pipeline = harness.pipeline()
    harness.fake.inject(
        Fault(status=429, body={"message": f"slow down, key {CANARY_KEY}"}, headers={})
    )
    assert isinstance(pipeline.execute(task("canary")), Reschedule)
    harness.fake.inject(Fault(status=400, body={"message": f"bad request for key {CANARY_KEY}"}))
    harness.clock.advance(60)
    done = finished(pipeline.execute(task("canary")))
    dumped = json.dumps(done.row.history)
    assert CANARY_KEY not in dumped
    assert [e["error"]["code"] for e in done.row.history] == ["RATE_LIMITED", "VENDOR_ERROR"]
    assert all("[REDACTED]" in e["error"]["message"] for e in done.row.history)


def test_the_history_keeps_the_last_entries_only(harness: Harness) -> None:
    pipeline = harness.pipeline()
    created = finished(pipeline.execute(task("w")))
    assert created.row.output is not None
    get = task("get", "widgets.widgets.get", {"widget_id": created.row.output["widget_id"]})
    for _ in range(MAX_ENTRIES + 5):
        last = finished(pipeline.execute(get))
    assert len(last.row.history) == MAX_ENTRIES
    assert last.row.history[-1]["attempt"] == MAX_ENTRIES + 5
    assert last.row.history[0]["attempt"] == 6


@contextmanager
def ledger_statements(harness: Harness) -> Iterator[list[str]]:
    """The statements sent on the invocation table while the block runs."""
    seen: list[str] = []

    def record(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        if "workflow_action_invocations" in statement:
            seen.append(statement.split()[0].upper())

    engine = harness.store.engine
    event.listen(engine, "before_cursor_execute", record)
    try:
        yield seen
    finally:
        event.remove(engine, "before_cursor_execute", record)


def test_the_history_adds_no_round_trip(harness: Harness) -> None:
    """A read-only step: claim + outcome; a side-effectful one: + the dispatched mark."""
    pipeline = harness.pipeline()
    with ledger_statements(harness) as created:
        done = finished(pipeline.execute(task("trips")))
    assert created == ["INSERT", "UPDATE", "UPDATE"]
    assert done.row.output is not None
    get = task("trips-get", "widgets.widgets.get", {"widget_id": done.row.output["widget_id"]})
    with ledger_statements(harness) as read:
        finished(pipeline.execute(get))
    assert read == ["INSERT", "UPDATE"]


# -- cancel ----------------------------------------------------------------------------


def test_a_cancelled_wait_runs_no_check_when_its_recheck_arrives(harness: Harness) -> None:
    pipeline = harness.pipeline()
    assert isinstance(pipeline.execute(job()), Reschedule)
    assert harness.fake.count("POST", "/v1/jobs") == 1
    cancelled = cancel_step(pipeline.ledger, TENANT, "job-1", by=OPERATOR)
    assert cancelled.status == "CANCELLED"
    assert cancelled.completed_at is not None
    assert cancelled.error is not None
    assert cancelled.error["code"] == "CANCELLED"
    assert cancelled.error["retryable"] is False
    assert cancelled.error["message"].startswith(
        "cancelled by ops@console at 2026-11-28 12:00:00 UTC while WAITING"
    )
    assert results(cancelled)[-1] == (1, "operator", "CANCELLED")
    assert cancelled.history[-1]["worker"] == OPERATOR
    # The delayed re-check arrives when due: it is answered, nothing is called.
    harness.clock.advance(10)
    again = finished(pipeline.execute(job()))
    assert again.replayed
    assert again.row.status == "CANCELLED"
    assert harness.fake.count("GET") == 0
    assert harness.fake.count() == 1
    # The sweeper never re-drives it.
    assert pipeline.ledger.stalled(harness.clock() + timedelta(hours=1), grace=timedelta(0)) == []


def test_a_queued_step_can_be_cancelled_and_then_never_runs(harness: Harness) -> None:
    ledger = harness.pipeline().ledger
    assert ledger.record_queued(claim_request("queued")) is not None
    cancelled = cancel_step(ledger, TENANT, "queued", by=OPERATOR)
    assert cancelled.status == "CANCELLED"
    assert cancelled.error is not None
    assert "while QUEUED" in cancelled.error["message"]
    assert finished(harness.pipeline().execute(task("queued"))).row.status == "CANCELLED"
    assert harness.fake.count() == 0


@pytest.mark.parametrize("status", ["SUCCEEDED", "FAILED"])
def test_an_ended_step_cannot_be_cancelled(harness: Harness, status: str) -> None:
    if status == "FAILED":
        harness.fake.inject(Fault(status=422, body={"message": "name is taken"}))
    finished(harness.pipeline().execute(task("ended")))
    with pytest.raises(StepRefused) as refused:
        cancel_step(harness.pipeline().ledger, TENANT, "ended", by=OPERATOR)
    assert str(refused.value) == f"step ended already {status}; nothing to cancel"


def test_a_running_step_cannot_be_cancelled_mid_call(harness: Harness) -> None:
    ledger = harness.pipeline().ledger
    assert isinstance(ledger.claim(claim_request("busy"), "worker-a"), Run)
    with pytest.raises(StepRefused) as refused:
        cancel_step(ledger, TENANT, "busy", by=OPERATOR)
    assert str(refused.value).startswith("step busy is running (attempt 1)")
    assert row_of(ledger, "busy").status == "STARTED"


def test_another_tenants_key_is_unknown(harness: Harness) -> None:
    finished(harness.pipeline().execute(task("mine")))
    with pytest.raises(StepRefused) as refused:
        cancel_step(harness.pipeline().ledger, "globex", "mine", by=OPERATOR)
    assert str(refused.value) == "no step 'mine' for tenant globex"


# -- retry -----------------------------------------------------------------------------


def test_an_outcome_unknown_step_retried_by_an_operator_runs_again(harness: Harness) -> None:
    pipeline = harness.pipeline()
    harness.fake.inject(Fault(status=502, body={"message": "upstream trouble"}))
    unknown = finished(pipeline.execute(task("unknown")))
    assert unknown.row.error is not None
    assert unknown.row.error["code"] == "OUTCOME_UNKNOWN"
    # Sending the key again answers the stored outcome.
    assert finished(pipeline.execute(task("unknown"))).replayed
    assert harness.fake.count("POST", "/v1/widgets") == 1
    harness.clock.advance(5)
    queued = reopen_step(pipeline.ledger, TENANT, "unknown", by=OPERATOR)
    assert (queued.status, queued.attempt, queued.error, queued.completed_at) == (
        "QUEUED",
        0,
        None,
        None,
    )
    done = finished(pipeline.execute(task("unknown")))
    assert (done.row.status, done.row.attempt) == ("SUCCEEDED", 1)
    assert harness.fake.count("POST", "/v1/widgets") == 2
    assert results(done.row) == [
        (1, "start", "FAILED"),
        (1, "operator", "OPERATOR_RETRY"),
        (1, "start", "SUCCEEDED"),
    ]
    assert done.row.history[1]["worker"] == OPERATOR
    assert done.row.history[1]["started_at"] == "2026-11-28T12:00:05+00:00"


def test_a_cancelled_step_retried_by_an_operator_gets_a_fresh_budget(harness: Harness) -> None:
    pipeline = harness.pipeline()
    assert isinstance(pipeline.execute(job()), Reschedule)
    cancel_step(pipeline.ledger, TENANT, "job-1", by=OPERATOR)
    reopen_step(pipeline.ledger, TENANT, "job-1", by=OPERATOR)
    assert isinstance(pipeline.execute(job()), Reschedule)
    assert harness.fake.count("POST", "/v1/jobs") == 2
    assert row_of(pipeline.ledger, "job-1").status == "WAITING"


def test_a_retried_step_is_left_to_its_message_for_a_grace(harness: Harness) -> None:
    """The sweeper re-publishes a step queued again by an operator only once it is late
    from the retry, not from when the step was first created."""
    pipeline = harness.pipeline()
    harness.fake.inject(Fault(status=422, body={"message": "name is taken"}))
    finished(pipeline.execute(task("late")))
    harness.clock.advance(3600)
    reopen_step(pipeline.ledger, TENANT, "late", by=OPERATOR)
    grace = timedelta(seconds=60)
    assert pipeline.ledger.stalled(harness.clock() + timedelta(seconds=59), grace=grace) == []
    late = pipeline.ledger.stalled(harness.clock() + timedelta(seconds=61), grace=grace)
    assert [r.key for r in late] == ["late"]


def test_a_succeeded_step_cannot_be_retried(harness: Harness) -> None:
    finished(harness.pipeline().execute(task("fine")))
    with pytest.raises(StepRefused) as refused:
        reopen_step(harness.pipeline().ledger, TENANT, "fine", by=OPERATOR)
    assert str(refused.value) == "step fine already SUCCEEDED; nothing to retry"


def test_an_operator_loses_to_a_worker_that_moved_the_step_on(harness: Harness) -> None:
    """The guarded update: a cancel computed on a row read before a check ran (and the
    step went back to the same WAITING state) changes nothing and loses no entry."""
    pipeline = harness.pipeline()
    assert isinstance(pipeline.execute(job()), Reschedule)
    stale = row_of(pipeline.ledger, "job-1")
    harness.clock.advance(2)
    assert isinstance(pipeline.execute(job()), Reschedule)  # the check ran meanwhile
    assert (row_of(pipeline.ledger, "job-1").status, stale.status) == ("WAITING", "WAITING")
    assert pipeline.ledger.cancel(stale, OPERATOR, {"code": "CANCELLED"}) is None
    cancelled = cancel_step(pipeline.ledger, TENANT, "job-1", by=OPERATOR)
    assert results(cancelled) == [
        (1, "start", "WAITING"),
        (1, "check", "WAITING"),
        (1, "operator", "CANCELLED"),
    ]


# -- the decision and the listing ---------------------------------------------------------


def test_the_decision_answers_a_cancelled_step_whatever_the_action(harness: Harness) -> None:
    pipeline = harness.pipeline()
    assert pipeline.ledger.record_queued(claim_request("c")) is not None
    row = cancel_step(pipeline.ledger, TENANT, "c", by=OPERATOR)
    read_only = replace(claim_request("c"), side_effectful=False)
    assert isinstance(decide(row, read_only, harness.clock()), Answer)
    assert operator_refusal(row, "retry") is None
    assert operator_refusal(row, "cancel") == "step c already CANCELLED; nothing to cancel"


def test_the_listing_filters_in_the_query(harness: Harness) -> None:
    pipeline = harness.pipeline()
    finished(pipeline.execute(task("a")))
    harness.clock.advance(3600)
    harness.fake.inject(Fault(status=422, body={"message": "name is taken"}))
    finished(pipeline.execute(task("b")))
    harness.clock.advance(1)
    finished(pipeline.execute(task("c")))
    harness.clock.advance(1)
    assert pipeline.ledger.record_queued(claim_request("d", CREATE_SAFE)) is not None
    ledger = pipeline.ledger

    def keys(**filters: Any) -> list[str]:
        return [r.key for r in ledger.list(TENANT, **filters)]

    assert keys() == ["d", "c", "b", "a"]
    assert keys(statuses={"FAILED"}) == ["b"]
    assert keys(statuses={"SUCCEEDED", "QUEUED"}, limit=2) == ["d", "c"]
    assert keys(since=harness.clock() - timedelta(minutes=5)) == ["d", "c", "b"]
    assert keys(action_id=CREATE_SAFE) == ["d"]
    assert keys(run_id="other") == []
    assert ledger.list("globex") == []


def test_migration_0005_downgrade_keeps_a_cancelled_step_final(harness: Harness) -> None:
    """Before 0005 there was no CANCELLED: a cancelled step goes back as FAILED (final)."""
    from sqlalchemy import text

    from store import db

    ledger = harness.pipeline().ledger
    assert ledger.record_queued(claim_request("gone")) is not None
    cancel_step(ledger, TENANT, "gone", by=OPERATOR)
    engine = harness.store.engine
    try:
        db.downgrade(engine, "0004")
        with engine.connect() as conn:
            status, completed = conn.execute(
                text("SELECT status, completed_at FROM workflow_action_invocations")
            ).one()
        assert status == "FAILED"
        assert completed is not None
    finally:
        db.upgrade(engine)
    assert row_of(ledger, "gone").history == ()
