"""The Celery app for the ``celery`` command line, built from the environment.

    celery -A executor.worker worker --queues patchbay.ninjaone,patchbay.core
    celery -A executor.worker flower

Importing this module builds the app (settings, catalog); nothing else does.
``patchbay worker`` and ``patchbay flower`` do the same with checks first.
"""

from __future__ import annotations

from executor.app import ExecutorRuntime

runtime = ExecutorRuntime()
app = runtime.app
