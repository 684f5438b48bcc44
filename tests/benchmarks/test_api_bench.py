"""``benchmarks.api`` in short: every phase with a few requests, its report well-formed.

Counts and outcomes only, never timing: every request counted and answered as
expected (200 over HTTP, 202 for a step, the library's own answer in-process),
each accepted step in the ledger and in the queue once, nothing left queued,
and the benchmark's schema dropped afterwards.
"""

from __future__ import annotations

import io
import json
import math
import os
from contextlib import redirect_stdout
from typing import Any

import pytest
from sqlalchemy import create_engine, text

from benchmarks.api import format_table, main, well_formed
from benchmarks.palette import POSTGRES_URL

REDIS_URL = os.environ.get("PATCHBAY_TEST_REDIS_URL", "redis://127.0.0.1:6379/11")
REQUESTS, WARMUP, CLIENTS = 6, 2, (1, 3)


@pytest.fixture(scope="module")
def report() -> dict[str, Any]:
    """One short run of the benchmark, as ``--json`` prints it."""
    return run_main(
        "--requests",
        str(REQUESTS),
        "--warmup",
        str(WARMUP),
        "--concurrency",
        ",".join(map(str, CLIENTS)),
        "--tenants",
        "10",
        "--redis-url",
        REDIS_URL,
        "--json",
    )


def run_main(*argv: str) -> dict[str, Any]:
    out = io.StringIO()
    with redirect_stdout(out):
        code = main(list(argv))
    report: dict[str, Any] = json.loads(out.getvalue())
    assert code == 0, report
    return report


def phases(report: dict[str, Any], part: str) -> list[tuple[int, dict[str, Any]]]:
    """(clients, summary) of every phase of ``part``, the in-process baseline first."""
    section = report[part]
    return [(1, section["in_process"])] + [(int(c), m) for c, m in section["http"].items()]


@pytest.mark.parametrize(("part", "http_answer"), [("palette", "200"), ("steps", "202")])
def test_every_request_is_counted_and_answered_as_expected(
    report: dict[str, Any], part: str, http_answer: str
) -> None:
    assert [int(c) for c in report[part]["http"]] == list(CLIENTS)
    for i, (clients, m) in enumerate(phases(report, part)):
        answer = "ok" if i == 0 else http_answer
        assert m["concurrency"] == clients
        assert m["requests"] == REQUESTS * clients
        assert m["outcomes"] == {answer: REQUESTS * clients}
        assert m["warmup_requests"] == WARMUP * clients
        assert m["unexpected"] == 0
        assert 0 < m["p50_ms"] <= m["p99_ms"]
        assert m["per_second"] > 0
        # The server's CPU is known for the HTTP phases only (Linux /proc).
        assert (m["server_cpu_cores"] is None) == (i == 0)


def test_every_accepted_step_is_in_the_ledger_and_queued_once_then_purged(
    report: dict[str, Any],
) -> None:
    steps = report["steps"]
    accepted = sum((REQUESTS + WARMUP) * clients for clients, _ in phases(report, "steps"))
    assert steps["accepted"] == steps["ledger_rows"] == steps["queued_before_purge"] == accepted
    assert steps["left_queued"] == 0


def test_the_ratios_are_http_over_in_process(report: dict[str, Any]) -> None:
    for part in ("palette", "steps"):
        base = report[part]["in_process"]
        for c, ratio in report[part]["http_over_in_process"].items():
            http = report[part]["http"][c]
            assert set(ratio) == {"per_second", "p50", "p99"}
            assert all(math.isfinite(v) and v > 0 for v in ratio.values())
            assert ratio["per_second"] == pytest.approx(
                http["per_second"] / base["per_second"], rel=0.01
            )
    assert well_formed(report)


def test_the_table_shows_every_phase_and_ratio(report: dict[str, Any]) -> None:
    table = format_table(report)
    assert table.count("GET /v1/palette") == 2 * len(CLIENTS)
    assert table.count("POST /v1/steps") == 2 * len(CLIENTS)
    assert "palette() in-process" in table
    assert "Executor.enqueue in-process" in table
    assert "left queued after purging 0" in table


def test_the_benchmark_schema_is_dropped(report: dict[str, Any]) -> None:
    admin = create_engine(POSTGRES_URL)
    try:
        with admin.connect() as conn:
            found = conn.execute(
                text("SELECT 1 FROM pg_namespace WHERE nspname = :s"), {"s": report["schema"]}
            ).first()
    finally:
        admin.dispose()
    assert found is None
