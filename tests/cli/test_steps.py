"""``patchbay invocations`` and ``patchbay step show|cancel|retry``, as a user types them.

Steps run through the embedded worker against the FakeWidgets server (its
request log says what reached the vendor); each test runs on SQLite and
PostgreSQL.
"""

from __future__ import annotations

import json
import threading
from typing import Any

import pytest
from celery.signals import task_postrun
from typer.testing import CliRunner

from executor.api import Executor
from executor.app import ExecutorRuntime
from executor.embedded import EmbeddedWorker
from executor.ledger import ClaimRequest, Ledger, input_hash
from executor.settings import Settings
from sandbox.core import Fault
from sandbox.widgets import FakeWidgets
from store import Store
from store.models import INVOCATION_STATUSES
from store.tenants import create_tenant
from tests.cli.support import invoke
from tests.executor.conftest import CANARY_KEY, TENANT

CREATE = "widgets.widgets.create"
JOB = "widgets.jobs.run"
# A job far longer than any test, checked rarely: the step stays WAITING.
LONG_JOB = '{"duration": 3000, "check_every": 3000}'


def run(cli: CliRunner, key: str, *, action: str = CREATE, data: str = '{"name": "cli"}') -> Any:
    code, out, err = invoke(cli, "run", action, "--tenant", TENANT, "--input", data, "--key", key)
    assert code in (0, 1), err
    return json.loads(out)


def show(cli: CliRunner, key: str) -> Any:
    code, out, err = invoke(cli, "step", "show", key, "--tenant", TENANT, "--json")
    assert code == 0, err
    return json.loads(out)


def operate(cli: CliRunner, command: str, key: str, tenant: str = TENANT) -> tuple[int, str, str]:
    """``patchbay step cancel|retry KEY`` (a retry confirmed with ``--yes``)."""
    confirm = ("--yes",) if command == "retry" else ()
    return invoke(cli, "step", command, key, "--tenant", tenant, *confirm)


def one_line(err: str) -> str:
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert "Traceback" not in err
    return lines[0]


# -- invocations -------------------------------------------------------------------------


def test_invocations_filters_by_status_time_and_count(cli: CliRunner, fake: FakeWidgets) -> None:
    run(cli, "ok-1")
    for key in ("bad-1", "bad-2"):
        fake.inject(Fault(status=422, body={"error": "invalid", "message": "name is taken"}))
        assert run(cli, key)["status"] == "FAILED"
    code, out, err = invoke(
        cli, "invocations", "--tenant", TENANT, "--status", "FAILED", "--since", "1h",
        "--limit", "1", "--json",
    )  # fmt: skip
    assert code == 0, err
    (row,) = json.loads(out)
    assert (row["key"], row["status"]) == ("bad-2", "FAILED")
    assert row["error"]["code"] == "VENDOR_ERROR"
    assert row["updated_at"] is not None
    code, out, _ = invoke(
        cli, "invocations", "--tenant", TENANT, "--status", "failed,succeeded", "--json"
    )
    assert sorted(r["key"] for r in json.loads(out)) == ["bad-1", "bad-2", "ok-1"]
    code, out, _ = invoke(cli, "invocations", "--tenant", TENANT, "--since", "2999-01-01T00:00")
    assert (code, out.strip()) == (0, f"No steps of {TENANT} match.")


def test_invocations_shows_output_values_and_errors_within_80_columns(
    cli: CliRunner, fake: FakeWidgets
) -> None:
    long_key = "run-2026-11-28:root.steps[12].branches[3]:widgets.widgets.create@1"
    created = run(cli, long_key, data='{"name": "printer", "color": "teal"}')
    fake.inject(Fault(status=422, body={"error": "invalid", "message": "name is taken"}))
    run(cli, "bad-1")
    code, out, _ = invoke(cli, "invocations", "--tenant", TENANT)
    assert code == 0
    assert max(len(line) for line in out.splitlines()) <= 80
    assert f"widget_id={created['output']['widget_id']}" in out
    assert "name=printer" in out
    assert "VENDOR_ERROR" in out
    code, out, _ = invoke(cli, "invocations", "--tenant", TENANT, "--wide")
    assert long_key in out
    assert "color=teal" in out


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ("--status", "DONE"),
            f"error: --status: unknown status 'DONE' (known: {', '.join(INVOCATION_STATUSES)})",
        ),
        (("--status", "FAILED,nope"), "error: --status: unknown status 'nope'"),
        (("--since", "yesterday"), "error: --since: expected an ISO time"),
        (("--since", "5x"), "error: --since: expected an ISO time"),
        (("--limit", "0"), "error: --limit must be more than 0, not 0"),
        (("--limit", "-3"), "error: --limit must be more than 0, not -3"),
        (("--limit", "many"), "error: Invalid value for '--limit'"),
    ],
)
def test_invocations_bad_options_are_one_line_exit_2(
    cli: CliRunner, args: tuple[str, ...], message: str
) -> None:
    code, out, err = invoke(cli, "invocations", "--tenant", TENANT, *args)
    assert code == 2
    assert one_line(err).startswith(message)
    assert out == ""


