"""The idempotency state machine, end to end through the pipeline (no Celery).

Vendor calls go to the in-process FakeWidgets; time is a manual clock shared
by the fake and the ledger, so leases, retries and waits are exact.
"""

from __future__ import annotations

import json
import logging
from dataclasses import replace
from datetime import timedelta

import pytest
from pydantic import SecretStr
from sqlalchemy import select, update

from executor.ledger import ClaimRequest, Ledger, Run, input_hash
from executor.pipeline import Dropped, Finished, Rejected, Reschedule
from executor.wire import TaskRequest
from sandbox.core import Fault
from store.models import RmmIntegration, WorkflowActionInvocation
from tests.executor.conftest import CANARY_KEY, TENANT, Harness, claim_request
from tests.executor.widgets_integration import SECRET

CREATE = "widgets.widgets.create"
CREATE_SAFE = "widgets.widgets.create_idempotent"  # side-effectful, declared safe to repeat


def task(
    key: str = "run-1:root.steps[0]:create",
    action_id: str = CREATE,
    input: object = None,
    tenant: str = TENANT,
    version: int = 1,
) -> TaskRequest:
    return TaskRequest(
        key=key,
        action_id=action_id,
        version=version,
        tenant_id=tenant,
        input={"name": "disk cleanup"} if input is None else input,
        run_id="run-1",
        step_path="root.steps[0]",
        provider="widgets",
    )


def finished(outcome: object) -> Finished:
    assert isinstance(outcome, Finished), outcome
    return outcome


def test_side_effect_runs_once_and_replays_the_stored_output(harness: Harness) -> None:
    pipeline = harness.pipeline()
    first = finished(pipeline.execute(task()))
    assert first.succeeded
    assert first.row.output is not None
    assert first.row.output["name"] == "disk cleanup"
    again = finished(pipeline.execute(task()))
    assert again.replayed
    assert again.row.output == first.row.output
    assert harness.fake.count("POST", "/v1/widgets") == 1
    assert len(harness.fake.widgets_created()) == 1


def test_read_only_actions_always_execute_and_are_recorded(harness: Harness) -> None:
    pipeline = harness.pipeline()
    created = finished(pipeline.execute(task()))
    assert created.row.output is not None
    widget_id = created.row.output["widget_id"]
    get = task(key="get-1", action_id="widgets.widgets.get", input={"widget_id": widget_id})
    one = finished(pipeline.execute(get))
    two = finished(pipeline.execute(get))
    assert harness.fake.count("GET", f"/v1/widgets/{widget_id}") == 2
    assert (one.row.attempt, two.row.attempt) == (1, 2)
    assert two.row.status == "SUCCEEDED"


def test_same_key_with_different_input_is_an_idempotency_conflict(harness: Harness) -> None:
    pipeline = harness.pipeline()
    finished(pipeline.execute(task()))
    outcome = pipeline.execute(task(input={"name": "something else"}))
    assert isinstance(outcome, Rejected)
    assert outcome.payload["code"] == "IDEMPOTENCY_CONFLICT"
    assert harness.fake.count("POST", "/v1/widgets") == 1


@pytest.mark.parametrize(
    ("bad_input", "field"),
    [({}, "name"), ({"name": ""}, "name"), ({"name": "x", "colour": "red"}, "colour")],
)
def test_invalid_input_names_the_field_and_records_and_sends_nothing(
    harness: Harness, bad_input: dict[str, object], field: str
) -> None:
    outcome = harness.pipeline().execute(task(input=bad_input))
    assert isinstance(outcome, Rejected)
    assert outcome.payload["code"] == "VALIDATION_ERROR"
    assert outcome.payload["category"] == "ValidationError"
    assert outcome.payload["details"]["field"] == field
    assert field in outcome.payload["message"]
    assert harness.fake.count() == 0
    assert harness.pipeline().ledger.get(TENANT, task().key) is None


def test_unknown_action_and_wrong_task_are_rejected(harness: Harness) -> None:
    unknown = harness.pipeline().execute(task(action_id="widgets.nope.nothing"))
    assert isinstance(unknown, Rejected)
    assert unknown.payload["code"] == "UNKNOWN_ACTION"
    wrong = harness.pipeline().execute(
        TaskRequest(
            key="k",
            action_id=CREATE,
            version=1,
            tenant_id=TENANT,
            input={"name": "a"},
            provider="ninjaone",
        )
    )
    assert isinstance(wrong, Rejected)
    assert "patchbay.run.widgets" in wrong.payload["message"]


