"""``patchbay run`` progress: the lines a step's states give, and when they are printed."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest
from typer.testing import CliRunner

from patchbay.cli import app
from patchbay.cli.progress import StepState, progress_lines
from sandbox.core import Fault
from sandbox.widgets import FakeWidgets
from tests.executor.conftest import CANARY_KEY, TENANT

T0 = datetime(2030, 1, 1, 9, 0, 0, tzinfo=UTC)


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def test_a_failing_step_that_is_retried_then_waits_on_the_vendor() -> None:
    retry = StepState("WAITING", 1, "retry", at(4.2), "VENDOR_UNAVAILABLE")
    snapshots = [
        (StepState("QUEUED", 0), at(0)),
        (StepState("STARTED", 1), at(0.1)),
        (retry, at(0.2)),
        (retry, at(1.5)),  # the same state read again: no new line
        (StepState("STARTED", 2), at(4.3)),
        (StepState("WAITING", 2, "check", at(10)), at(5)),
        (StepState("WAITING", 2, "throttled", at(72)), at(6)),
        (StepState("SUCCEEDED", 2), at(73)),
    ]
    assert progress_lines(snapshots, UTC) == [
        "queued: waiting for a worker",
        "attempt 1: running",
        "attempt 1 failed (VENDOR_UNAVAILABLE): retry in 4 s",
        "attempt 2: running",
        "attempt 2: waiting on the vendor (next check in 5 s)",
        "throttled until 09:01:12",
    ]


@pytest.fixture(autouse=True)
def quick_retries(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATCHBAY_RETRY_BACKOFF", "0.6")


def run_failing_once(cli: CliRunner, fake: FakeWidgets, key: str, *flags: str) -> tuple[str, str]:
    """``patchbay run`` of a step whose first attempt gets a 503; (stdout, stderr)."""
    fake.inject(Fault(status=503, body={"error": "unavailable"}))
    result = cli.invoke(
        app,
        [
            "run",
            "widgets.widgets.create_idempotent",
            "--tenant",
            TENANT,
            "--input",
            '{"name": "p"}',
            "--key",
            key,
            *flags,
        ],
    )
    assert result.exit_code == 0, result.stderr
    assert json.loads(result.stdout)["attempt"] == 2
    return result.stdout, result.stderr


def test_progress_on_stderr_when_asked(cli: CliRunner, fake: FakeWidgets) -> None:
    _, err = run_failing_once(cli, fake, "progress-1", "--progress")
    lines = err.splitlines()
    retry = [line for line in lines if "attempt 1 failed (TRANSIENT_FAILURE): retry in" in line]
    assert retry and retry[0].startswith("progress-1: ")
    assert CANARY_KEY not in err


def test_quiet_when_stderr_is_not_a_terminal(cli: CliRunner, fake: FakeWidgets) -> None:
    # CliRunner's stderr is not a TTY: the default is no progress, as when piped.
    assert run_failing_once(cli, fake, "quiet-1")[1] == ""
    assert run_failing_once(cli, fake, "quiet-2", "--no-progress")[1] == ""
