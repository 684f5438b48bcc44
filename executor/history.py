"""A step's attempt history: the entries the ledger keeps in its ``history`` column.

One entry per attempt of a phase (``start``, ``check``, ``reconcile``), plus one
per operator action (phase ``operator``)::

    {"attempt": 2, "phase": "start", "worker": "host:pid:1a2b3c4d",
     "started_at": "2026-11-28T12:00:00+00:00", "ended_at": "...",
     "result": "WAITING", "wait": {"kind": "retry", "due_at": "..."},
     "error": {"code": "RATE_LIMITED", "message": "..."}}

``result`` says how the entry ended: ``SUCCEEDED``, ``FAILED``, ``WAITING``
(``wait.kind`` retry, check or throttled, with the due time), ``LOST`` (the
worker's lease expired: another worker took the step over, or ended it),
``CANCELLED`` or ``OPERATOR_RETRY``; an entry still running has none. The
error is the code and message of the payload the pipeline stored, which is
already redacted: nothing here ever sees an unredacted error.

Every function is pure: the ledger computes the new list from the row it
holds and writes it in the same guarded statement as the transition, so the
history costs no extra round trip and cannot race. Only the last
``MAX_ENTRIES`` entries are kept.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any, Literal

MAX_ENTRIES = 50
# An error message in an entry is cut to this many characters (the row keeps it whole).
MAX_MESSAGE = 300

Entry = dict[str, Any]
Ending = Literal["SUCCEEDED", "FAILED", "WAITING", "LOST"]
OperatorAction = Literal["CANCELLED", "OPERATOR_RETRY"]


def _capped(entries: list[Entry]) -> list[Entry]:
    return entries[-MAX_ENTRIES:]


def _error_of(payload: dict[str, Any] | None) -> dict[str, Any] | None:
    if not payload:
        return None
    return {"code": payload.get("code"), "message": str(payload.get("message", ""))[:MAX_MESSAGE]}


def _close_open(entries: list[Entry], at: datetime, result: str, **more: Any) -> list[Entry]:
    """``entries`` with the entry still running (the last one, if any) ended as ``result``."""
    if not entries or "result" in entries[-1]:
        return entries
    last = {**entries[-1], "ended_at": at.isoformat(), "result": result}
    last.update({k: v for k, v in more.items() if v is not None})
    return [*entries[:-1], last]


def begin(
    history: Sequence[Entry],
    *,
    attempt: int,
    phase: str,
    worker: str,
    at: datetime,
    takeover: bool = False,
) -> list[Entry]:
    """Open an entry for ``worker`` running ``phase``; a running entry left open is ``LOST``."""
    closed = _close_open(list(history), at, "LOST", note=f"taken over by {worker}")
    entry: Entry = {
        "attempt": attempt,
        "phase": phase,
        "worker": worker,
        "started_at": at.isoformat(),
    }
    if takeover:
        entry["takeover"] = True
    return _capped([*closed, entry])


def end(
    history: Sequence[Entry],
    *,
    result: Ending,
    at: datetime,
    error: dict[str, Any] | None = None,
    wait: dict[str, Any] | None = None,
    note: str | None = None,
) -> list[Entry]:
    """End the running entry as ``result`` with the (redacted) error payload and wait."""
    more = {"error": _error_of(error), "wait": wait, "note": note}
    return _capped(_close_open(list(history), at, result, **more))


def operator(
    history: Sequence[Entry], *, action: OperatorAction, by: str, at: datetime, attempt: int
) -> list[Entry]:
    """Record an operator's action (``patchbay step cancel`` / ``retry``) as an entry of its own."""
    entry: Entry = {
        "attempt": attempt,
        "phase": "operator",
        "worker": by,
        "started_at": at.isoformat(),
        "ended_at": at.isoformat(),
        "result": action,
    }
    return _capped([*_close_open(list(history), at, "LOST"), entry])


def wait_of(kind: str, due_at: datetime, note: str | None = None) -> dict[str, Any]:
    """What a ``WAITING`` entry waited for: the kind of wait and when the step is due."""
    wait: dict[str, Any] = {"kind": kind, "due_at": due_at.isoformat()}
    if note:
        wait["note"] = note[:MAX_MESSAGE]
    return wait