def test_disconnected_integration_fails_inactive_without_calling_the_vendor(
    harness: Harness,
) -> None:
    with harness.store.sessions.begin() as session:
        session.execute(update(RmmIntegration).values(is_active=False))
    outcome = finished(harness.pipeline().execute(task()))
    assert outcome.row.status == "FAILED"
    assert outcome.row.error is not None
    assert outcome.row.error["code"] == "INTEGRATION_INACTIVE"
    assert outcome.row.error["retryable"] is False
    assert "Widgets integration is not active" in outcome.row.error["message"]
    assert harness.fake.count() == 0


def test_a_retryable_failure_is_retried_on_the_same_row(harness: Harness) -> None:
    # A 503 to a POST leaves its outcome open: retried only for an action
    # declared safe to repeat (see the next test for one that is not).
    pipeline = harness.pipeline()
    harness.fake.inject(Fault(status=503, body={"error": "unavailable", "message": "down"}))
    first = pipeline.execute(task(action_id=CREATE_SAFE))
    assert isinstance(first, Reschedule)
    assert first.reason == "retry"
    assert first.row.status == "STARTED"
    waiting = pipeline.ledger.get(TENANT, task().key)
    assert waiting is not None
    assert waiting.status == "WAITING"
    assert waiting.error is not None
    assert waiting.error["code"] == "TRANSIENT_FAILURE"
    assert waiting.error["vendor"] == {"status": 503, "message": "down"}
    harness.clock.advance(first.countdown)
    second = finished(pipeline.execute(task(action_id=CREATE_SAFE)))
    assert second.row.status == "SUCCEEDED"
    assert second.row.attempt == 2
    assert second.row.invocation_id == waiting.invocation_id
    assert len(harness.fake.widgets_created()) == 1


@pytest.mark.parametrize("status", [500, 502, 503, 504, 408, 425])
def test_a_5xx_to_a_mutating_request_is_outcome_unknown_and_not_sent_again(
    harness: Harness, status: int
) -> None:
    # The fake answers from an injected fault without creating anything, but
    # the client cannot know that: a 5xx is no proof the vendor did nothing.
    harness.fake.inject(Fault(status=status, body={"message": "upstream trouble"}))
    outcome = finished(harness.pipeline().execute(task()))
    assert outcome.row.status == "FAILED"
    assert outcome.row.error is not None
    assert outcome.row.error["code"] == "OUTCOME_UNKNOWN"
    assert outcome.row.error["retryable"] is False
    assert harness.fake.count("POST", "/v1/widgets") == 1
    # The same key again returns the stored outcome; still one POST.
    assert finished(harness.pipeline().execute(task())).row.error == outcome.row.error
    assert harness.fake.count("POST", "/v1/widgets") == 1


def test_a_429_to_a_mutating_request_is_retried(harness: Harness) -> None:
    harness.fake.inject(Fault(status=429, body={"error": "rate_limited", "message": "slow down"}))
    first = harness.pipeline().execute(task())
    assert isinstance(first, Reschedule)
    assert first.reason == "retry"
    harness.clock.advance(first.countdown)
    second = finished(harness.pipeline().execute(task()))
    assert second.row.status == "SUCCEEDED"
    assert second.row.attempt == 2
    assert len(harness.fake.widgets_created()) == 1


def test_retry_after_is_honoured(harness: Harness) -> None:
    harness.fake.inject(
        Fault(status=429, body={"error": "rate_limited"}, headers={"Retry-After": "7"})
    )
    outcome = harness.pipeline().execute(task())
    assert isinstance(outcome, Reschedule)
    assert outcome.countdown >= 7
    row = harness.pipeline().ledger.get(TENANT, task().key)
    assert row is not None
    assert row.error is not None
    assert row.error["code"] == "RATE_LIMITED"
    assert row.error["retry_after"] == 7


def test_attempts_are_bounded_and_the_last_failure_stays_retryable(harness: Harness) -> None:
    pipeline = harness.pipeline(max_attempts=2)
    harness.fake.inject(Fault(status=502, body={"message": "bad gateway"}), times=None)
    first = pipeline.execute(task(action_id=CREATE_SAFE))
    assert isinstance(first, Reschedule)
    harness.clock.advance(first.countdown)
    last = finished(pipeline.execute(task(action_id=CREATE_SAFE)))
    assert last.row.status == "FAILED"
    assert last.row.attempt == 2
    assert last.row.error is not None
    assert last.row.error["retryable"] is True
    # The engine may enqueue the same key again later: a third attempt, same row.
    harness.fake.clear_faults()
    again = finished(pipeline.execute(task(action_id=CREATE_SAFE)))
    assert again.row.status == "SUCCEEDED"
    assert again.row.attempt == 3


