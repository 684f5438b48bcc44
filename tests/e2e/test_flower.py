"""``patchbay flower`` and ``patchbay worker`` as real processes on Redis and PostgreSQL.

Flower with basic auth answers its HTTP API (and only with the right
credentials) without the password on its command line; a worker started with
``--hostname`` shows up under that name; prefork children inherit no database
connection from the worker's parent process.
"""

from __future__ import annotations

import os
import re
import secrets
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

import httpx
import pytest

from tests.e2e.conftest import ROOT, Cluster, WorkerProcess, stop_process

T = TypeVar("T")
POSTGRES_PORT = int(os.environ.get("PATCHBAY_TEST_POSTGRES_PORT", "5432"))


def wait_for(what: str, probe: Callable[[], T | None], timeout: float = 60.0) -> T:
    """Poll ``probe`` until it returns something other than None."""
    deadline = time.monotonic() + timeout
    while True:
        found = probe()
        if found is not None:
            return found
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.2)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class FlowerProcess:
    """``python -m patchbay flower`` on a free port, its output in a log file."""

    def __init__(self, env: dict[str, str], log: Path, *args: str) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = log
        self._handle = log.open("ab")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "patchbay", "flower", f"--port={self.port}", *args],
            cwd=ROOT,
            env=env,
            stdout=self._handle,
            stderr=subprocess.STDOUT,
        )

    def wait_ready(self) -> None:
        def answers() -> bool | None:
            if self.proc.poll() is not None:
                raise AssertionError(f"flower exited: {self.log.read_text()[-2000:]}")
            try:
                return httpx.get(f"{self.url}/healthcheck", timeout=2).status_code == 200 or None
            except httpx.TransportError:
                return None

        wait_for("flower to answer", answers)

    def stop(self) -> None:
        stop_process(self.proc)
        self._handle.close()


@pytest.fixture
def password() -> str:
    return f"pw-CANARY-{secrets.token_urlsafe(12)}"


@pytest.fixture
def flower(cluster: Cluster, tmp_path: Path, password: str) -> Iterator[FlowerProcess]:
    auth = tmp_path / "flower.auth"
    auth.write_text(f"ops:{password}\nbackup:{password}-2\n")
    auth.chmod(0o600)
    env = {k: v for k, v in cluster.env.items() if not k.startswith("FLOWER_")}
    proc = FlowerProcess(env, cluster.logs / "flower.log", f"--basic-auth-file={auth}")
    try:
        proc.wait_ready()
        yield proc
    finally:
        proc.stop()


def test_flower_with_basic_auth_serves_its_api_only_to_the_right_credentials(
    flower: FlowerProcess, password: str
) -> None:
    ok = httpx.get(f"{flower.url}/api/workers", auth=("ops", password), timeout=30)
    assert ok.status_code == 200, ok.text
    assert isinstance(ok.json(), dict)
    # Every entry of the file is accepted.
    other = httpx.get(f"{flower.url}/api/workers", auth=("backup", f"{password}-2"), timeout=30)
    assert other.status_code == 200
    assert httpx.get(f"{flower.url}/api/workers", timeout=30).status_code == 401
    wrong = httpx.get(f"{flower.url}/api/workers", auth=("ops", "not-it"), timeout=30)
    assert wrong.status_code == 401
    # The UI is behind the same credentials.
    assert httpx.get(f"{flower.url}/", timeout=30).status_code == 401
    # Nothing another user may read shows the password: not argv (ps), and
    # not the environment the process started with either.
    pid = flower.proc.pid
    cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
    assert b"flower" in cmdline
    assert password.encode() not in cmdline
    assert password.encode() not in Path(f"/proc/{pid}/environ").read_bytes()
    ps = subprocess.run(["ps", "-ww", "-o", "args=", "-p", str(pid)], capture_output=True)
    assert b"flower" in ps.stdout
    assert password.encode() not in ps.stdout
    assert password not in flower.log.read_text()


