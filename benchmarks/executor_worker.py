"""A worker process for ``benchmarks.executor``: the widgets test integration plus two baselines.

``bench.noop`` is bare Celery: a task that does nothing. ``bench.shaped`` is
the Celery side of a step without the step: the options of a
``patchbay.run.*`` task (bound, late ack, time limits, the tenant-checking
request), a step's message, and a result the size and shape of a step's
outcome, but no ledger, no vendor call.

``BENCH_VENDOR=inprocess`` answers vendor calls in-process with a stateless
transport (measures the pipeline, not HTTP or a fake's bookkeeping);
otherwise the tenant's instance URL is used (a fake served by the driver).
``BENCH_NO_THROTTLE=1`` turns the shared throttle off, leaving only Celery's
per-worker ``rate_limit``.
"""

from __future__ import annotations

import argparse
import json
import os
from datetime import UTC, datetime
from typing import Any

import httpx

from executor.app import ExecutorRuntime
from executor.results import InvocationResult
from tests.executor.widgets_integration import PROVIDER, widgets_catalog

BENCH_KEYS = {"bench-key-acme-0001": "acct-acme", "bench-key-globex-002": "acct-globex"}


def _created(request: httpx.Request) -> httpx.Response:
    body = json.loads(request.content)
    return httpx.Response(201, json={"id": "w_1", "name": body["name"], "color": None})


def build_runtime() -> ExecutorRuntime:
    transports: dict[str, Any] = {}
    if os.environ.get("BENCH_VENDOR") == "inprocess":
        # A stateless vendor: the worker's memory is measured, not a fake's log.
        transports[PROVIDER] = httpx.MockTransport(_created)
    runtime = ExecutorRuntime(
        catalog=widgets_catalog(os.environ.get("BENCH_LIMIT")), transports=transports
    )

    @runtime.app.task(name="bench.noop", shared=False, acks_late=True)
    def noop() -> None:
        """The baseline: a task that does nothing, through the same broker and worker."""

    @runtime.app.task(name="bench.shaped", **runtime.task_options(PROVIDER))
    def shaped(
        task: Any,
        *,
        action_id: str,
        version: int,
        tenant_id: str,
        input: Any,
        run_id: str | None = None,
        step_path: str | None = None,
    ) -> dict[str, Any]:
        """The Celery side of a step alone: its task's options, message and outcome's shape."""
        key = str(task.request.id).split("/", 1)[1]
        now = datetime.now(UTC)
        return InvocationResult(
            key=key,
            tenant_id=tenant_id,
            action_id=action_id,
            version=version,
            status="SUCCEEDED",
            final=True,
            attempt=1,
            output={"widget_id": "w_1", "name": input["name"], "color": None},
            error=None,
            run_id=run_id,
            step_path=step_path,
            created_at=now,
            completed_at=now,
            updated_at=now,
        ).model_dump(mode="json")

    if os.environ.get("BENCH_NO_THROTTLE") == "1":
        runtime.pipeline.throttle.limits.clear()
    return runtime


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--name", default="bench")
    parser.add_argument("--concurrency", type=int, default=4)
    parser.add_argument("--pool", default="threads", help="threads, prefork, solo")
    args = parser.parse_args()
    runtime = build_runtime()
    runtime.app.worker_main(
        [
            "worker",
            f"--hostname={args.name}@%h",
            f"--pool={args.pool}",
            f"--concurrency={args.concurrency}",
            "--queues=patchbay.widgets,patchbay.core,bench",
            "--loglevel=WARNING",
            "--without-gossip",
            "--without-mingle",
        ]
    )


if __name__ == "__main__":
    main()
