"""What callers read back: an invocation's outcome, from the ledger."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict

from executor.ledger import RowSnapshot


class InvocationResult(BaseModel):
    """The state of one step as recorded in the ledger.

    ``final`` is True once the outcome is settled (SUCCEEDED, or FAILED with no
    retry scheduled). A FAILED result with ``error.retryable`` may still be
    retried by enqueueing the same key again.
    """

    model_config = ConfigDict(frozen=True)

    key: str
    tenant_id: str
    action_id: str
    version: int
    status: str
    final: bool
    attempt: int
    output: dict[str, Any] | None
    error: dict[str, Any] | None
    run_id: str | None
    step_path: str | None
    created_at: datetime
    completed_at: datetime | None

    @property
    def succeeded(self) -> bool:
        return self.status == "SUCCEEDED"


def outcome_from_row(row: RowSnapshot) -> InvocationResult:
    """The public view of a ledger row (no input, no lease internals)."""
    return InvocationResult(
        key=row.key,
        tenant_id=row.tenant_id,
        action_id=row.action_id,
        version=row.action_version,
        status=row.status,
        final=row.final,
        attempt=row.attempt,
        output=row.output if row.status == "SUCCEEDED" else None,
        error=row.error if row.status in ("FAILED", "WAITING") else None,
        run_id=row.run_id,
        step_path=row.step_path,
        created_at=row.created_at,
        completed_at=row.completed_at,
    )
