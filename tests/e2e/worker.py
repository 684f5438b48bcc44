"""A real Celery worker process serving the test integration (widgets).

Started by the end-to-end tests: ``python -m tests.e2e.worker --name w1``.
Settings come from PATCHBAY_* in the environment, like ``patchbay worker``.
"""

from __future__ import annotations

import argparse
import os

from executor.app import ExecutorRuntime
from tests.executor.widgets_integration import widgets_catalog


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--name", default="w1")
    parser.add_argument("--pool", default="threads")
    parser.add_argument("--concurrency", type=int, default=4)
    args = parser.parse_args()
    runtime = ExecutorRuntime(catalog=widgets_catalog(os.environ.get("E2E_WIDGETS_LIMIT")))
    runtime.app.worker_main(
        [
            "worker",
            f"--hostname={args.name}@%h",
            f"--pool={args.pool}",
            f"--concurrency={args.concurrency}",
            "--queues=patchbay.widgets,patchbay.core",
            "--loglevel=INFO",
            "--without-gossip",
            "--without-mingle",
            "--task-events",
            *(
                [f"--max-tasks-per-child={os.environ['E2E_MAX_TASKS_PER_CHILD']}"]
                if os.environ.get("E2E_MAX_TASKS_PER_CHILD")
                else []
            ),
        ]
    )


if __name__ == "__main__":
    main()
