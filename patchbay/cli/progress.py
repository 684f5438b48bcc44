"""What ``patchbay run`` says on a terminal while it waits for a step.

Read from the step's ledger row at each poll: queued, running (attempt N),
retry in N s after a failure (with its error code), waiting on the vendor,
throttled until a time. A line is printed when that state changes, not at
every poll. ``progress_lines`` is the pure part (row snapshots in, lines
out); ``ProgressReporter`` writes them to stderr.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, tzinfo
from typing import Any, TextIO


@dataclass(frozen=True)
class StepState:
    """What progress reads of a ledger row (``executor.ledger.RowSnapshot``)."""

    status: str
    attempt: int
    wait_kind: str | None = None
    next_check_at: datetime | None = None
    error_code: str | None = None

    @classmethod
    def of(cls, row: Any) -> StepState:
        """The state of a ledger row (anything with the ``RowSnapshot`` fields)."""
        wait_kind = (row.wait_state or {}).get("kind") if row.status == "WAITING" else None
        error_code = (row.error or {}).get("code") if row.status == "WAITING" else None
        return cls(
            status=row.status,
            attempt=row.attempt,
            wait_kind=wait_kind,
            next_check_at=row.next_check_at if row.status == "WAITING" else None,
            error_code=error_code,
        )


def describe(state: StepState, now: datetime, local: tzinfo | None = None) -> str | None:
    """One line for a step's state at ``now``; None once it is final (the outcome says it)."""
    attempt = f"attempt {state.attempt}"
    due = state.next_check_at
    seconds = max(0, math.ceil((due - now).total_seconds())) if due is not None else None
    match state.status:
        case "QUEUED":
            return "queued: waiting for a worker"
        case "STARTED":
            return f"{attempt}: running"
        case "WAITING" if state.wait_kind == "retry":
            code = f" ({state.error_code})" if state.error_code else ""
            when = f"retry in {seconds} s" if seconds is not None else "retry scheduled"
            return f"{attempt} failed{code}: {when}"
        case "WAITING" if state.wait_kind == "check":
            when = f" (next check in {seconds} s)" if seconds is not None else ""
            return f"{attempt}: waiting on the vendor{when}"
        case "WAITING" if state.wait_kind == "throttled":
            if due is None:
                return "throttled by the vendor's rate limit"
            return f"throttled until {due.astimezone(local).strftime('%H:%M:%S')}"
        case "WAITING":
            return f"{attempt}: waiting"
    return None


def progress_lines(
    snapshots: Iterable[tuple[StepState, datetime]], local: tzinfo | None = None
) -> list[str]:
    """The lines a sequence of (state, time read) snapshots gives: one per change of state."""
    lines: list[str] = []
    last: StepState | None = None
    for state, now in snapshots:
        if state == last:
            continue
        last = state
        line = describe(state, now, local)
        if line is not None:
            lines.append(line)
    return lines


class ProgressReporter:
    """Writes a step's progress lines to ``stream`` as its state changes (see the module doc)."""

    def __init__(self, stream: TextIO, *, key: str, local: tzinfo | None = None) -> None:
        self.stream = stream
        self.key = key
        self.local = local
        self._last: StepState | None = None

    def update(self, row: Any, now: datetime) -> None:
        """Look at the step's row as just read; print a line if its state changed."""
        if row is None:
            return
        state = StepState.of(row)
        for line in progress_lines([(state, now)], self.local) if state != self._last else []:
            self.stream.write(f"{self.key}: {line}\n")
            self.stream.flush()
        self._last = state
