"""What callers read back: an invocation's outcome, from the ledger."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict

from executor.ledger import RowSnapshot

# Statuses whose row carries an error payload to show: the failure itself, the
# failure a scheduled retry follows, or who cancelled the step.
_WITH_ERROR = ("FAILED", "WAITING", "CANCELLED")


class InvocationResult(BaseModel):
    """The state of one step as recorded in the ledger.

    ``final`` is True once the outcome is settled (SUCCEEDED, CANCELLED, or
    FAILED with no retry scheduled). A FAILED result with ``error.retryable``
    may still be retried by enqueueing the same key again. ``replayed``: the
    key was sent again after its step had ended, so nothing ran this time.
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
    updated_at: datetime | None = None
    replayed: bool = False
    waiting_for: str | None = None
    """What a ``WAITING`` step waits for, in words (e.g. "agent X is offline ..."); else None."""

    @property
    def succeeded(self) -> bool:
        return self.status == "SUCCEEDED"


class StepDetail(InvocationResult):
    """One step in full (``patchbay step show``): its input, wait and attempt history.

    The input is the validated input the ledger stores (secrets are never
    inputs: actions read them from the tenant's secret store).
    """

    input: dict[str, Any] | None
    wait: dict[str, Any] | None
    started_at: datetime | None
    next_check_at: datetime | None
    deadline_at: datetime | None
    history: list[dict[str, Any]]


# What a wait of each kind is for, when its step gave no note.
_WAIT_WORDS = {
    "check": "the vendor to finish",
    "throttled": "the vendor's rate limit",
    "deferred": "the step to start again",
}


def _waiting_for(row: RowSnapshot) -> str | None:
    if row.status != "WAITING":
        return None
    wait = (row.history[-1].get("wait") if row.history else None) or {}
    if wait.get("note"):
        return str(wait["note"])
    return _WAIT_WORDS.get(str((row.wait_state or {}).get("kind")))


def _fields(row: RowSnapshot) -> dict[str, Any]:
    return {
        "key": row.key,
        "tenant_id": row.tenant_id,
        "action_id": row.action_id,
        "version": row.action_version,
        "status": row.status,
        "final": row.final,
        "attempt": row.attempt,
        "output": row.output if row.status == "SUCCEEDED" else None,
        "error": row.error if row.status in _WITH_ERROR else None,
        "run_id": row.run_id,
        "step_path": row.step_path,
        "created_at": row.created_at,
        "completed_at": row.completed_at,
        "updated_at": row.updated_at,
        "waiting_for": _waiting_for(row),
    }


def outcome_from_row(row: RowSnapshot, *, replayed: bool = False) -> InvocationResult:
    """The public view of a ledger row (no input, no lease internals)."""
    return InvocationResult(**_fields(row), replayed=replayed)


def detail_from_row(row: RowSnapshot) -> StepDetail:
    """Everything an operator may see of a step (no lease internals)."""
    wait = None
    if row.status == "WAITING" and row.wait_state:
        wait = {"kind": row.wait_state.get("kind"), "state": row.wait_state.get("state") or {}}
    return StepDetail(
        **_fields(row),
        input=row.input_json,
        wait=wait,
        started_at=row.started_at,
        next_check_at=row.next_check_at,
        deadline_at=row.deadline_at,
        history=[dict(entry) for entry in row.history],
    )


def replay_line(result: InvocationResult) -> str:
    """The one line saying a sent key found its step already ended and nothing ran."""
    at = result.completed_at or result.updated_at
    when = f" at {at.isoformat(timespec='seconds')}" if at is not None else ""
    return f"replayed: step {result.key} already {result.status}{when}; nothing ran"
