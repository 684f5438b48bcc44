"""``benchmarks.pools`` in short: threads and prefork at concurrency 2, every step once.

Outcomes and shape only, never timing: every step of each run SUCCEEDED once
in the ledger and reached the fake vendor once, each run has its figures,
and the benchmark's schema is dropped afterwards.
"""

from __future__ import annotations

import io
import json
import os
from contextlib import redirect_stdout
from typing import Any

import pytest
from sqlalchemy import create_engine, text

from benchmarks.executor import POSTGRES_URL
from benchmarks.pools import format_table, main, well_formed

REDIS_URL = os.environ.get("PATCHBAY_TEST_REDIS_URL", "redis://127.0.0.1:6379/11")


@pytest.fixture(scope="module")
def report() -> dict[str, Any]:
    """One quick run of the benchmark, as ``--json`` prints it."""
    out = io.StringIO()
    with redirect_stdout(out):
        code = main(["--quick", "--pools", "threads,prefork", "--redis-url", REDIS_URL, "--json"])
    data: dict[str, Any] = json.loads(out.getvalue())
    assert code == 0, data
    return data


def test_every_step_succeeded_exactly_once(report: dict[str, Any]) -> None:
    assert [(r["variant"], r["concurrency"]) for r in report["runs"]] == [
        ("threads", 2),
        ("prefork", 2),
    ]
    for run in report["runs"]:
        assert run["completed"] and run["exactly_once"], run
        assert run["ledger"]["rows"] == run["ledger"]["keys"] == run["steps"]
        assert run["ledger"]["SUCCEEDED"] == run["steps"]
        assert run["vendor_creates"] == run["steps"] and run["vendor_duplicates"] == 0
        assert run["errors"] == []


def test_the_report_is_well_formed(report: dict[str, Any]) -> None:
    assert well_formed(report)
    threads, prefork = report["runs"]
    assert threads["processes"] == 1
    assert prefork["processes"] == 3  # the parent and its two children
    for run in report["runs"]:
        assert run["ideal_per_s"] == run["concurrency"] / report["vendor_delay_s"]
        for key in ("actions_per_s", "ratio", "worker_cpu_pct", "pss_idle_mb", "pss_load_mb"):
            assert isinstance(run[key], float) and run[key] > 0, key
    assert set(report["summary"]) == {"threads", "prefork"}
    table = format_table(report)
    assert "threads" in table and "prefork" in table and "actions/s" in table


def test_the_benchmark_schema_is_dropped(report: dict[str, Any]) -> None:
    engine = create_engine(POSTGRES_URL)
    with engine.connect() as conn:
        left = conn.execute(
            text("SELECT 1 FROM information_schema.schemata WHERE schema_name = :s"),
            {"s": report["schema"]},
        ).all()
    engine.dispose()
    assert report["schema"].startswith("pbbench_") and left == []