def test_non_retryable_vendor_error_carries_status_and_message(harness: Harness) -> None:
    harness.fake.inject(
        Fault(status=422, body={"error": "validation_error", "message": "name is taken"})
    )
    outcome = finished(harness.pipeline().execute(task()))
    error = outcome.row.error
    assert error is not None
    assert error["code"] == "VENDOR_ERROR"
    assert error["vendor"] == {"status": 422, "message": "name is taken"}
    assert error["retryable"] is False
    assert error["action_id"] == CREATE
    assert error["step_path"] == "root.steps[0]"
    assert set(error) >= {"category", "code", "message", "retryable", "at"}
    # A stored non-retryable failure is returned as stored.
    assert finished(harness.pipeline().execute(task())).replayed


def _claim(ledger: Ledger, key: str, owner: str) -> None:
    ledger.claim(claim_request(key), owner)


def test_a_duplicate_in_flight_is_not_run_twice(harness: Harness) -> None:
    pipeline = harness.pipeline()
    _claim(pipeline.ledger, task().key, "other-worker")
    outcome = pipeline.execute(task())
    assert isinstance(outcome, Reschedule)
    assert outcome.reason == "busy"
    # A copy looks again soon, then less often: it answers shortly after the step
    # ends, not after the rest of the 30 s lease.
    delays = [outcome_delay(pipeline.execute(replace(task(), redeliveries=n))) for n in range(8)]
    assert delays[0] == outcome.countdown < 1
    assert delays == sorted(delays)
    assert delays[-1] <= 5
    assert harness.fake.count() == 0


def outcome_delay(outcome: object) -> float:
    assert isinstance(outcome, Reschedule)
    assert outcome.reason == "busy"
    return outcome.countdown


def test_an_expired_lease_with_nothing_dispatched_is_taken_over(harness: Harness) -> None:
    pipeline = harness.pipeline()
    _claim(pipeline.ledger, task().key, "dead-worker")
    harness.clock.advance(31)
    outcome = finished(pipeline.execute(task()))
    assert outcome.row.status == "SUCCEEDED"
    assert outcome.row.attempt == 2
    assert harness.fake.count("POST", "/v1/widgets") == 1


@pytest.mark.parametrize(
    ("action_id", "expected"),
    [(CREATE, "FAILED"), ("widgets.widgets.create_idempotent", "SUCCEEDED")],
)
def test_an_expired_lease_after_dispatch_is_outcome_unknown_unless_safe(
    harness: Harness, action_id: str, expected: str
) -> None:
    pipeline = harness.pipeline()
    data = {"name": "disk cleanup", "color": None}
    claim = pipeline.ledger.claim(
        ClaimRequest(
            tenant_id=TENANT,
            key="k-dispatched",
            action_id=action_id,
            action_version=1,
            input_json=data,
            input_hash=input_hash(data),
            run_id=None,
            step_path=None,
            side_effectful=True,
            safe_to_repeat=action_id.endswith("idempotent"),
            max_attempts=3,
        ),
        "dead-worker",
    )
    assert isinstance(claim, Run)
    pipeline.ledger.mark_dispatched(claim.row, "dead-worker")
    harness.clock.advance(31)
    outcome = finished(pipeline.execute(task(key="k-dispatched", action_id=action_id)))
    assert outcome.row.status == expected
    if expected == "FAILED":
        assert outcome.row.error is not None
        assert outcome.row.error["code"] == "OUTCOME_UNKNOWN"
        assert harness.fake.count() == 0
    else:
        assert harness.fake.count("POST", "/v1/widgets") == 1


def test_a_request_lost_after_sending_is_outcome_unknown(harness: Harness) -> None:
    harness.fake.inject(Fault(disconnect=True), method="POST")
    outcome = finished(harness.pipeline().execute(task()))
    assert outcome.row.error is not None
    assert outcome.row.error["code"] == "OUTCOME_UNKNOWN"
    assert len(harness.fake.widgets_created()) == 1  # the vendor did act


