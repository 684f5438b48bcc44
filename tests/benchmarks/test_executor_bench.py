"""``benchmarks.executor`` in short: the pipeline part through a real worker, every action once.

Shape and outcomes only, never speed: the run reports its figures only when
every action it timed SUCCEEDED (a rate of failing steps measures nothing; the
benchmark once timed steps its URL policy refused), on Redis and on RabbitMQ.
"""

from __future__ import annotations

import io
import json
import os
from contextlib import redirect_stdout

import pytest

from benchmarks.executor import main

REDIS_URL = os.environ.get("PATCHBAY_TEST_REDIS_URL", "redis://127.0.0.1:6379/11")


@pytest.mark.parametrize("broker", ["redis", "rabbitmq"])
def test_a_short_pipeline_run_succeeds_every_action(broker: str) -> None:
    out = io.StringIO()
    with redirect_stdout(out):
        main(
            [
                "--only=pipeline",
                f"--broker={broker}",
                f"--redis-url={REDIS_URL}",
                "--batch=20",
                "--batches=2",
            ]
        )
    report = json.loads(out.getvalue())
    assert report["broker"] == broker
    part = report["pipeline_and_memory"]
    assert part["pool"] == "threads"
    assert part["actions_succeeded"] == 100 + 20 * 2
    assert part["noop_tasks_per_s"] > 0 and part["actions_per_s"] > 0
    assert part["shaped_tasks_per_s"] > 0
    assert part["actions_over_noop"] == pytest.approx(
        part["actions_per_s"] / part["noop_tasks_per_s"], abs=0.002
    )
    assert part["shaped_over_noop"] == pytest.approx(
        part["shaped_tasks_per_s"] / part["noop_tasks_per_s"], abs=0.002
    )
    assert set(part["rss_kb_after"]) == {"120", "140"}
    assert all(kb > 10_000 for kb in part["rss_kb_after"].values())
