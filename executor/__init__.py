"""The action executor: Celery tasks, the invocation pipeline and its ledger.

``executor.enqueue(...)`` and ``executor.result(...)`` use a process-wide
executor built from the environment; in embedded mode (``memory://`` broker)
it starts an in-process worker thread on first use. Importing this package
does not import Celery: vendor integrations import ``actionkit.errors`` only.
"""

from __future__ import annotations

import atexit
import threading
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from executor.api import Executor, InvocationHandle
    from executor.embedded import EmbeddedWorker
    from executor.results import InvocationResult

_lock = threading.Lock()
_default: Executor | None = None
_embedded: EmbeddedWorker | None = None


def configure(executor: Executor | None) -> None:
    """Set (or with None, reset) the process-wide executor."""
    global _default
    with _lock:
        _default = executor


def default() -> Executor:
    """The process-wide executor (from the environment on first use)."""
    global _default, _embedded
    with _lock:
        if _default is None:
            from executor.api import Executor
            from executor.app import ExecutorRuntime
            from executor.embedded import EmbeddedWorker

            runtime = ExecutorRuntime()
            runtime.store.ensure_schema(runtime.settings)
            _default = Executor(runtime)
            if runtime.settings.embedded and _embedded is None:
                _embedded = EmbeddedWorker(runtime.app).start()
                atexit.register(_embedded.stop)
        return _default


def enqueue(action_id: str, **kwargs: Any) -> InvocationHandle:
    """Validate and send one step (see ``executor.api.Executor.enqueue``)."""
    return default().enqueue(action_id, **kwargs)


def result(key: str, tenant_id: str) -> InvocationResult | None:
    """The step's outcome from the ledger, or None."""
    return default().result(key, tenant_id)