def test_waiting_on_the_vendor_then_completing(harness: Harness) -> None:
    pipeline = harness.pipeline()
    job = task(key="job-1", action_id="widgets.jobs.run", input={"duration": 5, "check_every": 2})
    first = pipeline.execute(job)
    assert isinstance(first, Reschedule)
    assert first.reason == "waiting"
    assert first.countdown == 2
    row = pipeline.ledger.get(TENANT, "job-1")
    assert row is not None
    assert row.status == "WAITING"
    assert row.wait_state is not None
    assert row.wait_state["state"]["job_id"].startswith("j_")
    # A duplicate delivery before the check is due starts nothing.
    assert isinstance(pipeline.execute(job), Dropped)
    assert harness.fake.count("POST", "/v1/jobs") == 1
    harness.clock.advance(2)
    second = pipeline.execute(job)
    assert isinstance(second, Reschedule)
    harness.clock.advance(4)
    done = finished(pipeline.execute(job))
    assert done.row.status == "SUCCEEDED"
    assert done.row.output is not None
    assert done.row.output["status"] == "succeeded"
    assert done.row.attempt == 1
    assert harness.fake.count("POST", "/v1/jobs") == 1
    assert harness.fake.count("GET") == 2


def test_a_throttled_check_keeps_its_slot_and_uses_it_when_it_comes_back(
    harness: Harness,
) -> None:
    """A check the throttle defers holds the slot it was given, like a first delivery."""
    pipeline = harness.pipeline(rate_limit="1/10s")
    job = task(key="job-s", action_id="widgets.jobs.run", input={"duration": 1, "check_every": 2})
    assert isinstance(pipeline.execute(job), Reschedule)  # started: the tenant's one token
    harness.clock.advance(2)
    deferred = pipeline.execute(job)
    assert isinstance(deferred, Reschedule)
    assert deferred.reason == "waiting"
    row = pipeline.ledger.get(TENANT, "job-s")
    assert row is not None and row.wait_state is not None
    assert row.wait_state["kind"] == "check"
    assert row.wait_state["reserved_at"] is not None
    assert harness.fake.count("GET") == 0
    # Back at its slot it checks at once: asking the bucket again would be 10 s later.
    harness.clock.advance(deferred.countdown)
    done = finished(pipeline.execute(job))
    assert done.row.status == "SUCCEEDED"
    assert harness.fake.count("GET") == 1
    assert harness.fake.count("POST", "/v1/jobs") == 1


def test_a_wait_past_its_deadline_ends_as_timeout(harness: Harness) -> None:
    pipeline = harness.pipeline()
    job = task(
        key="job-t",
        action_id="widgets.jobs.run",
        input={"duration": 60, "check_every": 2, "timeout": 3},
    )
    assert isinstance(pipeline.execute(job), Reschedule)
    harness.clock.advance(2)
    second = pipeline.execute(job)
    assert isinstance(second, Reschedule)
    assert second.countdown <= 1.0  # never scheduled past the deadline
    harness.clock.advance(second.countdown)
    done = finished(pipeline.execute(job))
    assert done.row.error is not None
    assert done.row.error["code"] == "TIMEOUT"
    assert done.row.error["details"]["state"]["job_id"].startswith("j_")


def test_throttled_steps_are_deferred_without_counting_an_attempt(harness: Harness) -> None:
    pipeline = harness.pipeline(rate_limit="2/10s")
    finished(pipeline.execute(task(key="a")))
    deferred = pipeline.execute(task(key="b"))
    assert isinstance(deferred, Reschedule)
    assert deferred.reason == "throttled"
    assert deferred.countdown >= 5
    row = pipeline.ledger.get(TENANT, "b")
    assert row is not None
    assert (row.status, row.attempt) == ("WAITING", 1)
    assert harness.fake.count("POST", "/v1/widgets") == 1
    harness.clock.advance(deferred.countdown)
    done = finished(pipeline.execute(task(key="b")))
    assert (done.row.status, done.row.attempt) == ("SUCCEEDED", 1)


def test_the_throttle_defers_a_step_before_its_handler_reads_a_credential(
    harness: Harness,
) -> None:
    """A deferred delivery costs no connection look-up, secret or client: the slot comes first."""
    pipeline = harness.pipeline(rate_limit="2/10s")
    finished(pipeline.execute(task(key="a")))
    assert harness.store.secrets.delete(TENANT, SECRET)
    # Were the handler run, the missing key would fail the step; the throttle answers first.
    deferred = pipeline.execute(task(key="b"))
    assert isinstance(deferred, Reschedule)
    assert deferred.reason == "throttled"
    harness.store.secrets.set(TENANT, SECRET, SecretStr(CANARY_KEY))
    harness.clock.advance(deferred.countdown)
    done = finished(pipeline.execute(task(key="b")))
    assert (done.row.status, done.row.attempt) == ("SUCCEEDED", 1)
    # The slot taken before the handler ran was its one request's: no second token.
    assert harness.fake.count("POST", "/v1/widgets") == 2


