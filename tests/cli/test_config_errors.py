"""Configuration problems: one line ``error: ...`` saying what to do, exit 2, no traceback."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis

from store.db import make_engine

PASSWORD = "CANARY-db-password-5e1"


def patchbay(tmp_path: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    """``patchbay ARGS`` with only the given PATCHBAY_* settings (data dir under tmp_path)."""
    clean = {k: v for k, v in os.environ.items() if not k.startswith("PATCHBAY_")}
    clean["PATCHBAY_DATA_DIR"] = str(tmp_path / "data")
    return subprocess.run(
        [str(Path(sys.executable).parent / "patchbay"), *args],
        capture_output=True,
        text=True,
        env={**clean, **env},
        check=False,
    )


def one_line(done: subprocess.CompletedProcess[str]) -> str:
    """The single stderr line of a command that exited 2."""
    assert done.returncode == 2, done.stderr
    lines = done.stderr.splitlines()
    assert len(lines) == 1, done.stderr
    assert lines[0].startswith("error: ")
    assert PASSWORD not in done.stderr + done.stdout
    return lines[0]


def postgres(database: str, *, port: int = 5432, password: str = "") -> str:
    userinfo = f"postgres:{password}" if password else "postgres"
    return f"postgresql+psycopg://{userinfo}@127.0.0.1:{port}/{database}"


def test_a_database_that_does_not_exist(tmp_path: Path) -> None:
    name = f"patchbay_missing_{uuid.uuid4().hex[:8]}"
    line = one_line(patchbay(tmp_path, "tenant", "list", PATCHBAY_DATABASE_URL=postgres(name)))
    assert f'the database "{name}" does not exist on 127.0.0.1:5432' in line
    assert f"createdb -h 127.0.0.1 -p 5432 {name}" in line
    assert "patchbay db upgrade" in line


def test_a_server_that_refuses_connections(tmp_path: Path) -> None:
    url = postgres("patchbay", port=1, password=PASSWORD)
    line = one_line(patchbay(tmp_path, "db", "current", PATCHBAY_DATABASE_URL=url))
    assert "the database server at 127.0.0.1:1 refused the connection" in line


@pytest.mark.parametrize("scheme", ["postgres", "postgresql"])
def test_a_driverless_postgres_url_means_psycopg(scheme: str) -> None:
    engine = make_engine(f"{scheme}://postgres@127.0.0.1:5432/test")
    try:
        assert engine.dialect.driver == "psycopg"
    finally:
        engine.dispose()


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("mysql://root@127.0.0.1/patchbay", "names mysql://, which patchbay cannot use"),
        ("not a url", "PATCHBAY_DATABASE_URL is not a database URL"),
    ],
)
def test_a_database_url_patchbay_cannot_use(tmp_path: Path, url: str, expected: str) -> None:
    line = one_line(patchbay(tmp_path, "tenant", "list", PATCHBAY_DATABASE_URL=url))
    assert expected in line
    assert "postgresql+psycopg://" in line


def test_a_data_dir_that_cannot_be_written(tmp_path: Path) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    line = one_line(patchbay(tmp_path, "tenant", "list", PATCHBAY_DATA_DIR=str(blocker / "data")))
    assert f"cannot write to {blocker / 'data'}" in line
    assert "PATCHBAY_DATA_DIR" in line


def schedule_entry(tmp_path: Path) -> str:
    """Input for ``scheduling.create_entry`` in tenant acme (created, with a technician)."""
    assert patchbay(tmp_path, "tenant", "create", "acme").returncode == 0
    user = patchbay(tmp_path, "user", "add", "tech", "--tenant", "acme", "--technician")
    return (
        f'{{"assigned_user_ids": ["{user.stdout.strip()}"], "title": "x", '
        '"window": {"start": "2030-01-01T09:00:00Z", "end": "2030-01-01T10:00:00Z"}}'
    )


def test_a_broker_that_does_not_answer(tmp_path: Path) -> None:
    entry = schedule_entry(tmp_path)
    done = patchbay(
        tmp_path,
        "run",
        "scheduling.create_entry",
        "--tenant",
        "acme",
        "--input",
        entry,
        "--no-wait",
        PATCHBAY_BROKER_URL=f"redis://:{PASSWORD}@127.0.0.1:1/0",
    )
    line = one_line(done)
    assert "the broker at 127.0.0.1:1 does not answer" in line
    assert "nothing was sent" in line


@pytest.fixture
def idle_broker() -> Iterator[str]:
    """A Redis database no worker consumes (its own db number, emptied after)."""
    base = os.environ.get("PATCHBAY_TEST_REDIS_URL", "redis://127.0.0.1:6379/12")
    url = base.rsplit("/", 1)[0] + "/15"
    client = redis.Redis.from_url(url)
    client.flushdb()
    try:
        yield url
    finally:
        client.flushdb()
        client.close()


def test_run_says_when_no_worker_consumes_the_queue(tmp_path: Path, idle_broker: str) -> None:
    entry = schedule_entry(tmp_path)
    done = patchbay(
        tmp_path,
        "run",
        "scheduling.create_entry",
        "--tenant",
        "acme",
        "--input",
        entry,
        "--key",
        "idle-1",
        PATCHBAY_BROKER_URL=idle_broker,
    )
    line = one_line(done)
    assert line == (
        "error: no worker is consuming queue patchbay.core: start `patchbay worker` "
        "(step idle-1 stays queued and runs when a worker starts)"
    )
    # Still queued: its message waits in the broker for a worker.
    assert redis.Redis.from_url(idle_broker).llen("patchbay.core") == 1
