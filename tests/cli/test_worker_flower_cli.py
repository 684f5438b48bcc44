"""patchbay worker / flower options that are checked before anything starts.

The processes themselves (Flower's auth, a named prefork worker) are tested
end to end in tests/e2e/test_flower.py.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from patchbay.cli import app

SECRET = "hunter2-CANARY-9d1"


@pytest.fixture
def runner(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> CliRunner:
    """A shared-broker configuration; nothing is contacted before the options are refused."""
    for name in ("PATCHBAY_FLOWER_BASIC_AUTH", "FLOWER_BASIC_AUTH"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("PATCHBAY_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("PATCHBAY_BROKER_URL", "redis://127.0.0.1:1/0")
    return CliRunner()


def refused(runner: CliRunner, *args: str) -> str:
    result = runner.invoke(app, ["flower", *args])
    assert result.exit_code == 2, result.output
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert SECRET not in result.output
    return lines[0]


def test_an_unreadable_auth_file_exits_2(runner: CliRunner, tmp_path: Path) -> None:
    line = refused(runner, f"--basic-auth-file={tmp_path / 'missing'}")
    assert "--basic-auth-file" in line
    assert "cannot read" in line


@pytest.mark.parametrize(
    "content",
    ["", "\n,\n", SECRET, f"ops:{SECRET}\n{SECRET}", f":{SECRET}", "ops:", f"ops:{SECRET},x:"],
)
def test_a_malformed_auth_file_exits_2_without_showing_it(
    runner: CliRunner, tmp_path: Path, content: str
) -> None:
    path = tmp_path / "auth"
    path.write_text(content)
    line = refused(runner, f"--basic-auth-file={path}")
    assert "user:password" in line


def test_a_malformed_auth_setting_exits_2_without_showing_it(
    runner: CliRunner, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PATCHBAY_FLOWER_BASIC_AUTH", SECRET)
    line = refused(runner)
    assert "PATCHBAY_FLOWER_BASIC_AUTH" in line
    assert "user:password" in line


def test_worker_and_flower_document_their_options(runner: CliRunner) -> None:
    worker = runner.invoke(app, ["worker", "--help"])
    assert worker.exit_code == 0
    assert "--hostname" in worker.output
    assert "celery@%h" in worker.output
    flower = runner.invoke(app, ["flower", "--help"])
    assert flower.exit_code == 0
    assert "--basic-auth-file" in flower.output
    assert "PATCHBAY_FLOWER_BASIC_AUTH" in flower.output


@pytest.mark.parametrize("pool", ["gevent", "eventlet", "nonsense"])
def test_a_pool_the_executor_cannot_run_in_is_refused(runner: CliRunner, pool: str) -> None:
    result = runner.invoke(app, ["worker", "--pool", pool])
    assert result.exit_code == 2, result.output
    line = result.stderr.strip()
    assert len(line.splitlines()) == 1
    assert f"--pool {pool!r} is not supported" in line
    assert "threads, prefork, solo" in line


def test_a_concurrency_below_one_is_refused(runner: CliRunner) -> None:
    result = runner.invoke(app, ["worker", "--concurrency", "0"])
    assert result.exit_code == 2, result.output
    assert "--concurrency must be at least 1" in result.stderr