# -- replayed outcomes ------------------------------------------------------------------


def test_a_replayed_key_says_nothing_ran(cli: CliRunner, fake: FakeWidgets) -> None:
    code, _, err = invoke(cli, "run", CREATE, "-t", TENANT, "-i", '{"name": "a"}', "--key", "k1")
    assert code == 0
    assert "replayed" not in err
    code, out, err = invoke(cli, "run", CREATE, "-t", TENANT, "-i", '{"name": "a"}', "--key", "k1")
    assert code == 0
    outcome = json.loads(out)
    assert outcome["replayed"] is True
    completed = outcome["completed_at"].split(".")[0].removesuffix("+00:00")
    assert one_line(err).startswith(f"replayed: step k1 already SUCCEEDED at {completed}")
    assert one_line(err).endswith("; nothing ran")
    assert fake.count("POST", "/v1/widgets") == 1


# -- step show ----------------------------------------------------------------------------


def test_step_show_prints_the_step_and_its_attempts(cli: CliRunner, fake: FakeWidgets) -> None:
    fake.inject(Fault(status=429, body={"message": "slow down"}, headers={"Retry-After": "0"}))
    outcome = run(cli, "shown", data='{"name": "shown"}')
    assert outcome["status"] == "SUCCEEDED"
    code, out, err = invoke(cli, "step", "show", "shown", "--tenant", TENANT)
    assert code == 0, err
    assert "widgets.widgets.create@1" in out
    assert "SUCCEEDED (attempt 2)" in out
    assert 'input      {"color": null, "name": "shown"}' in out
    assert f"widget_id={outcome['output']['widget_id']}" in out
    assert "RATE_LIMITED" in out
    assert max(len(line) for line in out.splitlines()) <= 80
    detail = show(cli, "shown")
    assert [(e["attempt"], e["result"]) for e in detail["history"]] == [
        (1, "WAITING"),
        (2, "SUCCEEDED"),
    ]
    assert detail["history"][0]["wait"]["kind"] == "retry"
    assert detail["input"] == {"name": "shown", "color": None}
    assert CANARY_KEY not in out


def test_an_unknown_or_foreign_key_is_one_line_exit_2(cli: CliRunner, store: Store) -> None:
    run(cli, "mine")
    with store.sessions.begin() as session:
        create_tenant(session, "globex")
    code, out, err = invoke(cli, "step", "show", "nope", "--tenant", TENANT)
    assert (code, one_line(err), out) == (2, f"error: no step 'nope' for tenant {TENANT}", "")
    for command in ("show", "cancel", "retry"):
        code, out, err = operate(cli, command, "mine", tenant="globex")
        assert (code, one_line(err)) == (2, "error: no step 'mine' for tenant globex")
        assert "widgets" not in out
    code, _, err = invoke(cli, "step", "show", "mine", "--tenant", "nobody")
    assert code == 2
    assert "nobody" in one_line(err)


# -- step cancel ------------------------------------------------------------------------


def test_cancel_a_waiting_step_and_its_recheck_calls_no_vendor(
    cli: CliRunner, fake: FakeWidgets, settings: Settings
) -> None:
    code, _, err = invoke(
        cli, "run", JOB, "--tenant", TENANT, "--input", LONG_JOB, "--key", "job-c",
        "--timeout", "2",
    )  # fmt: skip
    assert code == 1
    assert "(WAITING)" in err
    assert fake.count("POST", "/v1/jobs") == 1
    code, out, err = invoke(cli, "step", "cancel", "job-c", "--tenant", TENANT)
    assert code == 0, err
    assert out.startswith("cancelled: step job-c: cancelled by ")
    assert out.rstrip().endswith(
        "UTC while WAITING; the vendor may still finish the job the step started"
    )
    detail = show(cli, "job-c")
    assert (detail["status"], detail["final"], detail["error"]["code"]) == (
        "CANCELLED",
        True,
        "CANCELLED",
    )
    assert detail["completed_at"] is not None
    assert detail["history"][-1]["result"] == "CANCELLED"
    # The step's re-check message arrives (as the broker would deliver it when due).
    deliver_again(settings, "job-c")
    assert show(cli, "job-c")["status"] == "CANCELLED"
    # Sending the key again answers the stored outcome.
    code, out, err = invoke(
        cli, "run", JOB, "--tenant", TENANT, "--input", LONG_JOB, "--key", "job-c"
    )
    assert code == 1
    assert json.loads(out)["status"] == "CANCELLED"
    assert one_line(err).startswith("replayed: step job-c already CANCELLED at ")
    assert fake.count("GET") == 0
    assert fake.count() == 1