def test_canary_secret_never_reaches_payloads_rows_or_logs(
    harness: Harness, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    # A vendor that echoes the credential back in its error message.
    harness.fake.inject(
        Fault(status=400, body={"message": f"bad request for key {CANARY_KEY}", "token": "x"})
    )
    outcome = finished(harness.pipeline().execute(task()))
    assert outcome.row.error is not None
    assert CANARY_KEY not in json.dumps(outcome.row.error)
    assert "[REDACTED]" in outcome.row.error["message"]
    with harness.store.sessions() as session:
        for row in session.query(WorkflowActionInvocation):
            dumped = json.dumps(
                [row.input_json, row.output_json, row.error_json, row.error_message], default=str
            )
            assert CANARY_KEY not in dumped
    assert CANARY_KEY not in caplog.text


def test_lease_is_renewed_while_a_long_step_runs(harness: Harness) -> None:
    ledger = harness.pipeline().ledger
    _claim(ledger, "long", "me")
    row = ledger.get(TENANT, "long")
    assert row is not None
    assert row.lease_expires_at is not None
    harness.clock.advance(20)
    assert ledger.renew(row, "me")
    renewed = ledger.get(TENANT, "long")
    assert renewed is not None
    assert renewed.lease_expires_at is not None
    assert renewed.lease_expires_at - row.lease_expires_at == timedelta(seconds=20)
    assert not ledger.renew(row, "someone-else")


def test_unknown_tenant_is_rejected(harness: Harness) -> None:
    outcome = harness.pipeline().execute(task(tenant="nobody"))
    assert isinstance(outcome, Rejected)
    assert outcome.payload["details"]["field"] == "tenant_id"


def test_a_transient_failure_of_a_check_checks_again_and_never_restarts_the_job(
    harness: Harness,
) -> None:
    pipeline = harness.pipeline()
    job = task(key="job-c", action_id="widgets.jobs.run", input={"duration": 4, "check_every": 2})
    assert isinstance(pipeline.execute(job), Reschedule)
    harness.clock.advance(2)
    harness.fake.inject(Fault(status=503, body={"message": "busy"}), method="GET")
    failed_check = pipeline.execute(job)
    assert isinstance(failed_check, Reschedule)
    assert failed_check.reason == "waiting"
    row = pipeline.ledger.get(TENANT, "job-c")
    assert row is not None
    assert row.wait_state is not None
    assert row.wait_state["kind"] == "check"
    harness.clock.advance(failed_check.countdown + 3)
    done = finished(pipeline.execute(job))
    assert done.row.status == "SUCCEEDED"
    assert harness.fake.count("POST", "/v1/jobs") == 1


def test_string_values_inside_json_secrets_are_redacted_on_their_own() -> None:
    from executor.payload import Redactor

    redactor = Redactor()
    redactor.add(json.dumps({"access_token": "at-CANARY-123", "refresh_token": "rt-CANARY-456"}))
    assert redactor.text("sent at-CANARY-123 and rt-CANARY-456") == "sent [REDACTED] and [REDACTED]"


CREATE_AFTER = "widgets.widgets.create_after"


def test_a_deferred_step_starts_over_when_due_and_runs_once(harness: Harness) -> None:
    pipeline = harness.pipeline()
    step = task(
        key="after-1",
        action_id=CREATE_AFTER,
        input={"name": "b", "after": "a", "check_every": 3},
    )
    first = pipeline.execute(step)
    assert isinstance(first, Reschedule)
    assert (first.reason, first.countdown) == ("waiting", 3)
    row = pipeline.ledger.get(TENANT, "after-1")
    assert row is not None
    assert (row.status, row.attempt) == ("WAITING", 1)
    assert row.wait_state is not None
    assert row.wait_state["kind"] == "deferred"
    assert row.history[-1]["wait"]["note"] == "waiting for widget 'a'"
    deadline = row.deadline_at
    assert deadline is not None
    # A duplicate before it is due starts nothing.
    assert isinstance(pipeline.execute(step), Dropped)
    harness.clock.advance(3)
    assert isinstance(pipeline.execute(step), Reschedule)
    again = pipeline.ledger.get(TENANT, "after-1")
    assert again is not None
    assert (again.status, again.attempt, again.deadline_at) == ("WAITING", 1, deadline)
    assert harness.fake.count("POST", "/v1/widgets") == 0
    finished(pipeline.execute(task(key="make-a", input={"name": "a"})))
    harness.clock.advance(3)
    done = finished(pipeline.execute(step))
    assert (done.row.status, done.row.attempt) == ("SUCCEEDED", 1)
    assert done.row.output is not None
    assert done.row.output["name"] == "b"
    assert [w["name"] for w in harness.fake.widgets_created()] == ["a", "b"]
    # A later copy replays the stored output.
    assert finished(pipeline.execute(step)).replayed


def test_a_deferred_step_past_its_deadline_ends_timeout_having_sent_nothing(
    harness: Harness,
) -> None:
    pipeline = harness.pipeline()
    step = task(
        key="after-t", action_id=CREATE_AFTER, input={"name": "b", "after": "a", "wait": 2.5}
    )
    outcome: object = pipeline.execute(step)
    for _ in range(10):
        if not isinstance(outcome, Reschedule):
            break
        assert outcome.countdown <= 1
        harness.clock.advance(outcome.countdown)
        outcome = pipeline.execute(step)
    done = finished(outcome)
    assert done.row.error is not None
    assert done.row.error["code"] == "TIMEOUT"
    assert "waiting for widget 'a'" in done.row.error["message"]
    assert harness.fake.count("POST", "/v1/widgets") == 0


def test_a_handler_asking_to_start_over_after_sending_ends_outcome_unknown(
    harness: Harness,
) -> None:
    pipeline = harness.pipeline()
    finished(pipeline.execute(task(key="make-a", input={"name": "a"})))
    step = task(
        key="after-bad",
        action_id=CREATE_AFTER,
        input={"name": "b", "after": "a", "rerun_after_sending": True},
    )
    done = finished(pipeline.execute(step))
    assert done.row.error is not None
    assert done.row.error["code"] == "OUTCOME_UNKNOWN"
    harness.clock.advance(5)
    assert finished(pipeline.execute(step)).replayed
    assert [w["name"] for w in harness.fake.widgets_created()] == ["a", "b"]


CREATE_NOTED = "widgets.widgets.create_noted"


def noted(harness: Harness) -> object:
    with harness.store.sessions() as session:
        row = session.scalars(
            select(RmmIntegration).where(
                RmmIntegration.tenant == TENANT, RmmIntegration.provider == "widgets"
            )
        ).one()
        return (row.settings or {}).get("last_widget")


def test_a_steps_writes_commit_with_its_success(harness: Harness) -> None:
    done = finished(
        harness.pipeline().execute(task(key="noted", action_id=CREATE_NOTED, input={"name": "a"}))
    )
    assert done.row.status == "SUCCEEDED"
    assert done.row.output is not None
    assert noted(harness) == done.row.output["widget_id"]


def test_a_step_that_fails_after_registering_a_write_writes_nothing(harness: Harness) -> None:
    step = task(key="noted-f", action_id=CREATE_NOTED, input={"name": "a", "then": "fail"})
    done = finished(harness.pipeline().execute(step))
    assert done.row.status == "FAILED"
    assert noted(harness) is None


def test_a_step_that_lost_its_lease_writes_nothing(harness: Harness) -> None:
    step = task(key="noted-l", action_id=CREATE_NOTED, input={"name": "a", "then": "lose_lease"})
    outcome = harness.pipeline().execute(step)
    assert isinstance(outcome, Dropped)
    assert noted(harness) is None
    row = harness.pipeline().ledger.get(TENANT, "noted-l")
    assert row is not None
    assert (row.status, row.lease_owner) == ("STARTED", "someone-else")


def test_a_failing_write_still_records_the_vendors_success(
    harness: Harness, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.ERROR)
    step = task(key="noted-b", action_id=CREATE_NOTED, input={"name": "a", "then": "bad_write"})
    done = finished(harness.pipeline().execute(step))
    assert done.row.status == "SUCCEEDED"
    assert noted(harness) is None
    assert "local writes failed (RuntimeError: the mirror table is gone)" in caplog.text
    assert len(harness.fake.widgets_created()) == 1
