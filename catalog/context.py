"""What a handler receives besides its input.

The executor builds the concrete context; integrations only see this protocol,
so no integration imports the executor or Celery.
"""

from __future__ import annotations

from typing import Protocol


class ActionContext(Protocol):
    """The invocation a handler runs in."""

    @property
    def tenant_id(self) -> str: ...

    @property
    def action_id(self) -> str: ...

    @property
    def idempotency_key(self) -> str: ...

    @property
    def run_id(self) -> str | None: ...

    @property
    def step_path(self) -> str | None: ...

    @property
    def attempt(self) -> int: ...
