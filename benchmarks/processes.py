"""Processes a benchmark starts (workers, a server): each with its log, stopped the same way."""

from __future__ import annotations

import subprocess
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import ExitStack, contextmanager
from pathlib import Path


def stop_processes(procs: Sequence[subprocess.Popen[bytes]], timeout: float = 30) -> None:
    """SIGTERM each (a warm shutdown), wait up to ``timeout`` s, then SIGKILL what still runs."""
    for proc in procs:
        if proc.poll() is None:
            proc.terminate()
    for proc in procs:
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(10)


@contextmanager
def processes(
    argvs: Sequence[Sequence[str]],
    *,
    cwd: Path,
    env: Mapping[str, str],
    logs: Sequence[Path],
    ready: bytes | None = None,
    ready_within: float = 90,
) -> Iterator[list[subprocess.Popen[bytes]]]:
    """Start one process per argv, its output in the log beside it; stopped on exit.

    ``ready``: wait until every log shows it (``RuntimeError`` after ``ready_within`` s).
    """
    with ExitStack() as stack:
        procs: list[subprocess.Popen[bytes]] = []
        stack.callback(stop_processes, procs)
        for argv, log_path in zip(argvs, logs, strict=True):
            log = stack.enter_context(log_path.open("wb"))
            procs.append(
                subprocess.Popen(
                    list(argv), cwd=cwd, env=dict(env), stdout=log, stderr=subprocess.STDOUT
                )
            )
        if ready is not None:
            deadline = time.monotonic() + ready_within
            while not all(ready in path.read_bytes() for path in logs):
                if time.monotonic() > deadline:
                    raise RuntimeError(f"not ready within {ready_within:g} s: see {logs}")
                time.sleep(0.2)
        yield procs