def deliver_again(settings: Settings, key: str) -> None:
    """Publish the step's message once more and wait until a worker has handled it."""
    runtime = ExecutorRuntime(settings)
    handled = threading.Event()
    task_id = f"{TENANT}/{key}"

    def done(task_id: str = "", **_: Any) -> None:
        if task_id == f"{TENANT}/{key}":
            handled.set()

    task_postrun.connect(done, weak=False)
    worker = EmbeddedWorker(runtime.app).start()
    try:
        row = runtime.pipeline.ledger.get(TENANT, key)
        assert row is not None
        assert Executor(runtime).republish(row)
        assert handled.wait(20), f"{task_id} was not handled"
    finally:
        task_postrun.disconnect(done)
        worker.stop()
        runtime.close()


def claim_request(key: str) -> ClaimRequest:
    data = {"name": "queued", "color": None}
    return ClaimRequest(
        tenant_id=TENANT,
        key=key,
        action_id=CREATE,
        action_version=1,
        input_json=data,
        input_hash=input_hash(data),
        run_id=None,
        step_path=None,
        side_effectful=True,
        safe_to_repeat=False,
        max_attempts=5,
    )


def test_cancel_a_queued_step(cli: CliRunner, fake: FakeWidgets, store: Store) -> None:
    ledger = Ledger(store.engine, lease_seconds=60)
    assert ledger.record_queued(claim_request("q1")) is not None
    code, out, err = invoke(cli, "step", "cancel", "q1", "--tenant", TENANT)
    assert code == 0, err
    assert out.startswith("cancelled: step q1: cancelled by ")
    assert out.rstrip().endswith(" UTC while QUEUED")
    code, out, err = invoke(
        cli, "run", CREATE, "--tenant", TENANT, "--input", '{"name": "queued"}', "--key", "q1"
    )
    assert (code, json.loads(out)["status"]) == (1, "CANCELLED")
    assert fake.count() == 0


@pytest.mark.parametrize("command", ["cancel", "retry"])
def test_a_succeeded_step_cannot_be_cancelled_or_retried(
    cli: CliRunner, fake: FakeWidgets, command: str
) -> None:
    run(cli, "done-1")
    code, _, err = operate(cli, command, "done-1")
    assert code == 2
    assert one_line(err) == f"error: step done-1 already SUCCEEDED; nothing to {command}"
    assert show(cli, "done-1")["status"] == "SUCCEEDED"
    assert fake.count("POST", "/v1/widgets") == 1


# -- step retry ---------------------------------------------------------------------------


def test_retry_an_outcome_unknown_step_with_yes(cli: CliRunner, fake: FakeWidgets) -> None:
    fake.inject(Fault(status=502, body={"message": "upstream trouble"}))
    assert run(cli, "unknown-1")["error"]["code"] == "OUTCOME_UNKNOWN"
    code, out, err = invoke(cli, "step", "retry", "unknown-1", "--tenant", TENANT, "--yes")
    assert code == 0, err
    assert (
        "warning: step unknown-1 ended OUTCOME_UNKNOWN: its side effect may already have "
        "happened at the vendor" in err
    )
    assert "retrying: step unknown-1" in err
    outcome = json.loads(out)
    assert (outcome["status"], outcome["attempt"]) == ("SUCCEEDED", 1)
    assert fake.count("POST", "/v1/widgets") == 2
    history = show(cli, "unknown-1")["history"]
    assert [(e["phase"], e["result"]) for e in history] == [
        ("start", "FAILED"),
        ("operator", "OPERATOR_RETRY"),
        ("start", "SUCCEEDED"),
    ]
    assert history[1]["started_at"]


def test_retry_without_yes_and_no_terminal_is_refused(cli: CliRunner, fake: FakeWidgets) -> None:
    fake.inject(Fault(status=502, body={"message": "upstream trouble"}))
    run(cli, "unknown-2")
    code, out, err = invoke(cli, "step", "retry", "unknown-2", "--tenant", TENANT)
    assert code == 2
    assert one_line(err) == (
        "error: step retry asks for confirmation: pass --yes to run step unknown-2 again"
    )
    assert out == ""
    assert show(cli, "unknown-2")["status"] == "FAILED"
    assert fake.count("POST", "/v1/widgets") == 1


def test_retry_a_cancelled_step_runs_it_again(cli: CliRunner, fake: FakeWidgets) -> None:
    code, _, _ = invoke(
        cli, "run", JOB, "--tenant", TENANT, "--input", LONG_JOB, "--key", "job-r",
        "--timeout", "2",
    )  # fmt: skip
    assert code == 1
    assert invoke(cli, "step", "cancel", "job-r", "--tenant", TENANT)[0] == 0
    code, out, err = invoke(
        cli, "step", "retry", "job-r", "--tenant", TENANT, "--yes", "--timeout", "1"
    )
    assert (code, out) == (1, "")
    assert err.splitlines() == [
        "retrying: step job-r (queued again with a fresh attempt budget)",
        "error: step 'job-r' is not final after 1s (WAITING)",
    ]
    assert fake.count("POST", "/v1/jobs") == 2
    assert show(cli, "job-r")["status"] == "WAITING"
    assert invoke(cli, "step", "cancel", "job-r", "--tenant", TENANT)[0] == 0