def test_flower_without_auth_warns_that_its_api_answers_401(cluster: Cluster) -> None:
    env = {k: v for k, v in cluster.env.items() if not k.startswith("FLOWER_")}
    env.pop("PATCHBAY_FLOWER_BASIC_AUTH", None)
    proc = FlowerProcess(env, cluster.logs / "flower-open.log")
    try:
        proc.wait_ready()
        assert httpx.get(f"{proc.url}/api/workers", timeout=30).status_code == 401
        warnings = [
            line
            for line in proc.log.read_text().splitlines()
            if line.startswith("warning:") and "401" in line
        ]
        assert len(warnings) == 1
        assert "PATCHBAY_FLOWER_BASIC_AUTH" in warnings[0]
        assert "--basic-auth-file" in warnings[0]
    finally:
        proc.stop()


def test_the_auth_setting_is_used_when_there_is_no_file(cluster: Cluster, password: str) -> None:
    env = {k: v for k, v in cluster.env.items() if not k.startswith("FLOWER_")}
    env["PATCHBAY_FLOWER_BASIC_AUTH"] = f"ops:{password}"
    proc = FlowerProcess(env, cluster.logs / "flower-env.log")
    try:
        proc.wait_ready()
        url = f"{proc.url}/api/workers"
        assert httpx.get(url, auth=("ops", password), timeout=30).status_code == 200
        assert httpx.get(url, timeout=30).status_code == 401
        assert password.encode() not in Path(f"/proc/{proc.proc.pid}/cmdline").read_bytes()
        assert "warning:" not in proc.log.read_text()
    finally:
        proc.stop()


def test_a_named_prefork_worker_is_listed_and_its_children_share_no_db_connection(
    cluster: Cluster, flower: FlowerProcess, password: str
) -> None:
    name = f"pb-{uuid.uuid4().hex[:8]}"
    worker = WorkerProcess(
        cluster.env,
        cluster.logs / f"{name}.log",
        name,
        argv=[
            sys.executable,
            "-m",
            "patchbay",
            "worker",
            f"--hostname={name}@%h",
            "--pool=prefork",
            "--concurrency=2",
        ],
    )
    cluster.workers.append(worker)
    worker.wait_ready()

    def listed() -> dict[str, Any] | None:
        answer = httpx.get(
            f"{flower.url}/api/workers",
            params={"refresh": "1"},
            auth=("ops", password),
            timeout=30,
        )
        names = answer.json() if answer.status_code == 200 else {}
        return names if any(n.startswith(f"{name}@") for n in names) else None

    workers = wait_for("the worker in Flower", listed)
    assert f"{name}@{socket.gethostname()}" in workers

    parent = worker.proc.pid
    children = wait_for("two pool processes", lambda: child_pids(parent) or None)
    parent_sockets = postgres_sockets(parent)
    for child in children:
        inherited = postgres_sockets(child) & parent_sockets
        assert not inherited, f"pool process {child} shares database sockets with its parent"


def child_pids(parent: int) -> list[int] | None:
    """The processes whose parent is ``parent``; None until there are at least two."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        # pid (comm) state ppid ...: comm may hold spaces, so split after ')'.
        if int(stat.rpartition(")")[2].split()[1]) == parent:
            found.append(int(entry.name))
    return found if len(found) >= 2 else None


def postgres_sockets(pid: int) -> set[int]:
    """Inodes of the TCP sockets ``pid`` holds open to the PostgreSQL port."""
    remote = {
        int(fields[9])
        for table in ("tcp", "tcp6")
        for fields in (
            line.split() for line in Path(f"/proc/{pid}/net/{table}").read_text().splitlines()[1:]
        )
        if int(fields[2].rpartition(":")[2], 16) == POSTGRES_PORT
    }
    held = set()
    for fd in Path(f"/proc/{pid}/fd").iterdir():
        try:
            target = os.readlink(fd)
        except OSError:
            continue
        match = re.fullmatch(r"socket:\[(\d+)\]", target)
        if match:
            held.add(int(match.group(1)))
    return remote & held
