"""``benchmarks.hotpath`` in short: its counts are the hot path's, its report well-formed.

Statement counts are behaviour (the same on any machine); the rates and the
profile are only checked for shape, never for speed.
"""

from __future__ import annotations

import io
import json
from contextlib import redirect_stdout

import pytest

from benchmarks.hotpath import KINDS, main


def test_a_short_run_counts_every_kind_and_profiles_a_step() -> None:
    out = io.StringIO()
    with redirect_stdout(out):
        assert main(["--steps", "5", "--json"]) == 0
    report = json.loads(out.getvalue())

    assert report["round_trips_warm"] == {
        "read-only": 2,
        "side-effectful": 3,
        "waiting re-check": 3,
        "replayed duplicate": 2,
    }
    cold = report["round_trips_cold"]
    assert set(cold) == set(KINDS)
    # After a change the connection row and the key are read again, once.
    assert cold["read-only"] == 4 and cold["side-effectful"] == 5
    assert all(rate > 0 for rate in report["steps_per_s"].values())
    profile = report["profile"]
    assert profile["cpu_ms_per_step"] > 0
    assert "sqlalchemy" in profile["by_package"]
    assert 0 < len(profile["top_functions"]) <= 12
    bare = report["floor"]
    # The floor replays the step's own statements: as many as it counts warm.
    assert bare["statements_per_step"] == 3
    assert all(
        bare[name] > 0
        for name in (
            "step_cpu_ms",
            "statements_cpu_ms",
            "request_cpu_ms",
            "bare_round_trips_cpu_ms",
        )
    )
    assert bare["floor_over_step"] == pytest.approx(
        (bare["statements_cpu_ms"] + bare["request_cpu_ms"]) / bare["step_cpu_ms"], abs=0.01
    )
